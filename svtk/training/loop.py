"""The training loop: one curriculum phase, from config to ``exp/<tag>/<phase>/``.

Reads the task cuts named by ``data`` and, for a phase with ``init_from``, the previous phase's
``model.safetensors``. Writes into ``exp/<tag>/<phase>/``: ``config.yaml``/``cmd.sh``/
``run_info.json`` (self-describing), ``metrics.jsonl`` and ``tensorboard/`` (curves),
``checkpoints/`` (last K + best, exact resume), ``model.safetensors`` (final weights: best by
validation loss, else last), ``model/`` (a loadable directory when the model has
``save_pretrained``), and the stage marker ``.train.done``.

The loss is normalised by the *global* number of target tokens of the update (all micro-batches,
all ranks; or of items, with ``loss_norm: items``), so one process with ``accum_grad=W`` and W
DDP ranks compute the same update. Validation losses and the logged curves are per token either
way. A step whose loss or gradient norm is not finite is skipped and counted; ``nan_tolerance``
such steps in a row abort the phase with :class:`TrainingDiverged`.

Usage::

    result = train_phase(cfg, "phase1", "exp/mini", resume=False, force=False)
"""

from __future__ import annotations

import contextlib
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from svtk.config import config_hash
from svtk.errors import UserError
from svtk.training import checkpoint as ck
from svtk.training import distributed as D
from svtk.training.config import TrainConfig
from svtk.training.curriculum import apply_trainable, count_params, init_from_phase
from svtk.training.data import PhaseData
from svtk.training.metrics import MetricsLog
from svtk.training.objectives import batch_tasks, batch_to, build_model, output_fields

log = logging.getLogger(__name__)

STAGE = "train"
FINAL_DIR = "model"
FULL_WEIGHTS = "model-full.safetensors"


class TrainingDiverged(UserError, RuntimeError):
    """Too many consecutive non-finite losses: the phase stops rather than train on garbage."""


@dataclass
class LoopState:
    """Everything the loop counts, saved in each checkpoint."""

    step: int = 0                 # optimizer updates done
    epoch: int = 0                # epoch of the next batch
    batches_in_epoch: int = 0     # batches of that epoch this rank consumed
    best_valid: float = math.inf
    best_step: int = -1
    bad_valids: int = 0           # validations since the last improvement
    nan_streak: int = 0           # consecutive skipped (non-finite) steps
    skipped: int = 0              # skipped steps in total
    items: int = 0                # items trained on, all ranks
    elapsed: float = 0.0          # training seconds over all runs of the phase
    stopped_early: bool = False


@dataclass
class PhaseResult:
    phase_dir: Path
    steps: int = 0
    best_valid: float | None = None
    best_step: int | None = None
    skipped: int = 0
    stopped_early: bool = False
    already_done: bool = False
    trainable: list[str] = field(default_factory=list)
    weights: Path | None = None


def _autocast(device: Any, precision: str) -> Any:
    import torch

    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if not use_bf16:
        return contextlib.nullcontext()
    if device.type == "cpu":
        log.warning("bf16 autocast on CPU is very slow; use precision: fp32 there")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _decide(stage: Any, phase_dir: Path, view_hash: str, resume: bool, force: bool
            ) -> tuple[str, Any]:
    """Rank 0: ("done" | "fresh" | "resume", checkpoint) or ("error", message)."""
    try:
        if stage.is_done():
            return "done", None
    except UserError as e:  # StageMismatch: raised again, same type, on every rank
        return "error", e
    latest = ck.latest_checkpoint(phase_dir)
    if latest is not None and resume:
        import json

        meta = json.loads((latest / ck.META).read_text())
        if meta.get("config_hash") != view_hash and not force:
            return "error", (f"{latest} was written with another config; cannot --resume it "
                             f"(use --force without --resume to start the phase over)")
        return "resume", str(latest)
    if latest is not None and not force:
        return "error", (f"{phase_dir} holds checkpoints of an unfinished run (up to "
                         f"{latest.name}); pass --resume to continue it or --force to start over")
    if resume:
        log.info("nothing to resume in %s; starting the phase from scratch", phase_dir)
    return "fresh", None


class _Phase:
    """One run of a phase on one rank (state shared by the loop's helpers)."""

    def __init__(self, cfg: TrainConfig, name: str, exp_dir: Path, dist: D.DistInfo):
        self.cfg, self.name, self.dist = cfg, name, dist
        self.p = cfg.phase(name)
        self.exp_dir = exp_dir
        self.dir = exp_dir / name
        self.view = cfg.phase_view(name)
        self.view_hash = config_hash(self.view)
        self.state = LoopState()

    # -- setup -----------------------------------------------------------------------------

    def build(self) -> None:
        import numpy as np
        import torch

        torch.manual_seed(self.cfg.seed)  # the frozen base is identical in every phase/rank
        self.model = build_model(self.p.objective, self.cfg.model_section(self.name))
        inherited = []
        if self.p.init_from is not None:
            inherited = init_from_phase(self.model, self.exp_dir / self.p.init_from)
        self.trainable = apply_trainable(self.model, self.p.trainable)
        self.saved_keys = sorted(set(self.trainable) | set(inherited))
        total, n_train = count_params(self.model)
        log.info("%s: %s, %.3fM parameters, %.3fM trainable (%s)", self.name,
                 type(self.model).__name__, total / 1e6, n_train / 1e6, ", ".join(self.p.trainable))
        self.model.to(self.dist.device)
        self.wrapped = D.wrap(self.model, self.dist, self.cfg.distributed)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        named = dict(self.model.named_parameters())
        decay = [named[n] for n in self.trainable if named[n].ndim >= 2]
        no_decay = [named[n] for n in self.trainable if named[n].ndim < 2]
        groups = [{"params": decay, "weight_decay": self.p.weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}]
        # the fused kernel (one pass over all parameters): on 2 CPU cores 22 -> 3.6 ms per step
        # for the 2.1M parameters of the mini encoder, against ~150-250 ms for the whole step
        fused = self.dist.device.type in ("cpu", "cuda")
        self.optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=self.p.lr,
                                           betas=tuple(self.p.betas), fused=fused or None)
        self.data = PhaseData(self.cfg.data, self.p, world_size=self.dist.world_size,
                              rank=self.dist.rank, seed=self.cfg.seed)
        if self.p.max_steps > 0:
            self.total_steps = self.p.max_steps
        else:
            per_epoch = math.ceil(self.data.count_epoch_batches() / self.p.accum_grad)
            self.total_steps = max(1, per_epoch * self.p.max_epochs)
        from transformers import get_scheduler

        self.scheduler = get_scheduler(self.p.scheduler, self.optimizer,
                                       num_warmup_steps=min(self.p.warmup_steps, self.total_steps),
                                       num_training_steps=self.total_steps)
        # Per-rank streams of randomness (dropout); the base model was built with the plain seed.
        torch.manual_seed(self.cfg.seed * 7919 + self.dist.rank)
        np.random.seed((self.cfg.seed * 7919 + self.dist.rank) % 2**32)
        import random

        random.seed(self.cfg.seed * 7919 + self.dist.rank)
        self.autocast = _autocast(self.dist.device, self.cfg.precision)
        self.tasks = list(self.data.tasks)

    # -- weights and checkpoints -----------------------------------------------------------

    def _is_fsdp(self) -> bool:
        return D.is_sharded(self.dist, self.cfg.distributed)

    def weights(self, keys: list[str] | None = None) -> dict[str, Any]:
        """Full (unsharded) tensors of ``keys`` (default: the phase's saved keys)."""
        keys = self.saved_keys if keys is None else keys
        if self._is_fsdp():  # collective: the ranks gather the full tensors on rank 0
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
            )

            sd = get_model_state_dict(self.model, options=StateDictOptions(
                full_state_dict=True, cpu_offload=True))
            return {k: sd[k] for k in keys} if self.dist.is_main else {}  # cpu_offload: rank 0
        named = dict(self.model.named_parameters())
        if set(keys) - set(named):  # buffers for a full-model save
            named.update(dict(self.model.state_dict()))
        return {k: named[k] for k in keys}

    def optimizer_state(self) -> Any:
        if self._is_fsdp():
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_optimizer_state_dict,
            )

            return get_optimizer_state_dict(self.model, self.optimizer, options=StateDictOptions(
                full_state_dict=True, cpu_offload=True))
        return self.optimizer.state_dict()

    def load_optimizer(self, state: Any) -> None:
        if self._is_fsdp():
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_optimizer_state_dict,
            )

            set_optimizer_state_dict(self.model, self.optimizer, state,
                                     options=StateDictOptions(full_state_dict=True))
            return
        self.optimizer.load_state_dict(state)

    def load_weights(self, weights: dict[str, Any]) -> None:
        import torch

        if self._is_fsdp():
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
            )

            set_model_state_dict(self.model, weights,
                                 options=StateDictOptions(full_state_dict=True, strict=False))
            return
        named = dict(self.model.named_parameters())
        with torch.no_grad():
            for k, v in weights.items():
                named[k].copy_(v.to(named[k].device))

    def save(self, best: bool = False) -> None:
        """Step checkpoint (and ``best``); collective (RNG states are gathered), rank 0 writes."""
        rngs = D.gather_object(ck.rng_state(), self.dist)
        weights = self.weights()
        optim = self.optimizer_state()
        if not self.dist.is_main:
            return
        state = {"optimizer": optim, "scheduler": self.scheduler.state_dict(),
                 "loop": asdict(self.state), "rng": rngs, "world_size": self.dist.world_size,
                 "sampler": {"epoch": self.state.epoch,
                             "batches_in_epoch": self.state.batches_in_epoch}}
        meta = {"step": self.state.step, "phase": self.name, "config_hash": self.view_hash,
                "best_valid": self.state.best_valid, "saved_keys": len(weights)}
        ckdir = ck.checkpoints_dir(self.dir)
        ck.save_checkpoint(ckdir / ck.step_name(self.state.step), weights, state, meta)
        if best:
            ck.save_checkpoint(ckdir / "best", weights, {}, meta)
        ck.prune_checkpoints(self.dir, self.p.keep_last)

    def restore(self, path: Path) -> None:
        weights, state, meta = ck.load_checkpoint(path)
        if state["world_size"] != self.dist.world_size:
            raise UserError(f"{path} was written by {state['world_size']} processes, this run has "
                            f"{self.dist.world_size}; the batch streams would differ. Resume with "
                            f"the same number of processes, or --force to start over.")
        self.load_weights(weights)
        self.load_optimizer(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.state = LoopState(**state["loop"])
        ck.set_rng_state(state["rng"][self.dist.rank])
        log.info("%s: resumed from %s (step %d, epoch %d, batch %d)", self.name, path,
                 self.state.step, self.state.epoch, self.state.batches_in_epoch)

    # -- steps -----------------------------------------------------------------------------

    def _task_vector(self, sums: dict[str, list[float]]) -> Any:
        import torch

        out = torch.zeros(2 * len(self.tasks) + 2, dtype=torch.float64)
        for t, (s, n) in sums.items():
            i = self.tasks.index(t) if t in self.tasks else len(self.tasks)
            out[2 * i] += s
            out[2 * i + 1] += n
        return out

    def _task_losses(self, sums: dict[str, list[float]], prefix: str = "loss/") -> dict[str, float]:
        v = D.all_reduce_sum(self._task_vector(sums).to(self.dist.device), self.dist).cpu()
        out = {}
        for i, t in enumerate(self.tasks):
            if v[2 * i + 1] > 0:
                out[f"{prefix}{t}"] = float(v[2 * i] / v[2 * i + 1])
        return out

    def forward_sums(self, cuts: Any, batch: Any, sums: dict[str, list[float]],
                     norm: str = "tokens") -> tuple[Any, Any]:
        """Forward one batch: (summed loss (scalar, with grad), its count). ``norm`` "tokens":
        the loss summed over every target token, and the token count; "items": each item's
        mean token loss summed over the items, and the item count. ``sums`` (the per-task
        curves) collects token sums and counts either way."""
        batch = batch_to(batch, self.dist.device)
        with self.autocast:
            out = self.wrapped(batch)
        lpi, ntok = output_fields(out)
        lpi = lpi.float()
        ntok = ntok.to(lpi.device, lpi.dtype)
        item_sums = lpi * ntok  # (B,)
        for t, s, n in zip(batch_tasks(batch, cuts), item_sums.detach().tolist(), ntok.tolist(),
                           strict=True):
            acc = sums.setdefault(t, [0.0, 0.0])
            acc[0] += s
            acc[1] += n
        if norm == "items":
            return lpi.sum(), lpi.new_tensor(float(lpi.numel()))
        return item_sums.sum(), ntok.sum().detach()

    def train_step(self, micro: list[tuple[Any, Any]], sums: dict[str, list[float]]
                   ) -> tuple[bool, float, float, int]:
        """One update from ``micro`` batches: (applied, loss, grad norm, items over all ranks)."""
        import torch

        self.model.train()
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.dist.device)
        count = torch.zeros((), dtype=torch.float64, device=self.dist.device)  # tokens or items
        items = 0
        step_sums: dict[str, list[float]] = {}
        for i, (cuts, batch) in enumerate(micro):
            last = i == len(micro) - 1
            if self._is_fsdp():  # FSDP2: reduce-scatter only on the last micro-batch
                self.model.set_requires_gradient_sync(last)
                sync = contextlib.nullcontext()
            else:
                sync = (contextlib.nullcontext() if last or not self.dist.enabled
                        else self.wrapped.no_sync())
            with sync:
                s, n = self.forward_sums(cuts, batch, step_sums, norm=self.p.loss_norm)
                s.backward()
            loss_sum += s.detach().double()
            count += n.double()
            items += len(cuts)
        totals = D.all_reduce_sum(torch.stack([loss_sum, count,
                                               torch.tensor(float(items), dtype=torch.float64,
                                                            device=self.dist.device)]), self.dist)
        g_loss, g_count, g_items = (float(x) for x in totals.cpu())
        scale = self.dist.world_size / max(g_count, 1.0)  # DDP averaged over ranks already
        for p in self.params:
            if p.grad is not None:
                p.grad.mul_(scale)
        clip = self.p.grad_clip if self.p.grad_clip > 0 else math.inf
        gn = torch.nn.utils.clip_grad_norm_(self.params, clip)
        gn = float(gn.full_tensor() if hasattr(gn, "full_tensor") else gn)  # FSDP2: a DTensor
        loss = g_loss / max(g_count, 1.0)
        if not (math.isfinite(loss) and math.isfinite(gn)):
            self.optimizer.zero_grad(set_to_none=True)
            return False, loss, gn, int(g_items)
        for t, (a, b) in step_sums.items():  # a skipped step's losses never reach the curves
            acc = sums.setdefault(t, [0.0, 0.0])
            acc[0] += a
            acc[1] += b
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return True, loss, gn, int(g_items)

    def validate(self) -> tuple[float | None, dict[str, float]]:
        import torch

        self.model.eval()
        sums: dict[str, list[float]] = {}
        total = torch.zeros(2, dtype=torch.float64, device=self.dist.device)
        with torch.no_grad():
            for cuts, batch in self.data.valid_batches(self.model.collate):
                s, n = self.forward_sums(cuts, batch, sums)
                total[0] += s.double()
                total[1] += n.double()
        total = D.all_reduce_sum(total, self.dist).cpu()
        per_task = self._task_losses(sums)
        if total[1] <= 0:
            return None, per_task
        return float(total[0] / total[1]), per_task

    # -- the loop --------------------------------------------------------------------------

    def run(self, metrics: MetricsLog) -> None:
        from svtk.logging import progress

        p, st = self.p, self.state
        has_valid = self.cfg.data.valid_cuts is not None
        ckpt_every = p.save_every or p.valid_every
        batches = self.data.train_batches(
            self.model.collate, start_epoch=st.epoch, skip=st.batches_in_epoch,
            max_epochs=None if self.data.infinite else p.max_epochs)
        sums: dict[str, list[float]] = {}
        t_log, items_log, gn = time.monotonic(), 0, float("nan")
        t_run = time.monotonic()
        elapsed0 = st.elapsed

        def attempts() -> Any:
            while st.step < self.total_steps and not st.stopped_early:
                yield st.step

        it = attempts()
        if self.dist.is_main:
            it = progress(it, description=f"train {self.name}", total=self.total_steps - st.step,
                          unit="step")
        for _ in it:
            micro = []
            for epoch, index, cuts, batch in batches:
                micro.append((cuts, batch))
                st.epoch, st.batches_in_epoch = epoch, index + 1
                if len(micro) == p.accum_grad:
                    break
            if not micro:
                break  # epoch-counted phase: data exhausted
            applied, loss, gn, n_items = self.train_step(micro, sums)
            st.elapsed = elapsed0 + time.monotonic() - t_run
            if not applied:
                st.nan_streak += 1
                st.skipped += 1
                log.warning("%s: non-finite loss/gradient (loss %s, grad norm %s) at step %d; "
                            "skipped (%d in a row, %d in total)", self.name, loss, gn, st.step,
                            st.nan_streak, st.skipped)
                if st.nan_streak >= p.nan_tolerance:
                    raise TrainingDiverged(
                        f"phase {self.name}: {st.nan_streak} consecutive steps had a non-finite "
                        f"loss or gradient (last at step {st.step}, {st.skipped} skipped in "
                        f"total); aborting. Lower the learning rate, tighten grad_clip, check "
                        f"the data of the last batches, or raise nan_tolerance.")
                continue
            st.nan_streak = 0
            st.step += 1
            st.items += n_items
            items_log += n_items
            step = st.step
            if step % p.log_every == 0 or step == self.total_steps:
                per_task = self._task_losses(sums)
                total = self._task_vector(sums)
                total = D.all_reduce_sum(total.to(self.dist.device), self.dist).cpu()
                tot_tok = float(total[1::2].sum())
                dt = max(time.monotonic() - t_log, 1e-9)
                rec = {"loss": float(total[0::2].sum()) / max(tot_tok, 1.0), **per_task,
                       "lr": self.scheduler.get_last_lr()[0], "grad_norm": gn,
                       "elapsed": st.elapsed, "items/s": items_log / dt, "skipped": st.skipped}
                metrics.log("train", step, rec)
                if self.dist.is_main:
                    log.info("%s step %d/%d: loss %.4f lr %.3g grad %.3g %.1f items/s", self.name,
                             step, self.total_steps, rec["loss"], rec["lr"], gn, rec["items/s"])
                sums, t_log, items_log = {}, time.monotonic(), 0
            last = step >= self.total_steps
            best = False
            if has_valid and ((p.valid_every and step % p.valid_every == 0) or last):
                vloss, per_task = self.validate()
                if vloss is not None:
                    best = vloss < st.best_valid
                    if best:
                        st.best_valid, st.best_step, st.bad_valids = vloss, step, 0
                    else:
                        st.bad_valids += 1
                    metrics.log("valid", step, {"loss": vloss, **per_task, "elapsed": st.elapsed})
                    if self.dist.is_main:
                        log.info("%s step %d: valid loss %.4f (best %.4f at %d)", self.name, step,
                                 vloss, st.best_valid, st.best_step)
                    if p.patience and st.bad_valids >= p.patience:
                        st.stopped_early = True
                        log.info("%s: no improvement in %d validations; stopping early",
                                 self.name, st.bad_valids)
            if best or last or st.stopped_early or (ckpt_every and step % ckpt_every == 0):
                self.save(best=best)

    def finish(self) -> Path:
        """Final weights: best by validation (if any), else the last step's."""
        best_dir = ck.checkpoints_dir(self.dir) / "best"
        if self.state.best_step >= 0 and (best_dir / ck.WEIGHTS).is_file():
            self.load_weights(ck.load_weights(best_dir / ck.WEIGHTS))
        weights = self.weights()
        full = self.weights(list(self.model.state_dict())) if self.p.save_full_model else None
        final = self.dir / ck.WEIGHTS
        if self.dist.is_main:
            meta = {"phase": self.name, "step": str(self.state.step),
                    "best_step": str(self.state.best_step), "objective": self.p.objective}
            ck.save_weights(final, weights, meta)
            if full is not None:
                ck.save_weights(self.dir / FULL_WEIGHTS, full, meta)
            if self._is_fsdp():
                log.warning("%s: FSDP run; %s/ (save_pretrained) is not written, the weights "
                            "are in %s", self.name, FINAL_DIR, final)
            elif callable(getattr(self.model, "save_pretrained", None)):
                from svtk.stage import atomic_path

                with atomic_path(self.dir / FINAL_DIR) as tmp:
                    self.model.save_pretrained(tmp)
        return final


def train_phase(cfg: TrainConfig, phase: str, exp_dir: str | Path, *, resume: bool = False,
                force: bool = False, argv: list[str] | None = None) -> PhaseResult:
    """Train ``phase`` of ``cfg`` into ``exp_dir/phase``; idempotent, resumable, DDP-aware."""
    from svtk.runinfo import write_run_info
    from svtk.stage import Stage

    cfg.phase(phase)  # a clear error for an unknown phase, before anything else
    exp_dir = Path(exp_dir)
    dist = D.setup(cfg.distributed, cfg.device)
    try:
        run = _Phase(cfg, phase, exp_dir, dist)
        p = run.p
        inputs = [cfg.data.train_cuts] + ([cfg.data.valid_cuts] if cfg.data.valid_cuts else [])
        if p.init_from is not None:
            inputs.append(exp_dir / p.init_from / ck.WEIGHTS)
        stage = Stage(STAGE, run.dir, config=run.view, inputs=inputs, force=force,
                      defaults=cfg.phase_view_defaults(phase))
        decision = _decide(stage, run.dir, run.view_hash, resume, force) if dist.is_main else None
        kind, arg = D.broadcast_object(decision, dist)
        if kind == "error":
            raise arg if isinstance(arg, UserError) else UserError(arg)
        if kind == "done":
            return PhaseResult(run.dir, already_done=True, weights=run.dir / ck.WEIGHTS)
        if dist.is_main:
            if kind == "fresh":
                for stale in (ck.checkpoints_dir(run.dir), run.dir / "tensorboard",
                              run.dir / FINAL_DIR):
                    shutil.rmtree(stale, ignore_errors=True)
                for stale in (run.dir / ck.WEIGHTS, run.dir / FULL_WEIGHTS):
                    stale.unlink(missing_ok=True)
            write_run_info(run.dir, cfg, argv)
        D.barrier(dist)
        run.build()
        if kind == "resume":
            run.restore(Path(arg))
        with MetricsLog(run.dir, resume_step=run.state.step if kind == "resume" else None,
                        enabled=dist.is_main) as metrics:
            run.run(metrics)
        final = run.finish()
        D.barrier(dist)
        st = run.state
        result = PhaseResult(
            run.dir, steps=st.step, best_valid=st.best_valid if st.best_step >= 0 else None,
            best_step=st.best_step if st.best_step >= 0 else None, skipped=st.skipped,
            stopped_early=st.stopped_early, trainable=run.trainable, weights=final)
        if dist.is_main:
            outputs = [final] + ([run.dir / FULL_WEIGHTS] if p.save_full_model else [])
            stage.mark_done(outputs=outputs, steps=st.step, best_valid=result.best_valid,
                            best_step=result.best_step, skipped=st.skipped,
                            stopped_early=st.stopped_early, elapsed=round(st.elapsed, 2))
        return result
    finally:
        D.cleanup(dist)
