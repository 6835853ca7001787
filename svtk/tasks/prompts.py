"""Prompt banks: natural-language instructions per task, training and held-out ("unseen") sets.

A bank is YAML, ``conf/prompts/<task>.yaml``::

    task: ic
    train:                      # sampled uniformly for training (and "seen-prompt" evaluation)
      - "What does the speaker want? Reply with one intent label."
      - "Which of these intents fits the command? {labels}"
    unseen:                     # never used in training; evaluation of prompt robustness
      - ...

Placeholders filled per example: ``{labels}`` (the candidate labels with their descriptions,
``label (description)``, one per line), ``{label_names}`` (labels only, comma separated),
``{keyword}`` (KWS) and ``{language}`` (ST target language name). A user file given to
``--prompts FILE`` may hold one task (``train``/``unseen`` keys) or several (task names as keys).

Reads ``conf/prompts/*.yaml`` (or another directory); writes nothing.

Usage::

    bank = load_prompts("ic")
    bank.sample(random.Random(0), "unseen", labels={"lights_on": "switch the lights on"})
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from svtk.errors import UserError
from svtk.tasks.registry import get_task

KINDS = ("train", "unseen")
PLACEHOLDERS = frozenset({"labels", "label_names", "keyword", "language"})
JOINT_BANK = "joint"  # conf/prompts/joint.yaml: suffixes that ask for the joint form


def prompts_dir() -> Path:
    """The prompt banks shipped with svtk: ``<checkout>/conf/prompts``."""
    return Path(__file__).resolve().parents[2] / "conf" / "prompts"


def placeholders(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def label_descriptions(task: str, labels: list[str]) -> dict[str, str]:
    """label -> description for ``{labels}``: the task registry's text, else the label's words
    (``set_alarm`` -> ``set alarm``). The same for building task cuts and for decoding."""
    try:
        known = get_task(task).labels or {}
    except UserError:  # a task of the user's own prompt bank, not in the registry
        known = {}
    return {lab: known.get(lab, lab.replace("_", " ")) for lab in labels}


def describe_labels(labels: dict[str, str] | list[str]) -> str:
    """``lights_on (switch the lights on)`` lines for a prompt that lists the candidates."""
    if not isinstance(labels, dict):
        labels = {lab: "" for lab in labels}
    return "\n".join(f"{lab} ({desc})" if desc else lab for lab, desc in labels.items())


@dataclass(frozen=True)
class PromptBank:
    task: str
    train: tuple[str, ...]
    unseen: tuple[str, ...]
    source: str = "<memory>"

    def __post_init__(self):
        for kind in KINDS:
            for p in getattr(self, kind):
                bad = placeholders(p) - PLACEHOLDERS
                if bad:
                    raise UserError(f"{self.source}: prompt {p!r} has unknown placeholder(s) "
                                    f"{sorted(bad)} (known: {sorted(PLACEHOLDERS)})")

    def prompts(self, kind: str = "train", with_labels: bool | None = None) -> list[str]:
        """The instructions of ``kind``; ``with_labels`` keeps only those (not) listing labels."""
        if kind not in KINDS:
            raise UserError(f"prompt kind must be one of {KINDS}, got {kind!r}")
        out = list(getattr(self, kind))
        if with_labels is not None:
            out = [p for p in out if bool(placeholders(p) & {"labels", "label_names"}) == with_labels]
        if not out:
            what = "" if with_labels is None else (" listing labels" if with_labels else " without labels")
            raise UserError(f"{self.source}: no {kind} prompts{what} for task {self.task}")
        return out

    def sample(self, rng: random.Random, kind: str = "train", labels: Any = None,
               with_labels: bool | None = None, **fields: Any) -> str:
        """One instruction drawn uniformly from ``kind``, placeholders filled."""
        return render(rng.choice(self.prompts(kind, with_labels)), labels=labels, **fields)


def render(template: str, labels: dict[str, str] | list[str] | None = None, **fields: Any) -> str:
    need = placeholders(template)
    values: dict[str, Any] = {}
    if need & {"labels", "label_names"}:
        if not labels:
            raise UserError(f"prompt {template!r} lists labels but none were given")
        values["labels"] = describe_labels(labels)
        values["label_names"] = ", ".join(labels)
    for f in need - {"labels", "label_names"}:
        if fields.get(f) is None:
            raise UserError(f"prompt {template!r} needs {{{f}}} but it was not given")
        values[f] = fields[f]
    return template.format(**values)


def _bank(task: str, data: Any, source: str) -> PromptBank:
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in KINDS):
        raise UserError(f"{source}: a prompt bank needs lists 'train' and 'unseen' (task {task})")
    return PromptBank(task, tuple(map(str, data["train"])), tuple(map(str, data["unseen"])), source)


def read_bank_file(path: str | Path) -> dict[str, PromptBank]:
    """Banks in one YAML file: a single task (``task:``, ``train:``, ``unseen:``) or several
    (task name -> {train, unseen})."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"prompt bank not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if "train" in data:
        return {str(data.get("task", path.stem)): _bank(data.get("task", path.stem), data, str(path))}
    return {str(t): _bank(t, d, str(path)) for t, d in data.items()}


_CACHE: dict[tuple[str, str], PromptBank] = {}


def load_prompts(task: str, source: str | Path | None = None) -> PromptBank:
    """The bank of ``task`` from a directory of ``<task>.yaml`` or a bank file (default: svtk's)."""
    src = Path(source) if source is not None else prompts_dir()
    key = (task, str(src.resolve()))
    if key not in _CACHE:
        if src.is_dir():
            banks = read_bank_file(src / f"{task}.yaml")
        else:
            banks = read_bank_file(src)
        if task not in banks:
            raise UserError(f"{src}: no prompts for task {task!r} (has: {', '.join(banks)})")
        _CACHE[key] = banks[task]
    return _CACHE[key]


def joint_prompt(prompt: str, tag: str, rng: random.Random | None = None, kind: str = "train",
                 source: str | Path | None = None) -> str:
    """``prompt`` plus an instruction to answer as ``ASR: <transcript> | TAG: <answer> |``.

    Without ``rng`` the first suffix of ``kind`` is used (deterministic, for decoding).
    """
    bank = load_prompts(JOINT_BANK, source)
    suffixes = bank.prompts(kind)
    suffix = rng.choice(suffixes) if rng is not None else suffixes[0]
    return f"{prompt.rstrip()} {suffix.replace('TAG', tag)}"
