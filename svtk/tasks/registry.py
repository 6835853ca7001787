"""The task registry: the paper's 11 tasks plus the mini extras, each with its metric, closed
label set (label -> description), target builder, output parser and joint-decoding form; the
registry's order is the order tasks are reported in. The output formats themselves (and their
tolerant parsers, shared with decoding and scoring) are in :mod:`svtk.tasks.formats`.

A task turns a supervision's metadata into the text the model must emit (``target``) and turns a
model output back into a structured answer (``parse``), so scoring and decoding never re-derive
either. Joint decoding puts the transcript first: ``ASR: <transcript> | IC: <label> |``.

Reads and writes nothing.

Usage::

    task = get_task("sf")
    task.target({"text": "call mom", "slots": [["person", "mom"]]})  # 'person: mom'
    task.parse("person: mom; date: today")                          # [('person', 'mom'), ...]
    task.format_joint("call mom", "person: mom")      # 'ASR: call mom | SF: person: mom |'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from svtk.errors import UserError
from svtk.tasks.formats import (
    JointParse,
    LabelMatcher,
    format_joint,
    format_keywords,
    format_slots,
    joint_tag,
    normalize_label_text,
    parse_joint,
    parse_keywords,
    parse_slots,
    parse_text,
)

METRICS = ("wer", "bleu", "accuracy", "uar", "f1", "slu_f1")

# Closed label sets of tasks the grammar does not define (label -> description).
EMOTIONS: dict[str, str] = {  # MSP-Podcast primary emotion categories
    "neutral": "no particular emotion is expressed",
    "happy": "the speaker sounds happy or joyful",
    "sad": "the speaker sounds sad or sorrowful",
    "angry": "the speaker sounds angry or irritated",
    "surprise": "the speaker sounds surprised",
    "fear": "the speaker sounds afraid or anxious",
    "disgust": "the speaker sounds disgusted",
    "contempt": "the speaker sounds contemptuous or scornful",
}
ACCENTS: dict[str, str] = {  # espeak-ng English accents (+ flite awb, a real Scottish voice)
    "american": "General American English",
    "british": "Southern British English",
    "scottish": "Scottish English",
    "rp": "British Received Pronunciation",
    "lancastrian": "Northern English from Lancaster",
    "west_midlands": "English from the West Midlands",
    "caribbean": "Caribbean English",
    "new_york": "New York City English",
}
GENDERS: dict[str, str] = {"female": "a female voice", "male": "a male voice"}
STYLES: dict[str, str] = {  # speaking styles made with sox; never presented as emotion
    "neutral": "normal speaking rate, pitch and loudness",
    "fast": "speech faster than normal",
    "slow": "speech slower than normal",
    "high": "pitch higher than normal",
    "low": "pitch lower than normal",
    "loud": "louder than normal",
    "quiet": "quieter than normal",
}
SPEAKER_COUNTS: dict[str, str] = {
    "one": "a single person speaks",
    "two": "two different people speak",
}
SPEECH_CLASSES: dict[str, str] = {
    "speech": "the audio contains human speech",
    "non-speech": "the audio contains no speech, only noise, tones or other sounds",
}
YES_NO: dict[str, str] = {"yes": "the keyword is spoken", "no": "the keyword is not spoken"}


# --------------------------------------------------------------------------------------------
# The Task
# --------------------------------------------------------------------------------------------


def _meta(sup: Any) -> dict[str, Any]:
    """A supervision's metadata as one dict: lhotse SupervisionSegment or plain mapping."""
    if isinstance(sup, Mapping):
        return dict(sup)
    meta = dict(getattr(sup, "custom", None) or {})
    meta.setdefault("text", getattr(sup, "text", None))
    for key in ("speaker", "language", "gender"):
        if getattr(sup, key, None) is not None:
            meta.setdefault(key, getattr(sup, key))
    return meta


@dataclass(frozen=True)
class Task:
    """One task: how its target is made from a supervision and how an output is read back."""

    name: str  # registry key, lower-case
    tag: str  # upper-case name used in the joint form and reports
    metric: str  # one of METRICS
    description: str  # one line for docs and reports
    labels: dict[str, str] | None  # closed label set (label -> description), None if open
    kind: str  # "text" | "closed" | "slots" | "keywords"
    requires: tuple[str, ...]  # metadata keys a supervision must carry for this task
    _target: Callable[..., str] = field(repr=False, compare=False)
    fields: tuple[str, ...] = ()  # per-example fields filled into the prompt (e.g. keyword)

    def __post_init__(self):
        if self.metric not in METRICS:
            raise ValueError(f"task {self.name}: unknown metric {self.metric!r}")
        if self.kind not in PARSERS:
            raise ValueError(f"task {self.name}: unknown output kind {self.kind!r}")
        if self.tag != joint_tag(self.name):  # the joint grammar derives the tag from the name
            raise ValueError(f"task {self.name}: tag must be {joint_tag(self.name)!r}, not {self.tag!r}")

    @property
    def closed(self) -> bool:
        """A classification task: the whole output is one of ``labels`` (SF constrains only
        the slot types, so it is not closed)."""
        return self.kind == "closed"

    def applies(self, sup: Any) -> bool:
        """Whether the supervision carries what this task's target needs."""
        meta = _meta(sup)
        return all(meta.get(k) is not None for k in self.requires)

    def target(self, sup: Any, **fields: Any) -> str:
        """The text the model must emit for ``sup`` (``fields``: e.g. keyword=, lang=)."""
        meta = _meta(sup)
        missing = [k for k in self.requires if meta.get(k) is None]
        if missing:
            raise UserError(f"task {self.name}: supervision {meta.get('id', '?')} has no "
                            f"{', '.join(missing)}; it cannot be a {self.tag} example")
        return self._target(meta, **fields)

    @cached_property
    def matcher(self) -> LabelMatcher | None:
        """Maps an output onto ``labels`` (closed-set tasks only)."""
        return LabelMatcher(self.labels) if self.closed and self.labels else None

    def parse(self, text: str) -> Any:
        """A model output as a structured answer (label string / slot list / keyword list)."""
        if self.matcher is not None:
            label, _ = self.matcher.match(text)
            return label if label is not None else normalize_label_text(text)
        return PARSERS[self.kind](text)

    def format(self, answer: Any) -> str:
        """The inverse of :meth:`parse` for targets: structured answer -> text."""
        return FORMATTERS.get(self.kind, str)(answer)

    def format_joint(self, transcript: str, output: str) -> str:
        """``ASR: <transcript> | IC: <label> |``."""
        return format_joint(transcript, self.tag, output)

    def parse_joint(self, text: str) -> tuple[str, str]:
        """(transcript, task output) from a joint-form output: a missing part is ``""``, a text
        not in joint form is all output (:meth:`read_joint` tells missing from empty)."""
        return self.read_joint(text).parts()

    def read_joint(self, text: str) -> JointParse:
        """A joint-form output split into parts, this task's tag expected (missing: None)."""
        return parse_joint(text, self.tag)


PARSERS: dict[str, Callable[[str], Any]] = {  # output kind -> text to structured answer
    "text": parse_text,
    "closed": normalize_label_text,  # with no label set to match against
    "slots": parse_slots,
    "keywords": parse_keywords,
}
FORMATTERS: dict[str, Callable[[Any], str]] = {"slots": format_slots, "keywords": format_keywords}


# --------------------------------------------------------------------------------------------
# Target builders (metadata dict -> target text)
# --------------------------------------------------------------------------------------------


def _label(key: str) -> Callable[..., str]:
    return lambda m, **_: str(m[key])


def _st(m: dict, lang: str | None = None, **_: Any) -> str:
    tr = m["translations"]
    if lang is None:
        if len(tr) != 1:
            raise UserError(f"task st: supervision has translations into {sorted(tr)}; say which "
                            "target language (lang=...)")
        lang = next(iter(tr))
    if lang not in tr:
        raise UserError(f"task st: no {lang} translation for supervision {m.get('id', '?')}")
    return tr[lang]


def _kws(m: dict, keyword: str | None = None, **_: Any) -> str:
    if keyword is None:
        raise UserError("task kws: a target needs the keyword asked about (keyword=...)")
    words = m.get("text", "").split()
    kw = keyword.lower().split()
    n = len(kw)
    return "yes" if any(words[i:i + n] == kw for i in range(len(words) - n + 1)) else "no"


def _sc(m: dict, **_: Any) -> str:
    n = int(m["n_speakers"])
    return {1: "one", 2: "two"}[n]


def _sns(m: dict, **_: Any) -> str:
    return "speech" if m["is_speech"] else "non-speech"


def _kwe(m: dict, **_: Any) -> str:
    return format_keywords(m["keywords"])


def _sf(m: dict, **_: Any) -> str:
    return format_slots(tuple(s) for s in m["slots"])


def _lazy_grammar():
    from svtk.data import grammar

    return grammar


def _build() -> dict[str, Task]:
    g = _lazy_grammar()
    slot_types = dict(g.SLOT_TYPES)
    specs = [
        Task("asr", "ASR", "wer", "transcribe the speech", None, "text", ("text",),
             lambda m, **_: m["text"]),
        Task("st", "ST", "bleu", "translate the English speech into another language", None,
             "text", ("translations",), _st, fields=("lang",)),
        Task("ic", "IC", "accuracy", "classify the intent of a spoken command", dict(g.INTENTS),
             "closed", ("intent",), _label("intent")),
        Task("sf", "SF", "slu_f1", "fill the slots (type: value) of a spoken command",
             slot_types, "slots", ("slots", "intent"), _sf),
        Task("kwe", "KWE", "f1", "list the content words spoken", None, "keywords",
             ("keywords",), _kwe),
        Task("kws", "KWS", "accuracy", "say whether a given keyword is spoken", dict(YES_NO),
             "closed", ("text",), _kws, fields=("keyword",)),
        Task("er", "ER", "uar", "recognise the emotion of the speaker (real corpora only)",
             dict(EMOTIONS), "closed", ("emotion",), _label("emotion")),
        Task("asc", "ASC", "uar", "classify the sentiment of what is said", dict(g.SENTIMENTS),
             "closed", ("sentiment",), _label("sentiment")),
        Task("sc", "SC", "uar", "count the speakers", dict(SPEAKER_COUNTS), "closed",
             ("n_speakers",), _sc),
        Task("ac", "AC", "uar", "recognise the accent of the speaker", dict(ACCENTS), "closed",
             ("accent",), _label("accent")),
        Task("sns", "SNS", "uar", "say whether the audio contains speech", dict(SPEECH_CLASSES),
             "closed", ("is_speech",), _sns),
        Task("gender", "GENDER", "uar", "recognise the gender of the voice", dict(GENDERS),
             "closed", ("gender",), _label("gender")),
        Task("style", "STYLE", "uar", "recognise the speaking style (rate, pitch, loudness)",
             dict(STYLES), "closed", ("style",), _label("style")),
    ]
    return {t.name: t for t in specs}


_TASKS: dict[str, Task] | None = None


def tasks() -> dict[str, Task]:
    """All registered tasks, by name (built on first use)."""
    global _TASKS
    if _TASKS is None:
        _TASKS = _build()
    return _TASKS


def task_names() -> list[str]:
    return list(tasks())


def get_task(name: str) -> Task:
    try:
        return tasks()[name.lower()]
    except KeyError:
        raise UserError(f"unknown task {name!r}; known tasks: {', '.join(tasks())}") from None


def register_task(task: Task, replace: bool = False) -> None:
    """Add a task (e.g. a corpus-specific one) to the registry."""
    if task.name in tasks() and not replace:
        raise ValueError(f"task {task.name!r} is already registered")
    tasks()[task.name] = task


def metric_for(task: str, override: str | None = None) -> str | None:
    """The metric scoring ``task`` (a hypothesis record may name one itself); None if unknown."""
    if override:
        return override
    known = tasks().get(str(task).lower())
    return known.metric if known is not None else None


def task_order(task: str) -> tuple[int, str]:
    """Sort key in registry order (ASR, ST, IC, SF, ...); unknown tasks last, by name."""
    order = list(tasks())
    return (order.index(task) if task in order else len(order), task)
