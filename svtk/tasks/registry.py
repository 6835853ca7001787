"""The task registry: the paper's 11 tasks plus the mini extras, each with its metric, closed
label set (label -> description), target builder, output parser and joint-decoding form.

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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from svtk.errors import UserError

METRICS = ("wer", "bleu", "accuracy", "uar", "f1", "slu_f1")
NONE = "none"  # the target of an empty slot or keyword list

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


def normalize_label_text(text: str) -> str:
    """Lower-case, trim whitespace and trailing punctuation/quotes, collapse spaces."""
    text = re.sub(r"\s+", " ", text.strip().lower())
    return text.strip(" .,!?;:\"'`")


# --------------------------------------------------------------------------------------------
# Parsers and formatters (structured answer <-> text)
# --------------------------------------------------------------------------------------------


def format_slots(slots) -> str:  # noqa: ANN001 - iterable of (type, value)
    items = [f"{t}: {v}" for t, v in slots]
    return "; ".join(items) if items else NONE


def parse_slots(text: str) -> list[tuple[str, str]]:
    """``"room: kitchen; date: today"`` -> [("room", "kitchen"), ("date", "today")].

    Tolerant: empty parts and parts without a colon are dropped; ``none`` is the empty list.
    """
    out = []
    if normalize_label_text(text) in ("", NONE):
        return out
    for part in text.split(";"):
        if ":" not in part:
            continue
        t, _, v = part.partition(":")
        t, v = normalize_label_text(t).replace(" ", "_"), re.sub(r"\s+", " ", v.strip().lower())
        if t and v:
            out.append((t, v))
    return out


def format_keywords(words) -> str:  # noqa: ANN001 - iterable of str
    words = list(words)
    return ", ".join(words) if words else NONE


def parse_keywords(text: str) -> list[str]:
    """``"lights, kitchen"`` -> ["lights", "kitchen"] (lower-case, no repeats, order kept)."""
    if normalize_label_text(text) in ("", NONE):
        return []
    out: list[str] = []
    for w in text.split(","):
        w = normalize_label_text(w)
        if w and w not in out:
            out.append(w)
    return out


def parse_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())


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

    def parse(self, text: str) -> Any:
        """A model output as a structured answer (label string / slot list / keyword list)."""
        if self.kind == "slots":
            return parse_slots(text)
        if self.kind == "keywords":
            return parse_keywords(text)
        if self.kind == "closed":
            norm = normalize_label_text(text)
            for label in self.labels or {}:
                if norm == label or norm == label.replace("_", " "):
                    return label
            return norm
        return parse_text(text)

    def format(self, answer: Any) -> str:
        """The inverse of :meth:`parse` for targets: structured answer -> text."""
        if self.kind == "slots":
            return format_slots(answer)
        if self.kind == "keywords":
            return format_keywords(answer)
        return str(answer)

    def format_joint(self, transcript: str, output: str) -> str:
        """``ASR: <transcript> | IC: <label> |``."""
        return f"ASR: {parse_text(transcript)} | {self.tag}: {output.strip()} |"

    def parse_joint(self, text: str) -> tuple[str, str]:
        """(transcript, task output) from a joint-form output; tolerant of a missing part."""
        return parse_joint(text, self.tag)


_JOINT_ASR = re.compile(r"^\s*ASR\s*:\s*", re.IGNORECASE)


def parse_joint(text: str, tag: str) -> tuple[str, str]:
    """Split ``ASR: <t> | TAG: <o> |`` into (t, o). A missing part is returned as ``""``."""
    body = _JOINT_ASR.sub("", text, count=1)
    m = re.search(rf"\|\s*{re.escape(tag)}\s*:", body, re.IGNORECASE)
    if m is None:  # no task part: everything before the first bar is the transcript
        return parse_text(body.split("|", 1)[0]), ""
    transcript = body[: m.start()]
    output = body[m.end():]
    output = output.rsplit("|", 1)[0] if output.rstrip().endswith("|") else output
    return parse_text(transcript), output.strip()


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
