"""Distributed training under ``torchrun``: process group, device, DDP/FSDP wrapping, reductions.

``torchrun --nproc-per-node N -m svtk train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; without
them (or with WORLD_SIZE=1) everything here is a no-op single process. Backend: nccl on GPU, gloo
on CPU. Only rank 0 writes files; the others follow its decisions (:func:`broadcast_object`).

Usage::

    dist = setup(cfg.distributed, device="auto")
    model = wrap(model, dist, cfg.distributed)
    total = all_reduce_sum(torch.tensor([loss_sum, tokens]), dist)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from svtk.training.config import DistributedConfig

log = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: Any = "cpu"
    # True when this module created the process group (and so destroys it at the end)
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str, local_rank: int = 0) -> Any:
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        device = f"cuda:{local_rank}"
    return torch.device(device)


def setup(cfg: DistributedConfig, device: str = "auto") -> DistInfo:
    """Join the process group ``torchrun`` describes in the environment (if any)."""
    import torch
    import torch.distributed as tdist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    dev = resolve_device(device, local_rank)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world <= 1:
        return DistInfo(device=dev)
    owns = False
    if not tdist.is_initialized():
        backend = cfg.backend if cfg.backend != "auto" else ("nccl" if dev.type == "cuda" else "gloo")
        tdist.init_process_group(backend=backend, rank=rank, world_size=world)
        owns = True
    log.info("rank %d/%d on %s (%s)", rank, world, dev, tdist.get_backend())
    return DistInfo(rank=rank, world_size=world, local_rank=local_rank, device=dev, owns_group=owns)


def cleanup(dist: DistInfo) -> None:
    import torch.distributed as tdist

    if dist.owns_group and tdist.is_initialized():
        tdist.destroy_process_group()


def wrap(model: Any, dist: DistInfo, cfg: DistributedConfig) -> Any:
    """DDP or FSDP around ``model`` (already on its device); the model itself when single."""
    if not dist.enabled:
        return model
    if cfg.strategy == "fsdp":
        return _fully_shard(model, dist)
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(model, device_ids=[dist.device] if dist.device.type == "cuda" else None,
               find_unused_parameters=cfg.find_unused_parameters)


def _fully_shard(model: Any, dist: DistInfo) -> Any:
    """FSDP2 (per-parameter sharding; frozen and trainable parameters mix freely; runs on CPU
    with gloo too). Each block class a transformers model lists in ``_no_split_modules`` (e.g.
    T5Block, LlamaDecoderLayer) becomes its own shard unit, then the whole model."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(dist.device.type, (dist.world_size,))
    blocks = set()
    for m in model.modules():
        blocks.update(getattr(m, "_no_split_modules", None) or [])
    for m in list(model.modules()):
        if type(m).__name__ in blocks and any(True for _ in m.parameters()):
            fully_shard(m, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def is_sharded(dist: DistInfo, cfg: DistributedConfig) -> bool:
    return dist.enabled and cfg.strategy == "fsdp"


def unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


def all_reduce_sum(t: Any, dist: DistInfo) -> Any:
    """Sum a tensor over ranks (in place, returned)."""
    if dist.enabled:
        import torch.distributed as tdist

        tdist.all_reduce(t, op=tdist.ReduceOp.SUM)
    return t


def broadcast_object(obj: Any, dist: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not dist.enabled:
        return obj
    import torch.distributed as tdist

    box = [obj]
    tdist.broadcast_object_list(box, src=0)
    return box[0]


def gather_object(obj: Any, dist: DistInfo) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not dist.enabled:
        return [obj]
    import torch.distributed as tdist

    out: list[Any] = [None] * dist.world_size
    tdist.all_gather_object(out, obj)
    return out


def barrier(dist: DistInfo) -> None:
    if dist.enabled:
        import torch.distributed as tdist

        tdist.barrier()
