"""Real SLURP text (devel/test annotations, CC BY 4.0) as sentences for the synthetic corpus.

SLURP's ``devel.jsonl`` feeds train and dev, ``test.jsonl`` feeds test_seen and test_unseen (a
sentence goes to one split, by a seeded hash), so IC/SF can be trained and tested on real
language, real intents (``scenario_action``) and real slots, spoken by the same voices.
There are no translations or sentiment labels: ST and ASC examples come from the grammar.

Reads ``<slurp_dir>/{devel,test}.jsonl``.

Usage::

    sentences = slurp_sentences("../shared/data/slurp", seed=0, splits=["train", "test_seen"])
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from svtk.data.grammar import Sentence
from svtk.errors import UserError

SOURCES = {"train": "devel", "dev": "devel", "test_seen": "test", "test_unseen": "test"}
_SPAN = re.compile(r"\[\s*([\w-]+)\s*:\s*([^\]]+?)\s*\]")


def normalize(text: str) -> str:
    """Lower-case, spoken-form friendly: drop punctuation except apostrophes inside words."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def parse_annotation(annotation: str) -> list[tuple[str, str]]:
    """``"wake me up at [time : five am]"`` -> [("time", "five am")]."""
    return [(t, normalize(v)) for t, v in _SPAN.findall(annotation)]


def read_slurp(path: str | Path) -> list[Sentence]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"SLURP file not found: {path} (expected devel.jsonl and test.jsonl "
                        "from the SLURP repository's dataset/slurp directory)")
    out = []
    for n, line in enumerate(path.read_text().splitlines()):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            text = normalize(d["sentence"])
            slots = parse_annotation(d["sentence_annotation"])
            intent = d["intent"]
        except (KeyError, json.JSONDecodeError) as e:
            raise UserError(f"{path}:{n + 1}: not a SLURP annotation line ({e})") from e
        if text:
            out.append(Sentence(text=text, domain="command", template=-1, translations={},
                                intent=intent, slots=slots, sentiment=None))
    return out


def slurp_sentences(slurp_dir: str | Path, seed: int, splits: list[str]) -> dict[str, list[Sentence]]:
    """Sentences per split, deduplicated by text, each text in one split only."""
    slurp_dir = Path(slurp_dir)
    out: dict[str, list[Sentence]] = {s: [] for s in splits}
    for source in sorted({SOURCES[s] for s in splits}):
        targets = [s for s in splits if SOURCES[s] == source]
        seen: set[str] = set()
        for sent in read_slurp(slurp_dir / f"{source}.jsonl"):
            if sent.text in seen:
                continue
            seen.add(sent.text)
            h = hashlib.blake2b(f"{seed}\0{sent.text}".encode(), digest_size=8).digest()
            weights = {"train": 0.9, "dev": 0.1, "test_seen": 0.5, "test_unseen": 0.5}
            total = sum(weights[t] for t in targets)
            u, acc = int.from_bytes(h, "big") / 2**64, 0.0
            for t in targets:
                acc += weights[t] / total
                if u < acc:
                    out[t].append(sent)
                    break
            else:
                out[targets[-1]].append(sent)
    return out
