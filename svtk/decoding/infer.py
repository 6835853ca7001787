"""Answer instructions about audio files (``svtk infer``).

Builds one cut per (audio file, task), with the task (for its label set and constrained
decoding) and the prompt (given, or the task's first training prompt from the bank), and runs
the decode driver on them in batches: one model load answers every file and task.

Usage::

    rec = infer_file(model, "a.wav", task="ic", opts=DecodeConfig(constrained=True))
    print(rec["hyp"])
    for rec in infer_files(model, ["a.wav", "b.flac"], tasks=["asr", "ic"]):
        print(rec["audio"], rec["task"], rec["hyp"])
"""

from __future__ import annotations

from collections.abc import Sequence
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


def audio_cut(audio: str | Path, task: str, prompt: str, labels: list[str] | None,
              cut_id: str | None = None):
    """A cut of the whole file, carrying what the decode driver reads: task, prompt, labels."""
    from lhotse import Recording

    path = Path(audio)
    if not path.is_file():
        raise UserError(f"audio file not found: {path}")
    try:
        rec = Recording.from_file(str(path), recording_id=cut_id)
    except Exception as e:  # noqa: BLE001 - any reader failure is the user's file
        raise UserError(f"cannot read audio file {path}: {e}") from e
    cut = rec.to_cut()
    cut.custom = {"task": task, "prompt": prompt, "target": "", "labels": labels, "joint": False}
    return cut


def default_prompt(task: str, labels: list[str] | None, opts: DecodeConfig) -> str:
    """The task's first training prompt, filled as training filled it (label list included)."""
    from svtk.decoding.prompts import PromptChooser, fill_prompt

    bank = PromptChooser.from_option("train", opts.prompt_dir).prompts(task)
    if not bank:
        raise UserError(f"no training prompts found for task {task!r}; give --prompt")
    prompt = fill_prompt(bank[0], task, {"labels": labels})
    if prompt is None:
        raise UserError(f"the first training prompt of task {task!r} needs fields a single "
                        f"file lacks ({bank[0]!r}); give --prompt")
    return prompt


def infer_cuts(audios: Sequence[str | Path], *, tasks: Sequence[str | None] = (None,),
               prompt: str | None = None, labels: list[str] | None = None,
               opts: DecodeConfig | None = None) -> list:
    """The cuts :func:`infer_files` decodes, one per audio file and task, files in the order
    given, then tasks; each checked (file readable, task known, prompt found) before any model
    is needed. A task gives the label set and, without ``prompt``, the prompt; ``prompt``
    alone (task ``None``) is a free instruction."""
    opts = opts or DecodeConfig()
    tasks = list(tasks) or [None]
    if prompt is None and not all(tasks):
        raise UserError("give --task or --prompt (or both)")
    prompts, label_sets = {}, {}
    for t in dict.fromkeys(tasks):
        name = (t or "").lower()
        label_sets[t] = labels if labels is not None else (task_labels(name) if name else None)
        prompts[t] = prompt if prompt is not None else default_prompt(name, label_sets[t], opts)
    cuts, seen = [], set()
    for audio in audios:
        for t in tasks:
            name = (t or "").lower()
            cut_id = f"{Path(audio).stem}_{name or 'prompt'}"
            while cut_id in seen:  # the same file name in two dirs, or asked twice
                cut_id += "+"
            seen.add(cut_id)
            cut = audio_cut(audio, name, prompts[t], label_sets[t], cut_id=cut_id)
            cut.custom["audio"] = str(audio)
            cuts.append(cut)
    return cuts


def answer(model, cuts: list, opts: DecodeConfig | None = None) -> list[dict[str, Any]]:
    """Decode the cuts of :func:`infer_cuts`: one record each, in their order, the decode
    driver's record (see :mod:`svtk.decoding.driver`) plus ``audio``, the file's path.
    ``opts.batch_size`` items are decoded at a time."""
    opts = replace(opts or DecodeConfig(), prompts="cut", max_duration=None, tasks=None)
    return [{**rec, "audio": cut.custom["audio"]}
            for rec, cut in zip(decode_cuts(model, cuts, opts), cuts, strict=True)]


def infer_files(model, audios: Sequence[str | Path], *, tasks: Sequence[str | None] = (None,),
                prompt: str | None = None, labels: list[str] | None = None,
                opts: DecodeConfig | None = None) -> list[dict[str, Any]]:
    """One record per audio file and task, files in the order given, then tasks (see
    :func:`infer_cuts` and :func:`answer`)."""
    return answer(model, infer_cuts(audios, tasks=tasks, prompt=prompt, labels=labels, opts=opts),
                  opts)


def infer_file(model, audio: str | Path, *, task: str | None = None, prompt: str | None = None,
               labels: list[str] | None = None, opts: DecodeConfig | None = None) -> dict[str, Any]:
    """:func:`infer_files` for one file and one task (or a free prompt)."""
    return infer_files(model, [audio], tasks=[task], prompt=prompt, labels=labels, opts=opts)[0]
