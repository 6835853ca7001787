"""Reading ``hyps.jsonl`` and the reference id set, counting bad input instead of dropping it.

``hyps.jsonl`` (written by ``svtk decode``): one JSON per line
``{"id", "task", "prompt", "hyp", "ref", "raw", "joint": bool, "labels": [...] | null}``; for
joint decoding also ``"hyp_asr"`` and ``"ref_asr"``. An optional ``"metric"`` names the metric
for a task this module does not know.

A reference set (``--ref-cuts``: the task cuts the decode ran on, lhotse ``jsonl.gz`` with
custom fields ``task``, ``target``, ``labels``, ``joint``) or an id list (``--ids``: one id per
line, first field) lets the scorer find utterances the decoder never wrote. What happens to
them follows Kaldi's ``compute-wer --mode``: ``all`` scores them as empty hypotheses (needs the
references, so only with ``--ref-cuts``), ``present`` leaves them out, ``strict`` refuses.
Either way they are counted and listed in ``scores.json``.

Usage::

    records, issues = read_hyps(dir / "hyps.jsonl")
    refs = read_ref_cuts("data/tasks/test.jsonl.gz")
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from svtk.errors import UserError
from svtk.tasks import parse_joint


@dataclass
class Issues:
    """Bad-input counts for one hyps file (and the ids involved, for the record)."""

    counts: Counter = field(default_factory=Counter)
    ids: dict[str, list[str]] = field(default_factory=dict)

    def note(self, kind: str, uid: str | None = None, n: int = 1) -> None:
        self.counts[kind] += n
        if uid is not None:
            self.ids.setdefault(kind, []).append(uid)

    def as_dict(self, max_ids: int = 100) -> dict:
        return {"counts": dict(sorted(self.counts.items())),
                "ids": {k: v[:max_ids] for k, v in sorted(self.ids.items())}}


def _open(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open()


def read_hyps(path: str | Path, issues: Issues | None = None) -> tuple[list[dict], Issues]:
    """Records of a hyps file; duplicates keep the first, malformed fields are counted."""
    path = Path(path)
    issues = issues or Issues()
    if not path.is_file():
        raise UserError(f"no hypotheses file: {path} (run 'svtk decode' first)")
    seen: set[str] = set()
    out = []
    with _open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise UserError(f"{path}:{n}: not valid JSON ({e})") from e
            if not isinstance(rec, dict) or not rec.get("id") or not rec.get("task"):
                raise UserError(f"{path}:{n}: a hypothesis needs at least 'id' and 'task'")
            uid = str(rec["id"])
            if uid in seen:
                issues.note("duplicate_ids", uid)
                continue
            seen.add(uid)
            for key in ("hyp", "ref"):
                if rec.get(key) is None:
                    issues.note(f"no_{key}", uid)
                    rec[key] = ""
            if rec.get("joint") and rec.get("ref_asr") is None:
                issues.note("joint_without_ref_asr", uid)  # its transcript WER counts all as ins
            if rec.get("joint") and rec.get("hyp_asr") is None:
                # A decoder that kept only the raw joint output: recover both parts here.
                parts = parse_joint(rec.get("raw"))  # any task tag
                if parts.transcript is None:
                    issues.note("joint_unparsed", uid)
                rec["hyp_asr"] = parts.transcript or ""
                if parts.output is not None and not rec.get("hyp"):
                    rec["hyp"] = parts.output
            out.append(rec)
    return out, issues


def read_ref_cuts(path: str | Path) -> dict[str, dict]:
    """``id -> {"task", "ref", "labels", "joint", "ref_asr"}`` from task cuts (jsonl[.gz])."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such reference cut set: {path}")
    out = {}
    with _open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            cut = json.loads(line)
            custom = cut.get("custom") or {}
            if "id" not in cut or "task" not in custom:
                raise UserError(f"{path}:{n}: not a task cut (needs id and custom.task)")
            target = custom.get("target", "")
            ref_asr = None
            if custom.get("joint"):
                parts = parse_joint(target, custom["task"])
                ref_asr, target = parts.transcript, parts.output
            out[str(cut["id"])] = {"task": custom["task"], "ref": target or "",
                                   "labels": custom.get("labels"), "joint": bool(custom.get("joint")),
                                   "ref_asr": ref_asr}
    return out


def read_id_list(path: str | Path) -> list[str]:
    """Ids from a Kaldi-style list (first whitespace field of each non-empty line)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such id list: {path}")
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
