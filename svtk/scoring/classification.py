"""Closed-set scoring: accuracy, UAR (macro-averaged recall), per-class P/R/F1, confusion matrix.

A hypothesis is mapped onto the label set by :class:`svtk.tasks.LabelMatcher` (the one label
parser, shared with the task registry): an exact match first, then a
match after lower-casing, collapsing whitespace and stripping surrounding punctuation (so an
unconstrained ``"Positive."`` counts as ``positive``; the count of such lenient matches is
reported). The classes are ``labels`` plus any reference outside them (counted as
``refs_not_in_labels``). Anything else is *out of set*: empty hypotheses and unknown strings fall into the
confusion matrix's ``<other>`` column, are always wrong, and are counted by kind. UAR averages
recall over the classes that occur in the references (a class never referenced has no recall).

Usage::

    res = score_classification(refs, hyps, labels=["yes", "no"])
    res.accuracy, res.uar, res.confusion   # percent, percent, counts[ref][hyp]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from svtk.tasks.formats import LabelMatcher

OTHER = "<other>"


@dataclass
class ClassificationResult:
    labels: list[str]
    confusion: dict[str, dict[str, int]]  # ref label -> hyp label (or OTHER) -> count
    n: int
    correct: int
    counts: dict[str, int] = field(default_factory=dict)  # empty_hyps, out_of_set_hyps, ...
    out_of_set: dict[str, int] = field(default_factory=dict)  # the unknown strings seen
    pairs: list[tuple[str, str]] = field(default_factory=list)  # each utterance's (ref, hyp) class

    @property
    def accuracy(self) -> float:
        return 100.0 * self.correct / self.n if self.n else 0.0

    def per_class(self) -> dict[str, dict[str, float]]:
        out = {}
        for lab in self.labels:
            tp = self.confusion.get(lab, {}).get(lab, 0)
            support = sum(self.confusion.get(lab, {}).values())
            predicted = sum(row.get(lab, 0) for row in self.confusion.values())
            p = 100.0 * tp / predicted if predicted else 0.0
            r = 100.0 * tp / support if support else 0.0
            f = 2 * p * r / (p + r) if p + r else 0.0
            out[lab] = {"precision": p, "recall": r, "f1": f, "support": support}
        return out

    @property
    def uar(self) -> float:
        recalls = [v["recall"] for v in self.per_class().values() if v["support"]]
        return sum(recalls) / len(recalls) if recalls else 0.0

    @property
    def macro_f1(self) -> float:
        f1s = [v["f1"] for v in self.per_class().values() if v["support"]]
        return sum(f1s) / len(f1s) if f1s else 0.0

    def matrix(self) -> tuple[list[str], list[str], list[list[int]]]:
        """(row labels, column labels, counts): columns add ``<other>`` when anything fell there."""
        rows = [lab for lab in self.labels if sum(self.confusion.get(lab, {}).values())]
        rows += [r for r in self.confusion if r not in self.labels]
        cols = list(self.labels)
        if any(OTHER in row for row in self.confusion.values()):
            cols.append(OTHER)
        return rows, cols, [[self.confusion.get(r, {}).get(c, 0) for c in cols] for r in rows]

    def classes(self) -> list[str]:
        """Every class an utterance can have: the labels, references outside them, ``<other>``."""
        extra = [r for r in self.confusion if r not in self.labels and r != OTHER]
        return [*self.labels, *extra, OTHER]

    def as_dict(self) -> dict:
        rows, cols, mat = self.matrix()
        return {"accuracy": self.accuracy, "uar": self.uar, "macro_f1": self.macro_f1,
                "n": self.n, "correct": self.correct, "counts": dict(self.counts),
                "out_of_set": dict(self.out_of_set), "per_class": self.per_class(),
                "confusion": {"rows": rows, "cols": cols, "matrix": mat}}


def score_classification(
    refs: Sequence[str],
    hyps: Sequence[str],
    labels: Sequence[str] | None = None,
) -> ClassificationResult:
    """Score closed-set outputs; ``labels`` defaults to the set of references (in order seen)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    label_list = list(labels) if labels else []
    matcher = LabelMatcher(label_list + [r.strip() for r in refs if r and r.strip()])
    all_labels = matcher.labels
    declared = set(label_list) if labels else set(all_labels)
    valid = set(all_labels)  # a reference outside `labels` is still a class (and is counted)
    confusion: dict[str, dict[str, int]] = {}
    counts: Counter[str] = Counter()
    out_of_set: Counter[str] = Counter()
    correct = 0
    pairs = []
    for ref, hyp in zip(refs, hyps, strict=True):
        r, _ = matcher.match(ref)
        r = r if r is not None else (ref or "").strip()
        if r not in declared:
            counts["refs_not_in_labels"] += 1
        if not (hyp or "").strip():
            h = OTHER
            counts["empty_hyps"] += 1
        else:
            h, lenient = matcher.match(hyp)
            if h is None or h not in valid:
                counts["out_of_set_hyps"] += 1
                out_of_set[(hyp or "").strip()] += 1
                h = OTHER
            elif lenient:
                counts["lenient_matches"] += 1
        confusion.setdefault(r, {})
        confusion[r][h] = confusion[r].get(h, 0) + 1
        pairs.append((r, h))
        correct += int(h == r and h != OTHER)
    return ClassificationResult(
        labels=all_labels,
        confusion=confusion, n=len(refs), correct=correct,
        counts={k: counts.get(k, 0) for k in
                ("empty_hyps", "out_of_set_hyps", "lenient_matches", "refs_not_in_labels")},
        out_of_set=dict(out_of_set.most_common()), pairs=pairs,
    )


def confusion_tsv(result: ClassificationResult) -> str:
    """Tab-separated confusion matrix: rows are references, columns hypotheses."""
    rows, cols, mat = result.matrix()
    lines = ["ref\\hyp\t" + "\t".join(cols)]
    lines += [r + "\t" + "\t".join(str(v) for v in row) for r, row in zip(rows, mat, strict=True)]
    return "\n".join(lines) + "\n"
