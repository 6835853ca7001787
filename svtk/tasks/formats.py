"""Task output formats, written and read back in one place: closed-set labels, slot lists,
keyword lists and the joint form ``ASR: <transcript> | TAG: <output> |``.

Targets are made with the ``format_*`` functions; model outputs are read back with the tolerant
``parse_*`` functions, which the registry (:class:`svtk.tasks.Task`), the decoder (joint parts,
grammars) and the scorer (slots, keywords, labels) all use. Models drift in form, especially
unconstrained ones, so the parsers accept more than the formatters write:

- Labels: an exact match first, then one after lower-casing, collapsing whitespace and stripping
  surrounding punctuation (``"Positive."`` is ``positive``; ``"play music"`` is not
  ``play_music``: an underscore is part of a label).
- Slots, ``type: value; type: value``: parts split on ``;``, newlines or SLURP-style
  ``[type : value] [type : value]`` brackets, each part on its first ``:``. The type is
  normalised like a label with inner spaces turned into ``_``; the value is kept as written
  (scorers normalise it). A part without ``:`` or without a type is *malformed*: counted by
  :func:`parse_slots_counting`, never scored as a slot. An empty output or one of
  :data:`NONE_WORDS` is the empty list.
- Keywords, ``kw1, kw2``: split on ``,``, ``;`` or newlines, stripped, empties and repeats
  dropped (order of first appearance kept), case kept; :data:`NONE_WORDS` is the empty list.
- Joint form: :func:`parse_joint` returns a :class:`JointParse` in which a missing part is
  ``None`` (an empty one is ``""``); with a known tag, the task part must carry it.

Reads and writes nothing.

Usage::

    format_slots([("date", "today")])                # 'date: today'
    parse_slots_counting("date: today; oops")        # ([('date', 'today')], 1)
    parse_joint("ASR: call mom | IC: call |", "ic")  # JointParse('call mom', 'ic', 'call', ...)
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NONE = "none"  # the target of an empty slot or keyword list
NONE_WORDS = frozenset({NONE, "no slots", "no keywords", "n/a", "-", "nothing"})  # read as empty
SLOT_SEP = ";"  # between slots: `type: value; type: value`
SLOT_KV = ":"  # between a slot type and its value
KEYWORD_SEP = ","  # between keywords: `kw1, kw2`
JOINT_ASR_TAG = "ASR"  # the transcript part of the joint form comes first, under this tag
JOINT_SEP = "|"  # ends each part of the joint form; never inside a transcript or output

_SPLIT_SLOTS = re.compile(r"[;\n]|\]\s*\[")
_SPLIT_KEYWORDS = re.compile(r"[,;\n]")
_PUNCT = string.punctuation + " "


def normalize_label_text(text: str | None) -> str:
    """Lower-case, collapse whitespace, strip surrounding punctuation: ``" Set  Alarm. "`` ->
    ``"set alarm"``."""
    return " ".join((text or "").lower().split()).strip(_PUNCT)


def parse_text(text: str | None) -> str:
    """Free text (transcripts, translations) with whitespace collapsed."""
    return " ".join((text or "").split())


def is_none(text: str | None) -> bool:
    """Whether an output says "nothing" (empty, or one of :data:`NONE_WORDS`)."""
    norm = " ".join((text or "").lower().split())
    return not norm or norm in NONE_WORDS or norm.rstrip(".") in NONE_WORDS


# --------------------------------------------------------------------------------------------
# Closed label sets
# --------------------------------------------------------------------------------------------


class LabelMatcher:
    """Maps free text onto a label set: exact, else case/space/punctuation-insensitive, else None."""

    def __init__(self, labels: Iterable[str]):
        self.labels = list(dict.fromkeys(labels))
        self._exact = set(self.labels)
        self._loose: dict[str, str] = {}
        for lab in self.labels:
            self._loose.setdefault(normalize_label_text(lab), lab)

    def match(self, text: str | None) -> tuple[str | None, bool]:
        """(label or None, whether the match needed the lenient comparison)."""
        t = (text or "").strip()
        if t in self._exact:
            return t, False
        lab = self._loose.get(normalize_label_text(t))
        return (lab, True) if lab is not None else (None, False)


def parse_label(text: str | None, labels: Iterable[str]) -> str:
    """The label ``text`` names, else ``text`` normalised (an out-of-set answer)."""
    lab, _ = LabelMatcher(labels).match(text)
    return lab if lab is not None else normalize_label_text(text)


# --------------------------------------------------------------------------------------------
# Slots and keywords
# --------------------------------------------------------------------------------------------


def format_slots(slots: Iterable[Sequence[str]]) -> str:
    """[("room", "kitchen"), ("date", "today")] -> ``"room: kitchen; date: today"`` (``none``)."""
    items = [f"{t}{SLOT_KV} {v}" for t, v in slots]
    return f"{SLOT_SEP} ".join(items) if items else NONE


def parse_slots_counting(text: str | None) -> tuple[list[tuple[str, str]], int]:
    """``(slots, malformed_parts)`` from ``type: value; type: value`` (see the module docstring)."""
    if is_none(text):
        return [], 0
    slots, bad = [], 0
    for part in _SPLIT_SLOTS.split(text or ""):
        part = part.strip().strip("[]").strip()
        if not part:
            continue
        typ, sep, value = part.partition(SLOT_KV)
        typ = "_".join(normalize_label_text(typ).split())
        if not sep or not typ:
            bad += 1
            continue
        slots.append((typ, value.strip()))
    return slots, bad


def parse_slots(text: str | None) -> list[tuple[str, str]]:
    """``"room: kitchen; date: today"`` -> [("room", "kitchen"), ("date", "today")]."""
    return parse_slots_counting(text)[0]


def format_keywords(words: Iterable[str]) -> str:
    """["lights", "kitchen"] -> ``"lights, kitchen"`` (``none`` for no keywords)."""
    words = list(words)
    return f"{KEYWORD_SEP} ".join(words) if words else NONE


def parse_keywords(text: str | None) -> list[str]:
    """``"lights, kitchen"`` -> ["lights", "kitchen"] (see the module docstring)."""
    if is_none(text):
        return []
    words = (parse_text(w) for w in _SPLIT_KEYWORDS.split(text or ""))
    return list(dict.fromkeys(w for w in words if w))


# --------------------------------------------------------------------------------------------
# The joint form
# --------------------------------------------------------------------------------------------


def joint_tag(task: str) -> str:
    """The tag a task's output carries in joint form: its registry name in upper case."""
    return task.upper()


def format_joint(transcript: str, task: str, output: str) -> str:
    """``ASR: <transcript> | <TASK>: <output> |`` (``task``: a registry name or its tag); an
    empty part is written ``TAG: |``, one space either side of every bar."""
    parts = ((JOINT_ASR_TAG, parse_text(transcript)), (joint_tag(task), output.strip()))
    return " ".join(f"{tag}: {text} {JOINT_SEP}" if text else f"{tag}: {JOINT_SEP}"
                    for tag, text in parts)


@dataclass(frozen=True)
class JointParse:
    """A joint-form output split into its parts; a part that is missing is None."""

    transcript: str | None  # None: the text does not start with `ASR:`
    task: str | None  # the tag the task part carries, lower case; None: no task part
    output: str | None  # None: no task part (or, with a known tag, not that task's part)
    ok: bool  # both parts present, the expected tag, nothing after the final bar
    text: str  # the input, stripped

    def parts(self) -> tuple[str, str]:
        """Best-effort ``(transcript, output)`` to score: a missing part is ``""``, and a text
        that is not in joint form at all is taken as the output (counted, not dropped)."""
        if self.transcript is None:
            return "", self.text
        return self.transcript, self.output or ""


_ASR_HEAD = re.compile(rf"^\s*{JOINT_ASR_TAG}\s*:\s*", re.IGNORECASE)
_TAG_HEAD = re.compile(rf"\{JOINT_SEP}\s*(?P<tag>[A-Za-z_][\w-]*)\s*:")


def parse_joint(text: str | None, tag: str | None = None) -> JointParse:
    """Split ``ASR: <t> | TAG: <o> |`` into its parts; tolerant of a missing final bar (a
    generation cut by the length limit). With ``tag`` (a task name or tag) only that task's part
    counts as the output; without, any tag does. Slot outputs contain ``:`` and ``;``, never
    ``|``, so the output runs to the final bar."""
    text = (text or "").strip()
    head = _ASR_HEAD.match(text)
    if head is None:
        return JointParse(None, None, None, False, text)
    body = text[head.end():]
    found = None
    for m in _TAG_HEAD.finditer(body):
        if tag is None or m["tag"].upper() == joint_tag(tag):
            found = m
            break
    if found is None:
        return JointParse(parse_text(body.split(JOINT_SEP, 1)[0]), None, None, False, text)
    transcript, output = body[: found.start()], body[found.end():].strip()
    if output.endswith(JOINT_SEP):
        output = output[:-1].strip()
    ok = JOINT_SEP not in transcript and JOINT_SEP not in output
    return JointParse(parse_text(transcript), found["tag"].lower(), output, ok, text)
