"""Checkpoints of a phase: safetensors weights plus optimizer, scheduler, sampler and RNG state.

Layout inside a phase directory ``exp/<tag>/<phase>/``::

    checkpoints/step-00000400/model.safetensors   the phase's weights (trainable by default)
    checkpoints/step-00000400/state.pt            optimizer, scheduler, loop, sampler, RNG state
    checkpoints/step-00000400/meta.json           step, validation loss, config hash
    checkpoints/best/...                          the checkpoint with the lowest validation loss
    model.safetensors                             final weights (best if validated, else last)

Each checkpoint directory is written to a temporary sibling and renamed into place
(:func:`svtk.stage.atomic_path`), so a crash never leaves a half-written checkpoint; only the
last ``keep_last`` step checkpoints are kept, plus ``best``.

Usage::

    save_checkpoint(phase_dir / "checkpoints" / step_name(400), weights, state, meta)
    ckpt = latest_checkpoint(phase_dir)
"""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

from svtk.stage import atomic_path

WEIGHTS = "model.safetensors"
STATE = "state.pt"
META = "meta.json"
_STEP_RE = re.compile(r"^step-(\d+)$")


def step_name(step: int) -> str:
    return f"step-{step:08d}"


def checkpoints_dir(phase_dir: str | Path) -> Path:
    return Path(phase_dir) / "checkpoints"


def save_weights(path: str | Path, weights: dict[str, Any], metadata: dict[str, str] | None = None
                 ) -> None:
    """Tensors to a safetensors file, atomically (CPU, contiguous, no shared storage)."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata or {})


def load_weights(path: str | Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


def save_checkpoint(ckpt_dir: str | Path, weights: dict[str, Any], state: dict[str, Any],
                    meta: dict[str, Any]) -> None:
    import torch
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in weights.items()}
    with atomic_path(ckpt_dir) as tmp:
        tmp.mkdir(parents=True)
        save_file(tensors, str(tmp / WEIGHTS), metadata={"step": str(meta.get("step", ""))})
        torch.save(state, tmp / STATE)
        (tmp / META).write_text(json.dumps(meta, indent=2, default=str) + "\n")


def load_checkpoint(ckpt_dir: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(weights, state, meta) of a checkpoint directory."""
    import torch

    d = Path(ckpt_dir)
    state = torch.load(d / STATE, map_location="cpu", weights_only=False)
    return load_weights(d / WEIGHTS), state, json.loads((d / META).read_text())


def list_checkpoints(phase_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete step checkpoints, oldest first."""
    d = checkpoints_dir(phase_dir)
    if not d.is_dir():
        return []
    out = []
    for p in d.iterdir():
        m = _STEP_RE.match(p.name)
        if m and (p / META).is_file() and (p / WEIGHTS).is_file() and (p / STATE).is_file():
            out.append((int(m.group(1)), p))
    return sorted(out)


def latest_checkpoint(phase_dir: str | Path) -> Path | None:
    ckpts = list_checkpoints(phase_dir)
    return ckpts[-1][1] if ckpts else None


def prune_checkpoints(phase_dir: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` step checkpoints; returns what was removed."""
    removed = []
    for _, p in list_checkpoints(phase_dir)[:-keep_last]:
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def rng_state() -> dict[str, Any]:
    """Every RNG the loop touches: python, numpy, torch CPU and CUDA."""
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(),
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
