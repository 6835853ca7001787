"""Checkpoint averaging over safetensors files (``svtk average``).

Averages every floating-point tensor of N checkpoints in float64 and writes it back in its own
dtype; integer/bool tensors (step counters, buffers) must agree and are copied. All files must
hold the same keys with the same shapes. The output records its sources in the safetensors
metadata. ``select_last`` picks the N newest checkpoints of a directory by the number in their
name (``epoch-12``, ``step-3000``), so ``--last 5`` works on a training directory.

Usage::

    average_checkpoints(["exp/a/phase2/step-900.safetensors", ...], "exp/a/phase2/avg5.safetensors")
    svtk average --out exp/a/phase2/avg5.safetensors --last 5 exp/a/phase2
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

from svtk.errors import UserError


def _number(path: Path) -> tuple[int, str]:
    nums = re.findall(r"\d+", path.stem)
    return (int(nums[-1]) if nums else -1, path.name)


def select_last(directory: str | Path, n: int, pattern: str = "*.safetensors",
                exclude: Sequence[str] = ("avg", "average")) -> list[Path]:
    """The ``n`` checkpoints of ``directory`` with the highest number in their name."""
    d = Path(directory)
    found = [p for p in d.glob(pattern) if not any(x in p.stem for x in exclude)]
    if len(found) < n:
        raise UserError(f"{d}: asked to average the last {n} checkpoints, found {len(found)} "
                        f"matching {pattern}")
    return sorted(found, key=_number)[-n:]


def average_checkpoints(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Average ``paths`` (safetensors) into ``out`` (written atomically)."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    from svtk.stage import atomic_path

    paths = [Path(p) for p in paths]
    if not paths:
        raise UserError("nothing to average: no checkpoints given")
    for p in paths:
        if not p.is_file():
            raise UserError(f"checkpoint not found: {p}")
    with safe_open(str(paths[0]), framework="pt") as f:
        keys = sorted(f.keys())
        acc = {}
        exact = {}
        for k in keys:
            t = f.get_tensor(k)
            if t.is_floating_point():
                acc[k] = (t.to(torch.float64), t.dtype)
            else:
                exact[k] = t
    for p in paths[1:]:
        with safe_open(str(p), framework="pt") as f:
            other = sorted(f.keys())
            if other != keys:
                missing = sorted(set(keys) - set(other))[:3]
                extra = sorted(set(other) - set(keys))[:3]
                raise UserError(f"{p} does not hold the same tensors as {paths[0]} "
                                f"(missing {missing}, extra {extra})")
            for k in keys:
                t = f.get_tensor(k)
                ref = acc[k][0] if k in acc else exact[k]
                if t.shape != ref.shape:
                    raise UserError(f"{p}: '{k}' has shape {tuple(t.shape)}, "
                                    f"{paths[0]} has {tuple(ref.shape)}")
                if k in acc:
                    acc[k][0].add_(t.to(torch.float64))
                elif not torch.equal(t, exact[k]):
                    raise UserError(f"{p}: non-float tensor '{k}' differs from {paths[0]}; "
                                    "cannot average it")
    n = len(paths)
    result = {k: (v / n).to(dtype).contiguous() for k, (v, dtype) in acc.items()}
    result.update({k: v.contiguous() for k, v in exact.items()})
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        save_file(result, str(tmp), metadata={"averaged_from": json.dumps([str(p) for p in paths])})
    return out
