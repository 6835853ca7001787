"""Bootstrap confidence intervals of the headline scores, and paired ones of their differences.

Every headline metric svtk scores is a function of per-utterance statistics summed over the test
set: WER of (errors, reference words); accuracy and UAR of the confusion counts; keyword F1 of
(hits, hypothesis keywords, reference keywords); micro SLU-F1 of (TP, FP, FN); BLEU of
sacrebleu's n-gram counts. :class:`ItemStats` holds one row of those statistics per utterance,
so a resample of the utterances (drawn with replacement) is a weighted sum of rows, and the
percentile bootstrap (Efron and Tibshirani 1993; Koehn 2004 for BLEU) of 1000 resamples costs
one matrix product. Two decodes of the same split are compared by resampling the same
utterances for both (:func:`paired_delta_ci`), so that what the two share cancels.

The resamples are drawn from a fixed seed: the same statistics always give the same interval.

``svtk score`` stores each task's rows in ``scores.json`` (``tasks.<task>.items``) and the
interval as ``ci95``; ``svtk report`` reads both.

Usage::

    stats = ItemStats("wer", ["u1", "u2"], [[1, 5], [0, 4]])
    stats.value(), stats.ci()                      # 11.1, (0.0, 20.0)
    paired_delta_ci(stats, other)                  # (delta, low, high), other - stats
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

RESAMPLES = 1000
LEVEL = 0.95
SEED = 0


def _rate(v: np.ndarray, extra: dict) -> np.ndarray:  # WER: errors, reference words
    return 100.0 * v[:, 0] / np.maximum(v[:, 1], 1)


def _f1(tp: np.ndarray, n_hyp: np.ndarray, n_ref: np.ndarray) -> np.ndarray:
    p = np.divide(tp, n_hyp, out=np.zeros_like(tp), where=n_hyp > 0)
    r = np.divide(tp, n_ref, out=np.zeros_like(tp), where=n_ref > 0)
    return 100.0 * np.divide(2 * p * r, p + r, out=np.zeros_like(tp), where=p + r > 0)


def _keyword_f1(v: np.ndarray, extra: dict) -> np.ndarray:  # hits, hyp keywords, ref keywords
    return _f1(v[:, 0], v[:, 1], v[:, 2])


def _slot_f1(v: np.ndarray, extra: dict) -> np.ndarray:  # TP, FP, FN (SLURP's conventions)
    tp, fp, fn = v[:, 0], v[:, 1], v[:, 2]
    return _f1(tp, tp + fp, tp + fn)


def _confusion(v: np.ndarray, extra: dict) -> np.ndarray:
    k = len(extra["classes"])
    return v.reshape(len(v), k, k)  # (resamples, ref class, hyp class)


def _accuracy(v: np.ndarray, extra: dict) -> np.ndarray:
    c = _confusion(v, extra)
    scored = len(extra["classes"]) - 1  # the last class is <other>: never right
    n = c.sum(axis=(1, 2))
    right = np.trace(c[:, :scored, :scored], axis1=1, axis2=2)
    return 100.0 * np.divide(right, n, out=np.zeros_like(n), where=n > 0)


def _uar(v: np.ndarray, extra: dict) -> np.ndarray:
    """Recall averaged over the label classes that a reference of the resample has."""
    c = _confusion(v, extra)
    labels = int(extra["labels"])
    support = c[:, :labels, :].sum(axis=2)
    hits = np.diagonal(c, axis1=1, axis2=2)[:, :labels]
    recall = np.divide(hits, support, out=np.zeros_like(hits), where=support > 0)
    present = (support > 0).sum(axis=1)
    return 100.0 * np.divide(recall.sum(axis=1), present, out=np.zeros_like(hits[:, 0]),
                             where=present > 0)


def _bleu(v: np.ndarray, extra: dict) -> np.ndarray:
    from sacrebleu.metrics import BLEU

    bleu = BLEU()  # the score from the counts does not depend on the tokenizer
    return np.array([bleu._compute_score_from_stats(list(row)).score for row in v])


METRICS = {"wer": _rate, "accuracy": _accuracy, "uar": _uar, "f1": _keyword_f1,
           "slu_f1": _slot_f1, "bleu": _bleu}


def closed_set_rows(classes: list[str], pairs: list[tuple[str, str]]) -> list[list[int]]:
    """Each utterance's (reference class, hypothesis class) indices into ``classes``."""
    index = {c: i for i, c in enumerate(classes)}
    return [[index[ref], index[hyp]] for ref, hyp in pairs]


def _one_hot(rows: np.ndarray, k: int) -> np.ndarray:
    """(n, 2) class indices -> (n, k * k) confusion cells."""
    out = np.zeros((len(rows), k * k))
    out[np.arange(len(rows)), rows[:, 0].astype(int) * k + rows[:, 1].astype(int)] = 1
    return out


def _draws(n: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, n) counts: how often each utterance is drawn in each resample."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.arange(resamples)[:, None], picks), 1)
    return counts


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


@dataclass
class ItemStats:
    """Per-utterance statistics of one task's headline metric (rows in utterance order)."""

    metric: str
    ids: list[str]
    rows: list[list[float]]
    extra: dict[str, Any] = field(default_factory=dict)  # classes / labels of a closed-set task

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"no bootstrap for metric {self.metric!r} (have {sorted(METRICS)})")
        if len(self.ids) != len(self.rows):
            raise ValueError(f"{len(self.ids)} ids but {len(self.rows)} rows")

    def matrix(self, ids: list[str] | None = None) -> np.ndarray:
        rows = self.rows
        if ids is not None:
            where = {u: i for i, u in enumerate(self.ids)}
            rows = [rows[where[u]] for u in ids]
        m = np.asarray(rows, dtype=float).reshape(len(rows), -1)
        return _one_hot(m, len(self.extra["classes"])) if "classes" in self.extra else m

    def values(self, weights: np.ndarray, ids: list[str] | None = None) -> np.ndarray:
        """The metric of each weighting of the utterances (``weights``: (resamples, n))."""
        return METRICS[self.metric](weights @ self.matrix(ids), self.extra)

    def value(self) -> float:
        """The metric of the whole set (equals the scorer's headline score)."""
        return float(self.values(np.ones((1, len(self.ids))))[0])

    def ci(self, level: float = LEVEL, resamples: int = RESAMPLES,
           seed: int = SEED) -> tuple[float, float] | None:
        """Percentile bootstrap interval of the metric; None for an empty set."""
        if not self.ids:
            return None
        return _interval(self.values(_draws(len(self.ids), resamples, seed)), level)

    def to_json(self) -> dict:
        return {"metric": self.metric, "ids": self.ids, "rows": self.rows, **self.extra}

    @classmethod
    def from_json(cls, d: dict) -> ItemStats:
        extra = {k: v for k, v in d.items() if k not in ("metric", "ids", "rows")}
        return cls(d["metric"], list(d["ids"]), d["rows"], extra)


def paired_delta_ci(base: ItemStats, other: ItemStats, level: float = LEVEL,
                    resamples: int = RESAMPLES, seed: int = SEED
                    ) -> tuple[float, float, float] | None:
    """``other - base`` on the utterances both scored, with its paired bootstrap interval.

    None when they share no utterance or their metrics differ (closed-set statistics must also
    name the same classes).
    """
    if base.metric != other.metric or base.extra != other.extra:
        return None
    theirs = set(other.ids)
    ids = [u for u in base.ids if u in theirs]
    if not ids:
        return None
    whole = np.ones((1, len(ids)))
    delta = float(other.values(whole, ids)[0] - base.values(whole, ids)[0])
    w = _draws(len(ids), resamples, seed)
    return (delta, *_interval(other.values(w, ids) - base.values(w, ids), level))
