"""Slot (entity) metrics as defined by SLURP: span F1, word/char distance F1, SLU-F1, and SD-F1.

Re-implemented from the definitions of SLURP's evaluation (Bastianelli et al., EMNLP 2020;
pswietojanski/slurp scripts/evaluation), so numbers are comparable with published SLURP results.
An entity is a ``(type, filler)`` pair; an utterance has a list of them (a multiset).

- span F1: a predicted entity is a true positive when an identical (type, filler) pair is still
  unmatched in the gold list (then consumed); otherwise a false positive; gold entities left over
  are false negatives.
- distance F1 (word or char): predicted entities are taken in order; when one or more unmatched
  gold entities share its type, the one at the lowest distance (the first on ties) is consumed:
  TP += 1, FP += d, FN += d. A prediction whose type is not among the remaining gold types is a
  FP (+1); leftover gold entities are FNs (+1). Word distance is the WER of the predicted filler
  against the gold filler (whitespace words; may exceed 1); char distance is the Levenshtein
  distance over characters divided by the longer length (in [0, 1]).
- SLU-F1: the word- and char-distance TP/FP/FN counts, per type, are summed, and F1 is
  computed on the sums.
- SD-F1 (slot detection, the "label part"): distance F1 with the distance fixed to 0, i.e. a
  multiset F1 over slot types that ignores the fillers.

Precision, recall and F1 follow SLURP's conventions (0 when undefined). ``average="micro"``
pools counts over types; ``"macro"`` averages per-type P/R/F1 over every type seen.

Usage::

    res = score_entities(gold=[[("date", "tuesday")]], pred=[[("date", "tuesdays")]])
    res["slu_f1"]["f1"]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

Entity = tuple[str, str]


def _edit_counts(ref: Sequence, hyp: Sequence) -> int:
    import kaldialign

    if not ref:
        return len(hyp)
    if not hyp:
        return len(ref)
    return int(kaldialign.edit_distance(list(ref), list(hyp))["total"])


def word_distance(gold: str, pred: str) -> float:
    """WER of ``pred`` against ``gold`` over whitespace words (errors / max(1, gold words))."""
    ref, hyp = gold.split(), pred.split()
    return _edit_counts(ref, hyp) / max(1, len(ref))


def char_distance(gold: str, pred: str) -> float:
    """Levenshtein distance over characters, divided by the longer string's length."""
    longest = max(len(gold), len(pred))
    return _edit_counts(list(gold), list(pred)) / longest if longest else 0.0


DISTANCES: dict[str, Callable[[str, str], float]] = {
    "word": word_distance,
    "char": char_distance,
    "none": lambda gold, pred: 0.0,
}


def prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    """Precision, recall, F1 (fractions) with SLURP's conventions for empty denominators."""
    p = 0.0 if tp == 0 and fp == 0 else tp / (tp + fp)
    r = 0.0 if tp == 0 and fn == 0 else tp / (tp + fn)
    f = 0.0 if p == 0 and r == 0 else 2 * p * r / (p + r)
    return p, r, f


class Counts:
    """TP/FP/FN per label, accumulated over utterances."""

    def __init__(self) -> None:
        self.tp: dict[str, float] = defaultdict(float)
        self.fp: dict[str, float] = defaultdict(float)
        self.fn: dict[str, float] = defaultdict(float)

    def labels(self) -> list[str]:
        return sorted(set(self.tp) | set(self.fp) | set(self.fn))

    def add(self, other: Counts) -> None:
        for mine, theirs in ((self.tp, other.tp), (self.fp, other.fp), (self.fn, other.fn)):
            for k, v in theirs.items():
                mine[k] += v

    def result(self, average: str = "micro") -> dict:
        """Overall precision/recall/F1 in percent plus the counts, and the same per label."""
        per = {}
        for lab in self.labels():
            p, r, f = prf(self.tp[lab], self.fp[lab], self.fn[lab])
            per[lab] = {"precision": 100 * p, "recall": 100 * r, "f1": 100 * f,
                        "tp": self.tp[lab], "fp": self.fp[lab], "fn": self.fn[lab]}
        tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        if average == "macro":
            n = len(per)
            p = sum(v["precision"] for v in per.values()) / n if n else 0.0
            r = sum(v["recall"] for v in per.values()) / n if n else 0.0
            f = sum(v["f1"] for v in per.values()) / n if n else 0.0
        elif average == "micro":
            p, r, f = (100 * x for x in prf(tp, fp, fn))
        else:
            raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
        return {"precision": p, "recall": r, "f1": f, "tp": tp, "fp": fp, "fn": fn,
                "per_label": per}


def update_exact(counts: Counts, gold: Sequence[Entity], pred: Sequence[Entity]) -> None:
    """Span F1 counts for one utterance (exact (type, filler) matches, multiset)."""
    remaining = list(gold)
    for ent in pred:
        if ent in remaining:
            counts.tp[ent[0]] += 1
            remaining.remove(ent)
        else:
            counts.fp[ent[0]] += 1
    for ent in remaining:
        counts.fn[ent[0]] += 1


def update_distance(counts: Counts, gold: Sequence[Entity], pred: Sequence[Entity],
                    distance: Callable[[str, str], float]) -> None:
    """Distance-F1 counts for one utterance (see the module docstring)."""
    remaining = list(gold)
    for typ, filler in pred:
        best, best_d = None, float("inf")
        for i, (gtyp, gfill) in enumerate(remaining):
            if gtyp == typ:
                d = distance(gfill, filler)
                if d < best_d:
                    best, best_d = i, d
        if best is None:
            counts.fp[typ] += 1
            continue
        counts.tp[typ] += 1
        counts.fp[typ] += best_d
        counts.fn[typ] += best_d
        remaining.pop(best)
    for gtyp, _ in remaining:
        counts.fn[gtyp] += 1


class EntityScorer:
    """Accumulates every SLURP entity metric over utterances; :meth:`result` reads them out."""

    def __init__(self) -> None:
        self.span = Counts()
        self.word = Counts()
        self.char = Counts()
        self.types = Counts()

    def __call__(self, gold: Sequence[Entity], pred: Sequence[Entity]) -> None:
        gold, pred = [tuple(e) for e in gold], [tuple(e) for e in pred]
        update_exact(self.span, gold, pred)
        update_distance(self.word, gold, pred, word_distance)
        update_distance(self.char, gold, pred, char_distance)
        update_distance(self.types, gold, pred, DISTANCES["none"])

    def add(self, other: EntityScorer) -> None:
        """Add another scorer's counts (e.g. one utterance's) to these."""
        for mine, theirs in ((self.span, other.span), (self.word, other.word),
                             (self.char, other.char), (self.types, other.types)):
            mine.add(theirs)

    def result(self, average: str = "micro") -> dict:
        slu = Counts()
        slu.add(self.word)
        slu.add(self.char)
        return {"span_f1": self.span.result(average), "word_f1": self.word.result(average),
                "char_f1": self.char.result(average), "slu_f1": slu.result(average),
                "sd_f1": self.types.result(average)}


def score_entities(gold: Sequence[Sequence[Entity]], pred: Sequence[Sequence[Entity]],
                   average: str = "micro") -> dict:
    """All entity metrics for aligned lists of per-utterance gold and predicted entities."""
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold utterances but {len(pred)} predictions")
    scorer = EntityScorer()
    for g, p in zip(gold, pred, strict=True):
        scorer(g, p)
    return scorer.result(average)
