"""Training curves: ``metrics.jsonl`` (read by ``svtk report``) and TensorBoard scalars.

One JSON object per line and event in ``<phase_dir>/metrics.jsonl``::

    {"step": 40, "split": "train", "loss": 1.92, "loss/asr": 1.80, "loss/ic": 2.2,
     "lr": 0.0003, "grad_norm": 0.71, "elapsed": 12.3, "items/s": 41.0, "skipped": 0}
    {"step": 40, "split": "valid", "loss": 1.85, "loss/asr": 1.7, "loss/ic": 2.1, "elapsed": 12.9}

The same scalars go to TensorBoard under ``<phase_dir>/tensorboard`` as ``<split>/<key>``. On
resume, events after the checkpoint's step are dropped, so curves never hold a step twice.
Only rank 0 writes (``enabled=False`` elsewhere).

Usage::

    with MetricsLog(phase_dir, resume_step=None) as m:
        m.log("train", step, {"loss": 1.9, "lr": 3e-4})
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FILE = "metrics.jsonl"


def read_metrics(phase_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(phase_dir) / FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class MetricsLog:
    def __init__(self, phase_dir: str | Path, *, resume_step: int | None = None,
                 enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.path = Path(phase_dir) / FILE
        self._tb = None
        self._file = None
        if not enabled:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        else:  # keep what the checkpoint saw, drop the rest
            kept = [r for r in read_metrics(self.path.parent) if r.get("step", 0) <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        self._file = self.path.open("a", buffering=1)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.path.parent / "tensorboard"),
                                         purge_step=resume_step + 1 if resume_step is not None else None)
            except ImportError as e:  # tensorboard is a declared dependency; be useful anyway
                log.warning("TensorBoard unavailable (%s); metrics.jsonl only", e)

    def log(self, split: str, step: int, values: dict[str, Any]) -> None:
        if not self.enabled:
            return
        clean = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
                 for k, v in values.items()}
        record = {"step": step, "split": split, **{k: _finite_or_str(v) for k, v in clean.items()}}
        self._file.write(json.dumps(record) + "\n")
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float) and math.isfinite(v):
                    self._tb.add_scalar(f"{split}/{k}", v, step)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _finite_or_str(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no NaN/inf; keep the fact visible
    return v
