"""Answer one instruction about one audio file (``svtk infer``).

Builds a one-cut CutSet from the audio file, with the task (for its label set and constrained
decoding) and the prompt (given, or the task's first training prompt from the bank), and runs
the decode driver on it.

Usage::

    rec = infer_file(model, "a.wav", task="ic", opts=DecodeConfig(constrained=True))
    print(rec["hyp"])
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from svtk.decoding.driver import DecodeConfig, decode_cuts
from svtk.errors import UserError


def task_labels(task: str) -> list[str] | None:
    """The task's closed label set from ``svtk.tasks`` when that registry is present."""
    try:
        from svtk.tasks import get_task
    except ImportError:
        return None
    try:
        labels = get_task(task).labels
    except (KeyError, ValueError):
        return None
    return list(labels) if labels else None


def audio_cut(audio: str | Path, task: str, prompt: str, labels: list[str] | None):
    from lhotse import Recording

    path = Path(audio)
    if not path.is_file():
        raise UserError(f"audio file not found: {path}")
    cut = Recording.from_file(str(path)).to_cut()
    cut.custom = {"task": task, "prompt": prompt, "target": "", "labels": labels, "joint": False}
    return cut


def infer_file(model, audio: str | Path, *, task: str | None = None, prompt: str | None = None,
               labels: list[str] | None = None, opts: DecodeConfig | None = None) -> dict[str, Any]:
    from svtk.decoding.prompts import PromptChooser, fill_prompt

    opts = opts or DecodeConfig()
    if not task and not prompt:
        raise UserError("give --task or --prompt (or both)")
    task = (task or "").lower()
    labels = labels if labels is not None else (task_labels(task) if task else None)
    if prompt is None:
        bank = PromptChooser.from_option("train", opts.prompt_dir).prompts(task)
        if not bank:
            raise UserError(f"no training prompts found for task {task!r}; give --prompt")
        prompt = fill_prompt(bank[0], task, {"labels": labels})
        if prompt is None:
            raise UserError(f"the first training prompt of task {task!r} needs fields a single "
                            f"file lacks ({bank[0]!r}); give --prompt")
    cut = audio_cut(audio, task, prompt, labels)
    opts = replace(opts, prompts="cut", batch_size=1, max_duration=None, tasks=None)
    return next(iter(decode_cuts(model, [cut], opts)))
