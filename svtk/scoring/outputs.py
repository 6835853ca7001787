"""Which metric scores each task, and tolerant parsers for task outputs.

This is a local copy of what the task registry (:mod:`svtk.tasks`) knows, kept here so scoring
does not depend on it: the metric of each task, and how to read a model's text output back
into a structured answer. When the registry settles, :data:`TASK_METRICS` can be read from
``svtk.tasks.get_task(name).metric`` instead.

Parsers (tolerant: models, especially unconstrained ones, drift in form):

- Slot filling, ``type: value; type: value``: parts are split on ``;`` or newlines, each part
  on its first ``:``. The type is lower-cased with spaces turned into ``_``; the value is kept
  as written (the scorer normalises it). SLURP-style ``[type : value]`` brackets are accepted.
  A part without ``:`` is *malformed* (counted, not scored as a slot). An empty output or one
  of :data:`NONE_WORDS` means "no slots".
- Keywords, ``kw1, kw2``: split on ``,``, ``;`` or newlines, stripped, empties dropped,
  duplicates removed (a set, in order of appearance); :data:`NONE_WORDS` means none.
- Joint form, ``ASR: <transcript> | TASK: <output> |``: :func:`parse_joint` returns
  ``(transcript, output)``; either is None when its part is missing.

Usage::

    parse_slots("date: tuesday; time: ten am")  # ([("date", "tuesday"), ("time", "ten am")], 0)
"""

from __future__ import annotations

import re

TASK_METRICS: dict[str, str] = {
    "asr": "wer",
    "st": "bleu",
    "ic": "accuracy",
    "sf": "slu_f1",
    "kwe": "f1",
    "kws": "accuracy",
    "er": "uar",
    "asc": "uar",
    "sc": "uar",
    "ac": "uar",
    "sns": "uar",
    "gender": "uar",
    "style": "uar",
}

NONE_WORDS = frozenset({"none", "no slots", "no keywords", "n/a", "-", "nothing"})

_SPLIT_SLOTS = re.compile(r"[;\n]|\]\s*\[")
_SPLIT_KW = re.compile(r"[,;\n]")


def task_order(task: str) -> tuple[int, str]:
    """Sort key: the registry's task order (ASR, ST, IC, SF, ...), unknown tasks last."""
    order = list(TASK_METRICS)
    return (order.index(task) if task in order else len(order), task)


def metric_for(task: str, override: str | None = None) -> str | None:
    """The metric scoring ``task`` (a record may name one itself), or None when unknown."""
    return override or TASK_METRICS.get(task)


def _is_none(text: str) -> bool:
    return not text.strip() or text.strip().lower().rstrip(".") in NONE_WORDS


def parse_slots(text: str | None) -> tuple[list[tuple[str, str]], int]:
    """``(slots, malformed_parts)`` from ``type: value; type: value``."""
    text = text or ""
    if _is_none(text):
        return [], 0
    slots, bad = [], 0
    for part in _SPLIT_SLOTS.split(text):
        part = part.strip().strip("[]").strip()
        if not part:
            continue
        typ, sep, value = part.partition(":")
        typ = "_".join(typ.strip().lower().split())
        if not sep or not typ:
            bad += 1
            continue
        slots.append((typ, value.strip()))
    return slots, bad


def parse_keywords(text: str | None) -> list[str]:
    """Keywords from ``kw1, kw2`` (see the module docstring)."""
    text = text or ""
    if _is_none(text):
        return []
    out = [k.strip() for k in _SPLIT_KW.split(text)]
    return list(dict.fromkeys(k for k in out if k))


_ASR_HEAD = re.compile(r"^\s*ASR\s*:\s*", re.I)
_TAG_HEAD = re.compile(r"^\s*[A-Za-z_]+\s*:\s*")


def parse_joint(text: str | None) -> tuple[str | None, str | None]:
    """``"ASR: hello | IC: greet |"`` -> ``("hello", "greet")``; missing parts are None.

    The task part keeps everything after its tag up to the last ``|`` (slot outputs contain
    ``:`` and ``;``, never ``|``).
    """
    m = _ASR_HEAD.match(text or "")
    if not m:
        return None, None
    rest = (text or "")[m.end():]
    asr, sep, out = rest.partition("|")
    if not sep:
        return asr.strip(), None
    out = out.strip()
    if out.endswith("|"):
        out = out[:-1].strip()
    tag = _TAG_HEAD.match(out)
    if not tag:
        return asr.strip(), None
    return asr.strip(), out[tag.end():].strip()
