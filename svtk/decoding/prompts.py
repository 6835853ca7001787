"""Prompt selection at decode time: the cut's own prompt, the bank's seen or unseen prompts, or a
user's YAML prompt bank.

Banks are YAML. ``conf/prompts/<task>.yaml`` (one per task) holds lists under keys such as
``train:`` (prompts used in training) and ``unseen:`` (held out for evaluation). A user's FILE
is either one mapping ``task -> [prompts]`` (or ``task -> {any key: [prompts]}``, all lists
joined), or a single-task bank named ``<task>.yaml`` with lists under any keys. Each cut gets a
prompt chosen by a hash of its id, so a decode is reproducible and prompts are spread evenly.
Placeholders are filled exactly as the task cuts were built (:func:`fill_prompt`, the same
``svtk.tasks.prompts.render``): ``{labels}`` with the cut's labels and their descriptions, one
``label (description)`` per line, ``{label_names}`` with the labels comma-separated, ``{keyword}``
(KWS) and ``{language}`` (ST) with the cut's own fields (``keyword``, ``lang``); a prompt whose
field the cut lacks is not used (the cut keeps its own prompt).

Usage::

    chooser = PromptChooser.from_option("unseen", prompt_dir="conf/prompts")
    prompt = chooser.prompt_for(cut)   # None: keep the cut's prompt
    prompt = chooser.prompt_for(cut, joint=True)   # + "... ASR: <transcript> | IC: <answer> |"
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from svtk.errors import UserError
from svtk.tasks.formats import joint_tag
from svtk.tasks.prompts import JOINT_BANK, joint_prompt, label_descriptions, placeholders, render

log = logging.getLogger(__name__)

BANK_MODES = ("cut", "train", "unseen")


def default_prompt_dir() -> Path:
    """``conf/prompts`` of the svtk checkout (the shared prompt banks)."""
    return Path(__file__).resolve().parents[2] / "conf" / "prompts"


def _as_list(value, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, dict):
        return [p for v in value.values() for p in _as_list(v, where)]
    raise UserError(f"{where}: prompts must be strings or lists of strings, got {value!r}")


def read_user_bank(path: str | Path) -> dict[str, list[str]]:
    """A user's prompt bank: ``task -> prompts`` (see the module docstring for the shapes)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"prompt bank not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a prompt bank is a mapping (task -> prompts)")
    if all(isinstance(v, list) for v in data.values()) and set(data) & {"train", "unseen", "prompts"}:
        return {path.stem.lower(): _as_list(data, str(path))}  # a single-task bank
    return {str(task).lower(): _as_list(v, f"{path}: {task}") for task, v in data.items()}


@dataclass
class PromptChooser:
    mode: str  # "cut", "train", "unseen" or "file"
    bank_dir: Path | None = None
    user_bank: dict[str, list[str]] | None = None
    _cache: dict[str, list[str] | None] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)

    @classmethod
    def from_option(cls, option: str, prompt_dir: str | Path | None = None) -> PromptChooser:
        if option in BANK_MODES:
            return cls(option, Path(prompt_dir) if prompt_dir else default_prompt_dir())
        return cls("file", None, read_user_bank(option))

    def prompts(self, task: str) -> list[str] | None:
        if task in self._cache:
            return self._cache[task]
        found: list[str] | None = None
        if self.mode == "file":
            found = (self.user_bank or {}).get(task)
        elif self.mode in ("train", "unseen"):
            path = self.bank_dir / f"{task}.yaml"
            if path.is_file():
                data = yaml.safe_load(path.read_text()) or {}
                if isinstance(data, dict) and data.get(self.mode):
                    found = _as_list(data[self.mode], str(path))
        self._cache[task] = found
        return found

    def prompt_for(self, cut, joint: bool = False) -> str | None:
        """The prompt to decode ``cut`` with; None keeps the cut's own prompt. ``joint``: the
        prompt also asks for ``ASR: ... | TAG: ... |`` (the joint bank's first suffix), as joint
        training examples do, unless it is a joint cut's own prompt, which already does."""
        prompt = self._bank_prompt(cut)
        custom = cut.custom or {}
        if joint and (prompt is not None or not custom.get("joint")):
            kind = self.mode if self.mode in ("train", "unseen") else "train"
            base = prompt if prompt is not None else str(custom.get("prompt", ""))
            own = self.bank_dir is not None and (self.bank_dir / f"{JOINT_BANK}.yaml").is_file()
            prompt = joint_prompt(base, joint_tag(str(custom.get("task", ""))), kind=kind,
                                  source=self.bank_dir if own else None)  # else svtk's bank
        return prompt

    def _bank_prompt(self, cut) -> str | None:
        if self.mode == "cut":
            return None
        task = str((cut.custom or {}).get("task", "")).lower()
        bank = self.prompts(task)
        if not bank:
            if task not in self._warned:
                self._warned.add(task)
                log.warning("no %s prompts for task %r; keeping the cuts' own prompts", self.mode, task)
            return None
        template = bank[zlib.crc32(cut.id.encode()) % len(bank)]
        prompt = fill_prompt(template, task, cut.custom or {})
        if prompt is None:
            key = f"{task}:{template}"
            if key not in self._warned:
                self._warned.add(key)
                log.warning("%s prompt %r needs %s, which the cuts of task %r lack; keeping the "
                            "cuts' own prompts", self.mode, template, sorted(placeholders(template)),
                            task)
        return prompt


def fill_prompt(template: str, task: str, custom: dict) -> str | None:
    """``template`` with its placeholders filled from a task cut's custom fields, as
    ``svtk data tasks`` renders training prompts; None when the cut lacks a field it needs."""
    labels = custom.get("labels")
    fields = cut_prompt_fields(custom)
    need = placeholders(template)
    if (need & {"labels", "label_names"} and not labels) or need - {"labels", "label_names"} - set(fields):
        return None
    return render(template, labels=label_descriptions(task, list(labels)) if labels else None, **fields)


def cut_prompt_fields(custom: dict) -> dict[str, str]:
    """The per-example prompt fields a task cut carries: ``keyword`` (KWS), ``language`` (ST)."""
    from svtk.data.grammar import LANGUAGES

    fields = {}
    if custom.get("keyword"):
        fields["keyword"] = str(custom["keyword"])
    if custom.get("lang"):
        fields["language"] = LANGUAGES.get(custom["lang"], custom["lang"])
    return fields
