"""Bootstrap intervals: each metric's per-utterance statistics re-score any resample exactly."""

import random

import numpy as np
import pytest

from svtk.scoring.bootstrap import ItemStats, paired_delta_ci
from svtk.scoring.score import ScoreConfig, score_records

WORDS = "set an alarm for seven am play some jazz music turn the lights off".split()
LABELS = ["alarm_set", "play_music", "iot_off", "weather"]
SLOTS = ["time", "genre", "device"]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _noisy(rng: random.Random, text: str) -> str:
    words = text.split()
    if words and rng.random() < 0.5:
        words[rng.randrange(len(words))] = rng.choice(WORDS)
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words) + 1), rng.choice(WORDS))
    if words and rng.random() < 0.2:
        words.pop(rng.randrange(len(words)))
    return " ".join(words)


def _slots(rng: random.Random) -> str:
    k = rng.randint(0, 2)
    return "; ".join(f"{rng.choice(SLOTS)}: {_sentence(rng, rng.randint(1, 2))}"
                     for _ in range(k)) or "none"


def records(task: str, n: int = 25, seed: int = 0) -> list[dict]:
    """Decoded records of one task: references, and hypotheses that are right about half the time."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        if task in ("asr", "st"):
            ref = _sentence(rng, rng.randint(2, 7))
            hyp = _noisy(rng, ref)
        elif task in ("ic", "gender"):
            labels = LABELS if task == "ic" else ["male", "female", "child"]
            ref = rng.choice(labels[:-1])  # the last label is never a reference
            hyp = ref if rng.random() < 0.5 else rng.choice([*labels, "", "dunno"])
        elif task == "kwe":
            ref = ", ".join(rng.sample(WORDS, rng.randint(1, 3)))
            hyp = ", ".join(rng.sample(WORDS, rng.randint(0, 3)))
        else:  # sf
            ref = _slots(rng)
            hyp = ref if rng.random() < 0.4 else _slots(rng)
        rec = {"id": f"utt{i:03d}", "task": task, "ref": ref, "hyp": hyp}
        if task in ("ic", "gender"):
            rec["labels"] = LABELS if task == "ic" else ["male", "female", "child"]
        out.append(rec)
    return out


def scored(recs: list[dict]) -> dict:
    task = recs[0]["task"]
    tasks, _, _ = score_records([dict(r) for r in recs], ScoreConfig())
    return tasks[task]


@pytest.mark.parametrize("task,metric", [("asr", "wer"), ("st", "bleu"), ("ic", "accuracy"),
                                         ("gender", "uar"), ("kwe", "f1"), ("sf", "slu_f1")])
def test_statistics_rescore_every_resample_as_the_scorer_would(task, metric):
    recs = records(task)
    t = scored(recs)
    stats = ItemStats.from_json(t["items"])
    assert stats.metric == metric and stats.ids == [r["id"] for r in recs]
    assert stats.value() == pytest.approx(t["score"], abs=1e-9)
    rng = np.random.default_rng(1)
    for _ in range(5):  # a resample, scored from scratch: utterance i repeated counts[i] times
        counts = np.bincount(rng.integers(0, len(recs), len(recs)), minlength=len(recs))
        again = [dict(r, id=f"{r['id']}_{k}") for r, c in zip(recs, counts, strict=True)
                 for k in range(c)]
        assert stats.values(counts[None, :].astype(float))[0] == pytest.approx(
            scored(again)["score"], abs=1e-9)
    lo, hi = t["ci95"]
    assert lo <= t["score"] <= hi and hi - lo > 1.0


def test_interval_narrows_with_more_utterances_and_repeats_exactly():
    small = ItemStats.from_json(scored(records("asr", n=20))["items"])
    big = ItemStats.from_json(scored(records("asr", n=320))["items"])
    (slo, shi), (blo, bhi) = small.ci(), big.ci()
    assert bhi - blo < (shi - slo) / 2  # ~1/sqrt(16) of the width
    assert small.ci() == (slo, shi)  # a fixed seed: the same interval every time


def test_an_all_right_system_has_no_spread():
    recs = [dict(r, hyp=r["ref"]) for r in records("ic")]
    assert scored(recs)["ci95"] == [100.0, 100.0]


def test_paired_difference():
    recs = records("asr", n=40)
    base = ItemStats.from_json(scored(recs)["items"])
    assert paired_delta_ci(base, base) == (0.0, 0.0, 0.0)
    # a system that gets every utterance right: better on every resample, so the interval of
    # its WER difference lies below 0
    perfect = ItemStats.from_json(scored([dict(r, hyp=r["ref"]) for r in recs])["items"])
    delta, lo, hi = paired_delta_ci(base, perfect)
    assert delta == pytest.approx(-base.value()) and lo <= delta <= hi < 0
    # only the utterances both scored are compared
    half = ItemStats.from_json(scored(recs[:20])["items"])
    assert paired_delta_ci(half, base)[0] == pytest.approx(0.0)
    assert paired_delta_ci(base, ItemStats.from_json(scored(records("ic"))["items"])) is None
