"""``svtk data tasks``: from manifests to task cuts, one lhotse MonoCut per (recording, task).

Every cut carries one supervision (the text and all metadata) and the custom fields of the
shared contract: ``task``, ``prompt``, ``target``, ``labels`` (closed-set candidates, or the slot
types for SF; None for open tasks), ``joint`` (target in the form ``ASR: ... | IC: ... |``), plus
``prompt_kind`` (train / unseen), ``heldout`` (the answer is a label held out of training) and
the per-example prompt fields (``keyword`` for KWS, ``lang`` for ST).

What the config decides (``TasksConfig``): which tasks and what share of eligible recordings per
task, class balance of closed tasks (cap per class relative to the rarest), the KWS yes share,
ST target languages, the share of joint examples, the output splits (each from a manifest split,
with training or unseen prompts, optionally only prompts that list the labels, optionally a
subset of tasks) and labels held out of training entirely (for unseen-label tests).

Reads ``<data>/manifests/<corpus>_*_<split>.jsonl.gz`` and the prompt banks; writes
``<data>/tasks/<split>.jsonl.gz`` and ``<data>/tasks/summary.json``.

Usage::

    cfg = load_config(TasksConfig, "egs/mini/conf/tasks.yaml")
    build_tasks(cfg, "data")
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svtk.data.grammar import LANGUAGES
from svtk.errors import UserError
from svtk.tasks.prompts import joint_prompt, label_descriptions, load_prompts
from svtk.tasks.registry import Task, get_task

log = logging.getLogger(__name__)

MINI_TASKS = ("asr", "st", "ic", "sf", "kwe", "kws", "asc", "sc", "ac", "sns", "gender", "style")
# Which recordings a task may use (supervision custom "kind"; real corpora have none = "utt").
TASK_KINDS = {"sc": ("sc",), "sns": ("utt", "sc", "nonspeech")}


@dataclass
class TaskSpec:
    share: float = 1.0  # fraction of the eligible recordings that become examples of this task
    max_items: int | None = None  # cap per output split (None: no cap)
    # Closed tasks, training splits: cap each class at this x the rarest (None: off). Evaluation
    # splits keep their natural distribution (UAR is insensitive to it; nothing is thrown away).
    balance: float | None = 1.5


@dataclass
class SplitSpec:
    source: str  # the manifest split the recordings come from
    prompts: str = "train"  # "train" or "unseen" instructions
    # evaluation split: candidates list every label; examples of held-out labels stay where the
    # prompts list the labels (with_labels) or the split asks for them (heldout_only)
    eval: bool = False
    tasks: list[str] | None = None  # a subset of the configured tasks (None: all)
    with_labels: bool | None = None  # True: only prompts listing the labels; False: only others
    joint_share: float | None = None  # share of joint examples (None: joint.share, 0 for eval)
    heldout_only: bool = False  # keep only examples whose answer is a held-out label


@dataclass
class JointConfig:
    share: float = 0.2  # share of training examples of these tasks given in joint form
    tasks: list[str] = field(default_factory=lambda: ["ic", "sf", "kwe", "kws", "asc", "st"])


@dataclass
class TasksConfig:
    corpus: str = "mini"  # manifest prefix
    seed: int = 0  # prompt choice, KWS keywords, ST language, sampling: all from this seed
    tasks: dict[str, TaskSpec] = field(default_factory=lambda: {t: TaskSpec() for t in MINI_TASKS})
    splits: dict[str, SplitSpec] = field(default_factory=lambda: {
        "train": SplitSpec("train"),
        "dev": SplitSpec("dev"),
        "test_seen": SplitSpec("test_seen", eval=True),
        "test_seen_unseenprompt": SplitSpec("test_seen", prompts="unseen", eval=True),
        "test_unseen": SplitSpec("test_unseen", eval=True),
    })
    holdout_labels: dict[str, list[str]] = field(default_factory=dict)  # task -> labels
    kws_yes_share: float = 0.65  # KWS: share of "yes" (paper ~70/30; 65/35 keeps balance < 2x)
    st_languages: list[str] = field(default_factory=lambda: list(LANGUAGES))
    joint: JointConfig = field(default_factory=JointConfig)
    prompts_dir: Path | None = None  # prompt banks (None: svtk's conf/prompts)

    def __post_init__(self):
        for name in list(self.tasks) + list(self.holdout_labels) + list(self.joint.tasks):
            get_task(name)  # raises on an unknown task name
        for name, spec in self.splits.items():
            if spec.prompts not in ("train", "unseen"):
                raise ValueError(f"splits.{name}.prompts must be 'train' or 'unseen'")
            for t in spec.tasks or []:
                if t not in self.tasks:
                    raise ValueError(f"splits.{name}.tasks: {t!r} is not among tasks")


def _meta(sup) -> dict[str, Any]:  # noqa: ANN001 - lhotse SupervisionSegment
    m = dict(sup.custom or {})
    m["text"] = sup.text
    m["id"] = sup.id
    return m


def label_universe(task: Task, metas: list[dict]) -> list[str]:
    """The task's labels that occur in the corpus, in registry order (unknown ones sorted last)."""
    if task.fields:  # the answer depends on the question (KWS yes/no): the registry's set
        return list(task.labels or {})
    if task.kind == "slots":
        seen = {t for m in metas if task.applies(m) for t, _ in m["slots"]}
    else:
        seen = {task.target(m) for m in metas if task.applies(m) and _kind_ok(task, m)}
    known = [lab for lab in (task.labels or {}) if lab in seen]
    return known + sorted(seen - set(known))


def _kind_ok(task: Task, m: dict) -> bool:
    return m.get("kind", "utt") in TASK_KINDS.get(task.name, ("utt",))


class Builder:
    def __init__(self, cfg: TasksConfig, splits_meta: dict[str, list[tuple[Any, Any]]]):
        self.cfg = cfg
        self.data = splits_meta  # source split -> [(recording, supervision)]
        all_metas = [_meta(s) for pairs in splits_meta.values() for _, s in pairs]
        self.universe = {t: label_universe(get_task(t), all_metas) for t in cfg.tasks
                         if get_task(t).labels is not None}
        for t, held in cfg.holdout_labels.items():
            unknown = set(held) - set(self.universe.get(t, []))
            if unknown:
                raise UserError(f"holdout_labels.{t}: {sorted(unknown)} do not occur in the "
                                f"corpus (labels: {self.universe.get(t)})")
        self.vocab = sorted({w for m in all_metas for w in m.get("keywords", []) or []})

    def build_split(self, name: str, spec: SplitSpec) -> list:
        from lhotse import MonoCut

        cuts = []
        pairs = self.data[spec.source]
        metas = [_meta(s) for _, s in pairs]
        joint_share = spec.joint_share if spec.joint_share is not None else (
            0.0 if spec.eval else self.cfg.joint.share)
        for tname in spec.tasks or list(self.cfg.tasks):
            task, tspec = get_task(tname), self.cfg.tasks[tname]
            rng = random.Random(f"{self.cfg.seed}:{name}:{tname}")
            held = set(self.cfg.holdout_labels.get(tname, []))
            labels = self.universe.get(tname)
            if labels is not None and not spec.eval:
                labels = [lab for lab in labels if lab not in held]
            examples = []
            for (rec, sup), m in zip(pairs, metas, strict=False):
                if not (task.applies(m) and _kind_ok(task, m)) or rng.random() >= tspec.share:
                    continue
                fields = self._fields(task, m, rng)
                if fields is None:
                    continue
                target = task.target(m, **fields)
                is_held = self._is_held(task, m, target, held)
                if is_held and not (spec.eval and (spec.with_labels or spec.heldout_only)):
                    continue  # only a prompt that lists a held-out label can ask for it
                if spec.heldout_only and not is_held:
                    continue
                examples.append((rec, sup, fields, target, is_held))
            if task.closed and tspec.balance is not None and not spec.eval:
                examples = _balance(examples, tspec.balance, rng)
            if tspec.max_items is not None and len(examples) > tspec.max_items:
                examples = sorted(rng.sample(examples, tspec.max_items), key=lambda e: e[1].id)
            bank = load_prompts(tname, self.cfg.prompts_dir)
            for rec, sup, fields, target, is_held in examples:
                prompt_fields = dict(fields)
                if "lang" in fields:
                    prompt_fields["language"] = LANGUAGES.get(fields["lang"], fields["lang"])
                label_desc = label_descriptions(tname, labels) if labels else None
                prompt = bank.sample(rng, spec.prompts, labels=label_desc,
                                     with_labels=spec.with_labels if label_desc else None,
                                     **prompt_fields)
                joint = tname in self.cfg.joint.tasks and rng.random() < joint_share
                if joint:
                    prompt = joint_prompt(prompt, task.tag, rng, spec.prompts, self.cfg.prompts_dir)
                    target = task.format_joint(sup.text, target)
                cut_id = f"{sup.id}_{tname}" + ("_joint" if joint else "")
                cuts.append(MonoCut(
                    id=cut_id, start=0.0, duration=rec.duration, channel=0, recording=rec,
                    supervisions=[sup.with_offset(-sup.start) if sup.start else sup],
                    custom={"task": tname, "prompt": prompt, "target": target,
                            "labels": list(labels) if labels else None, "joint": joint,
                            "prompt_kind": spec.prompts, "heldout": is_held, **fields},
                ))
        return cuts

    def _fields(self, task: Task, m: dict, rng: random.Random) -> dict[str, Any] | None:
        if task.name == "kws":
            words = set(m["text"].split())
            own = [w for w in (m.get("keywords") or []) if w in words]
            if own and rng.random() < self.cfg.kws_yes_share:
                return {"keyword": rng.choice(own)}
            others = [w for w in self.vocab if w not in words]
            return {"keyword": rng.choice(others)} if others else None
        if task.name == "st":
            langs = [lang for lang in self.cfg.st_languages if lang in (m.get("translations") or {})]
            return {"lang": rng.choice(langs)} if langs else None
        return {}

    @staticmethod
    def _is_held(task: Task, m: dict, target: str, held: set[str]) -> bool:
        if not held:
            return False
        if task.kind == "slots":
            return any(t in held for t, _ in m["slots"])
        return target in held


def _balance(examples: list, ratio: float, rng: random.Random) -> list:
    """Cap every class at ``ratio`` x the rarest class (random choice, original order kept)."""
    by_class: dict[str, list[int]] = {}
    for i, e in enumerate(examples):
        by_class.setdefault(e[3], []).append(i)
    if len(by_class) < 2:
        return examples
    cap = max(1, math.floor(ratio * min(len(v) for v in by_class.values())))
    keep: set[int] = set()
    for idx in by_class.values():
        keep.update(idx if len(idx) <= cap else rng.sample(idx, cap))
    return [e for i, e in enumerate(examples) if i in keep]


def tasks_path(data_dir: str | Path, split: str) -> Path:
    return Path(data_dir) / "tasks" / f"{split}.jsonl.gz"


def build_tasks(cfg: TasksConfig, data_dir: str | Path, force: bool = False) -> dict[str, Any]:
    """Write ``<data>/tasks/<split>.jsonl.gz`` for every configured split; skip when done.

    Returns the summary: examples per split and task (also written to ``tasks/summary.json``).
    """
    import json

    from lhotse import CutSet

    from svtk.data.manifests import load_manifests, manifest_path, save_manifest
    from svtk.stage import Stage, atomic_write_json
    from svtk.tasks.prompts import prompts_dir

    data_dir = Path(data_dir)
    sources = sorted({s.source for s in cfg.splits.values()})
    inputs = [manifest_path(data_dir, cfg.corpus, k, s) for s in sources
              for k in ("recordings", "supervisions")]
    inputs.append(Path(cfg.prompts_dir) if cfg.prompts_dir else prompts_dir())
    out_dir = data_dir / "tasks"
    stage = Stage(f"tasks_{cfg.corpus}", out_dir, config=cfg,
                  inputs=[p for p in inputs if p.exists()], force=force)
    if stage.is_done():
        return json.loads((out_dir / "summary.json").read_text())
    data = {}
    for s in sources:
        recs, sups = load_manifests(data_dir, cfg.corpus, s)
        data[s] = [(recs[sup.recording_id], sup) for sup in sups]
    builder = Builder(cfg, data)
    summary: dict[str, Any] = {"splits": {}, "labels": builder.universe,
                               "holdout_labels": cfg.holdout_labels}
    outputs = []
    for name, spec in cfg.splits.items():
        cuts = builder.build_split(name, spec)
        counts = Counter(c.custom["task"] for c in cuts)
        joint = Counter(c.custom["task"] for c in cuts if c.custom["joint"])
        summary["splits"][name] = {"source": spec.source, "prompts": spec.prompts,
                                   "cuts": len(cuts), "tasks": dict(sorted(counts.items())),
                                   "joint": dict(sorted(joint.items()))}
        path = tasks_path(data_dir, name)
        save_manifest(CutSet.from_cuts(cuts), path)
        outputs.append(path)
        log.info("tasks: %s: %d cuts (%s)", name, len(cuts),
                 ", ".join(f"{t} {n}" for t, n in sorted(counts.items())))
    atomic_write_json(out_dir / "summary.json", summary)
    stage.mark_done(outputs=outputs + [out_dir / "summary.json"])
    return summary
