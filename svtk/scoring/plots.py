"""PNG figures for reports: confusion matrices and training curves (matplotlib, Agg backend).

Training curves read the ``metrics.jsonl`` each training phase writes: one JSON per event,
``{"step", "split": "train"|"valid", "loss", "loss/<task>"..., "lr", "grad_norm", "elapsed"}``
(keys other than ``step`` and ``split`` may be absent; non-finite values are kept and marked).
Phases are laid end to end on a global step axis, in the order given.

Usage::

    plot_confusion(rows, cols, matrix, "plots/ic.png", title="ic")
    plot_training([Phase("phase1", events), ...], "plots/training.png")
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


@dataclass
class Phase:
    name: str
    events: list[dict] = field(default_factory=list)
    offset: int = 0  # global step where this phase starts

    def series(self, key: str, split: str = "train") -> tuple[list[int], list[float]]:
        xs, ys = [], []
        for e in self.events:
            if e.get("split", "train") == split and key in e and "step" in e:
                v = e[key]
                xs.append(int(e["step"]) + self.offset)
                ys.append(float("nan") if v is None else float(v))
        return xs, ys

    def task_keys(self) -> list[str]:
        return sorted({k for e in self.events for k in e if k.startswith("loss/")})

    @property
    def last_step(self) -> int:
        steps = [int(e["step"]) for e in self.events if "step" in e]
        return max(steps) if steps else 0


def read_metrics(path: str | Path) -> list[dict]:
    """Events of a ``metrics.jsonl``; unreadable lines (a run killed mid-write) are skipped."""
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip():
            try:
                ev = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(ev, dict):
                out.append(ev)
    return out


def chain(phases: list[Phase]) -> list[Phase]:
    """Set each phase's global step offset so phases follow each other."""
    offset = 0
    for p in phases:
        p.offset = offset
        offset += p.last_step
    return phases


def smooth(ys: list[float], window: int) -> list[float]:
    """Trailing moving average over finite values (NaN where the window has none)."""
    out, buf = [], []
    for y in ys:
        buf.append(y)
        if len(buf) > window:
            buf.pop(0)
        fin = [v for v in buf if math.isfinite(v)]
        out.append(sum(fin) / len(fin) if fin else float("nan"))
    return out


def plot_confusion(rows: list[str], cols: list[str], matrix: list[list[int]], path: str | Path,
                   title: str = "") -> None:
    """Row-normalised confusion matrix (colour) with raw counts written in the cells."""
    plt = _plt()
    import numpy as np

    m = np.asarray(matrix, dtype=float).reshape(len(rows), len(cols))
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = max(4.0, 0.45 * max(len(rows), len(cols)) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cols)), labels=cols, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), labels=rows, fontsize=8)
    ax.set_xlabel("hypothesis")
    ax.set_ylabel("reference")
    if len(rows) * len(cols) <= 900:
        for i in range(len(rows)):
            for j in range(len(cols)):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of reference row")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_confusions(jobs: list[dict], workers: int | None = None) -> None:
    """:func:`plot_confusion` for each dict of keyword arguments in ``jobs``, on ``workers``
    forked processes (default: every core). Drawing one takes 0.15-0.65 s (text layout); egs/mini's
    report draws ~54 of them."""
    import concurrent.futures
    import multiprocessing
    import os

    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        for job in jobs:
            plot_confusion(**job)
        return
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        for _ in pool.map(_plot_confusion_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))):
            pass


def _plot_confusion_job(job: dict) -> None:
    plot_confusion(**job)


def _save(fig, path: str | Path) -> None:
    from svtk.stage import atomic_path

    plt = _plt()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def _boundaries(ax, phases: list[Phase]) -> None:
    for p in phases[1:]:
        ax.axvline(p.offset, color="grey", lw=0.8, ls=":")
    ymax = ax.get_ylim()[1]
    for p in phases:
        ax.text(p.offset, ymax, f" {p.name}", fontsize=7, va="top", color="grey")


def plot_training(phases: list[Phase], path: str | Path, title: str = "") -> None:
    """Loss (train and valid), per-task train losses, and lr / grad-norm over global steps."""
    plt = _plt()
    fig, axes = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    ax_loss, ax_task, ax_opt = axes
    for p in phases:
        x, y = p.series("loss")
        if x:
            ax_loss.plot(x, y, color="C0", alpha=0.3, lw=0.8)
            ax_loss.plot(x, smooth(y, max(1, len(y) // 20)), color="C0", lw=1.5,
                         label="train" if p is phases[0] else None)
            bad = [a for a, b in zip(x, y, strict=True) if not math.isfinite(b)]
            if bad:  # drawn at the bottom edge: a non-finite loss has no height
                ax_loss.scatter(bad, [0.02] * len(bad), marker="x", color="red",
                                transform=ax_loss.get_xaxis_transform(), label="non-finite")
        x, y = p.series("loss", "valid")
        if x:
            ax_loss.plot(x, y, "o-", color="C1", ms=3, label="valid" if p is phases[0] else None)
    ax_loss.set_ylabel("loss")
    ax_loss.legend(fontsize=8)
    keys = sorted({k for p in phases for k in p.task_keys()})
    for i, key in enumerate(keys):
        for p in phases:
            x, y = p.series(key)
            if x:
                ax_task.plot(x, smooth(y, max(1, len(y) // 20)), color=f"C{i % 10}", lw=1,
                             label=key.split("/", 1)[1] if p is phases[0] or not ax_task.lines
                             else None)
    ax_task.set_ylabel("train loss per task")
    if keys:
        ax_task.legend(fontsize=7, ncol=4)
    for p in phases:
        x, y = p.series("grad_norm")
        if x:
            ax_opt.plot(x, y, color="C2", lw=0.8, label="grad norm" if p is phases[0] else None)
    ax_opt.set_ylabel("grad norm")
    if any(p.series("grad_norm")[0] for p in phases):
        ax_opt.set_yscale("log")
    ax_lr = ax_opt.twinx()
    for p in phases:
        x, y = p.series("lr")
        if x:
            ax_lr.plot(x, y, color="C3", lw=0.8)
    ax_lr.set_ylabel("learning rate", color="C3")
    ax_opt.set_xlabel("global step")
    for ax in axes:
        _boundaries(ax, phases)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_compare(runs: dict[str, list[Phase]], path: str | Path, title: str = "") -> None:
    """Train (smoothed) and valid loss of several experiments overlaid on one axis."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 5))
    for i, (name, phases) in enumerate(runs.items()):
        xs, ys, vx, vy = [], [], [], []
        for p in phases:
            x, y = p.series("loss")
            xs += x
            ys += y
            x, y = p.series("loss", "valid")
            vx += x
            vy += y
        if xs:
            ax.plot(xs, smooth(ys, max(1, len(ys) // 20)), color=f"C{i}", lw=1.5,
                    label=f"{name} train")
            bad = [a for a, b in zip(xs, ys, strict=True) if not math.isfinite(b)]
            if bad:
                ax.scatter(bad, [0.02] * len(bad), marker="x", color=f"C{i}",
                           transform=ax.get_xaxis_transform(), label=f"{name} non-finite loss")
        if vx:
            ax.plot(vx, vy, "o--", color=f"C{i}", ms=3, lw=1, label=f"{name} valid")
    ax.set_xlabel("global step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)
