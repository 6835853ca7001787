"""Builders for scoring tests: deterministic ref/hyp pairs, hyps files, fake experiment dirs.

Everything is seeded and built in code, so a test (or ``tests/scoring/fixtures/regenerate.py``)
can make the same files again. :func:`make_fake_exp` builds an experiment directory as the
training and decoding stages leave it (phase ``metrics.jsonl`` files, decode directories with
``hyps.jsonl`` and ``decode_info.json``) and scores it, ready for ``svtk report``.

Usage::

    exp = make_fake_exp(tmp_path / "exp" / "mini")
    write_report(exp)
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

from svtk.tasks.formats import format_joint

WORDS = ("the a cat dog sat on mat red blue green set alarm for seven am play some music "
         "what is weather like today tomorrow in london paris call mom please turn off lights "
         "it's don't twenty five percent").split()
DE = "der die das katze hund sitzt auf matte rot blau grün morgen heute bitte musik".split()
INTENTS = ["alarm_set", "play_music", "weather_query", "calendar_set", "iot_lights_off"]
SLOT_TYPES = ["date", "time", "place_name", "person", "event_name"]
GENDERS = ["female", "male"]
STYLES = ["neutral", "fast", "slow", "loud", "whisper"]


def _sentence(rng: random.Random, lo: int = 3, hi: int = 10, vocab=WORDS) -> str:
    return " ".join(rng.choice(vocab) for _ in range(rng.randint(lo, hi)))


def _corrupt_words(rng: random.Random, text: str, rate: float, vocab=WORDS) -> str:
    out = []
    for w in text.split():
        u = rng.random()
        if u < rate / 3:
            continue  # deletion
        if u < 2 * rate / 3:
            out.append(rng.choice(vocab))  # substitution (may hit the same word)
        else:
            out.append(w)
        if rng.random() < rate / 3:
            out.append(rng.choice(vocab))  # insertion
    return " ".join(out)


def wer_pairs(seed: int = 0, n: int = 40) -> list[dict]:
    """Ref/hyp pairs for WER tests, with the edge cases first (empty ref, empty hyp, both)."""
    rng = random.Random(seed)
    pairs = [
        {"id": "empty_hyp", "ref": "the cat sat", "hyp": ""},
        {"id": "empty_ref", "ref": "", "hyp": "an extra word"},
        {"id": "both_empty", "ref": "", "hyp": ""},
        {"id": "identical", "ref": "play some music", "hyp": "play some music"},
        {"id": "spaces", "ref": "  set  alarm  ", "hyp": "set alarm for"},
        {"id": "star_token", "ref": "a * b", "hyp": "a b *"},
    ]
    for i in range(n):
        ref = _sentence(rng)
        pairs.append({"id": f"utt{i:03d}", "ref": ref,
                      "hyp": _corrupt_words(rng, ref, rng.choice([0.0, 0.1, 0.3, 0.6]))})
    return pairs


def bleu_pairs(seed: int = 0, n: int = 30) -> list[dict]:
    """Ref/hyp pairs for BLEU/chrF tests (German-like words, punctuation, one empty hyp)."""
    rng = random.Random(seed + 1)
    pairs = [{"id": "empty_hyp", "ref": "die katze sitzt auf der matte.", "hyp": ""}]
    for i in range(n):
        ref = _sentence(rng, 4, 12, DE) + rng.choice([".", "!", "?", ""])
        pairs.append({"id": f"seg{i:03d}", "ref": ref,
                      "hyp": _corrupt_words(rng, ref, rng.choice([0.0, 0.2, 0.5]), DE)})
    return pairs


def _slots(rng: random.Random) -> list[tuple[str, str]]:
    return [(rng.choice(SLOT_TYPES), _sentence(rng, 1, 3)) for _ in range(rng.randint(0, 3))]


def _fmt_slots(slots) -> str:
    return "; ".join(f"{t}: {v}" for t, v in slots)


def hyps_records(seed: int = 0, n: int = 12, error: float = 0.2, joint: bool = False,
                 out_of_set: float = 0.0) -> list[dict]:
    """hyps.jsonl records for every task kind, with about ``error`` of outputs wrong."""
    rng = random.Random(seed)
    recs: list[dict] = []

    def add(task, i, ref, hyp, labels=None, **extra):
        rec = {"id": f"{task}_{i:03d}", "task": task, "prompt": f"do {task}", "hyp": hyp,
               "ref": ref, "raw": hyp, "joint": False, "labels": labels, **extra}
        if joint and task != "asr":
            transcript = _sentence(rng)
            rec.update(joint=True, ref_asr=transcript,
                       hyp_asr=_corrupt_words(rng, transcript, error))
            rec["raw"] = format_joint(rec["hyp_asr"], task, hyp)
        recs.append(rec)

    def pick(ref, labels):
        u = rng.random()
        if u < out_of_set:
            return rng.choice(["", "I think it is " + ref, "unknown"])
        if u < out_of_set + error:
            return rng.choice(labels)
        return ref

    for i in range(n):
        ref = _sentence(rng)
        add("asr", i, ref, _corrupt_words(rng, ref, error))
        ref = _sentence(rng, 4, 10, DE)
        add("st", i, ref, _corrupt_words(rng, ref, error, DE))
        ref = rng.choice(INTENTS)
        add("ic", i, ref, pick(ref, INTENTS), INTENTS)
        gold = _slots(rng)
        pred = [(t, _corrupt_words(rng, v, error)) for t, v in gold if rng.random() > error / 2]
        if rng.random() < error:
            pred.append((rng.choice(SLOT_TYPES), _sentence(rng, 1, 2)))
        add("sf", i, _fmt_slots(gold), _fmt_slots(pred))
        kws = list(dict.fromkeys(rng.sample(WORDS, rng.randint(1, 4))))
        hyp_kw = [k for k in kws if rng.random() > error] + \
                 ([rng.choice(WORDS)] if rng.random() < error else [])
        add("kwe", i, ", ".join(kws), ", ".join(hyp_kw))
        ref = rng.choice(["yes", "no"])
        add("kws", i, ref, pick(ref, ["yes", "no"]), ["yes", "no"])
        ref = rng.choice(GENDERS)
        add("gender", i, ref, pick(ref, GENDERS), GENDERS)
        ref = rng.choice(STYLES)
        add("style", i, ref, pick(ref, STYLES), STYLES)
    return recs


def write_jsonl(path: str | Path, rows: list[dict]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def metrics_events(seed: int, steps: int, start_loss: float, end_loss: float,
                   explode_at: int | None = None, tasks=("asr", "ic")) -> list[dict]:
    """metrics.jsonl events: a decaying noisy train loss every step, valid every steps/5."""
    rng = random.Random(seed)
    ev = []
    for s in range(1, steps + 1):
        frac = s / steps
        loss = end_loss + (start_loss - end_loss) * math.exp(-4 * frac) + rng.gauss(0, 0.02)
        if explode_at is not None and s >= explode_at:
            loss = float("nan") if s == explode_at else start_loss * 3 + rng.random()
        e = {"step": s, "split": "train", "loss": loss, "lr": 1e-3 * min(1.0, s / 10),
             "grad_norm": abs(rng.gauss(1.0, 0.2)) * (50 if explode_at and s >= explode_at else 1),
             "elapsed": 0.1 * s}
        for j, t in enumerate(tasks):
            e[f"loss/{t}"] = loss * (1 + 0.1 * j)
        ev.append(e)
        if s % max(1, steps // 5) == 0:
            ev.append({"step": s, "split": "valid", "loss": loss + 0.05, "elapsed": 0.1 * s})
    return ev


def _write_metrics(path: Path, events: list[dict], started: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # NaN is written as JSON null: strict JSON readers must accept the file.
    rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in e.items()} for e in events]
    write_jsonl(path, rows)
    (path.parent / "run_info.json").write_text(json.dumps({"started": started}))


DECODES = {
    # tag: (decode_info or None to rely on the tag, error rate, out-of-set share, joint)
    "greedy_seen_constrained": ({"prompts": "train", "constrained": True, "joint": False,
                                 "beam": 1}, 0.1, 0.0, False),
    "greedy_unseen_constrained": ({"prompts": "unseen", "constrained": True, "joint": False,
                                   "beam": 1}, 0.15, 0.0, False),
    "greedy_seen_free": (None, 0.1, 0.2, False),
    "greedy_seen_constrained_joint": ({"prompts": "train", "constrained": True, "joint": True,
                                       "beam": 1}, 0.08, 0.0, True),
    "gt-llm": ({"system": "gt->llm", "prompts": "train", "constrained": True, "joint": False,
                "beam": 1}, 0.05, 0.0, False),
}


def make_fake_exp(exp: str | Path, splits=("test",), curriculum: bool = True,
                  score: bool = True, n: int = 10) -> Path:
    """An experiment dir with training phases and scored decode runs (see module docstring)."""
    from svtk.scoring.score import ScoreConfig, score_dir

    exp = Path(exp)
    if curriculum:
        _write_metrics(exp / "phase1" / "metrics.jsonl", metrics_events(1, 40, 6.0, 3.0),
                       "2025-01-01T10:00:00")
        _write_metrics(exp / "phase2a" / "metrics.jsonl", metrics_events(2, 30, 3.2, 2.0),
                       "2025-01-01T11:00:00")
        _write_metrics(exp / "phase2b" / "metrics.jsonl", metrics_events(3, 50, 2.2, 1.0),
                       "2025-01-01T12:00:00")
    else:
        _write_metrics(exp / "all" / "metrics.jsonl",
                       metrics_events(4, 120, 6.0, 1.5, explode_at=70), "2025-01-01T10:00:00")
    for k, split in enumerate(splits):
        for j, (tag, (info, err, oos, joint)) in enumerate(DECODES.items()):
            d = exp / "decode" / tag / split
            write_jsonl(d / "hyps.jsonl", hyps_records(seed=100 * k + j, n=n, error=err,
                                                       joint=joint, out_of_set=oos))
            if info is not None:
                (d / "decode_info.json").write_text(json.dumps({**info, "split": split}))
            if score:
                score_dir(d, ScoreConfig())
    return exp


FIXTURES = {
    "wer_pairs.jsonl": lambda: wer_pairs(0),
    "bleu_pairs.jsonl": lambda: bleu_pairs(0),
    "hyps_all_tasks.jsonl": lambda: hyps_records(seed=7, n=8, error=0.25, out_of_set=0.1),
    "hyps_joint.jsonl": lambda: hyps_records(seed=8, n=5, error=0.2, joint=True),
}


def write_fixtures(out_dir: str | Path) -> list[Path]:
    """(Re)write every committed scoring fixture into ``out_dir``."""
    return [write_jsonl(Path(out_dir) / name, make()) for name, make in FIXTURES.items()]


def main() -> None:
    import sys

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("tests/scoring/fixtures")
    for p in write_fixtures(out):
        print(p)


if __name__ == "__main__":
    main()
