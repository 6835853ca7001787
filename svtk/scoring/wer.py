"""Word and character error rates with kaldialign, Kaldi/sclite-style summaries and alignments.

The corpus rate is ``(ins + del + sub) / ref_words`` summed over utterances, as Kaldi's
``compute-wer`` and jiwer compute it. With no reference words at all the rate is the raw error
count (jiwer's convention), so an all-empty reference set still gives a finite number.
Characters for CER include the single spaces between words (as jiwer and ESPnet count them).

Writes (:func:`write_wer_details`) a Kaldi ``align-text``/``wer_per_utt_details.pl`` style file::

    %WER 12.50 [ 1 / 8, 0 ins, 0 del, 1 sub ]
    %SER 50.00 [ 1 / 2 ]
    utt1 ref  the cat sat
    utt1 hyp  the bat sat
    utt1 op   C   S   C
    utt1 #csid 2 1 0 0

followed by the most frequent substitutions, deletions and insertions (as icefall's errs-* files).

Usage::

    result = compute_error_rate(refs, hyps, ids, unit="word")
    print(result.summary())     # %WER 12.50 [ 1 / 8, 0 ins, 0 del, 1 sub ]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EPS = "*"


@dataclass
class ErrorStats:
    """Edit counts summed over utterances."""

    ins: int = 0
    dels: int = 0
    sub: int = 0
    ref_len: int = 0
    utts: int = 0
    utts_with_errors: int = 0

    @property
    def errors(self) -> int:
        return self.ins + self.dels + self.sub

    @property
    def rate(self) -> float:
        """Error rate in percent (jiwer's convention when there are no reference tokens)."""
        return 100.0 * self.errors / (self.ref_len if self.ref_len else 1)

    @property
    def sentence_error_rate(self) -> float:
        return 100.0 * self.utts_with_errors / self.utts if self.utts else 0.0

    def add(self, other: ErrorStats) -> None:
        self.ins += other.ins
        self.dels += other.dels
        self.sub += other.sub
        self.ref_len += other.ref_len
        self.utts += other.utts
        self.utts_with_errors += other.utts_with_errors

    def as_dict(self) -> dict:
        return {"rate": round(self.rate, 4), "errors": self.errors, "ref_len": self.ref_len,
                "ins": self.ins, "del": self.dels, "sub": self.sub, "utts": self.utts,
                "ser": round(self.sentence_error_rate, 4)}


@dataclass
class UttAlignment:
    id: str
    pairs: list[tuple[str, str]]  # (ref token or EPS, hyp token or EPS)
    stats: ErrorStats


@dataclass
class ErrorRateResult:
    unit: str  # "word" or "char"
    stats: ErrorStats
    alignments: list[UttAlignment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "WER" if self.unit == "word" else "CER"

    def summary(self) -> str:
        """``%WER 12.34 [ 12 / 100, 3 ins, 4 del, 5 sub ]`` (Kaldi compute-wer's line)."""
        s = self.stats
        return (f"%{self.name} {s.rate:.2f} [ {s.errors} / {s.ref_len}, {s.ins} ins, "
                f"{s.dels} del, {s.sub} sub ]")

    def sentence_summary(self) -> str:
        s = self.stats
        return f"%SER {s.sentence_error_rate:.2f} [ {s.utts_with_errors} / {s.utts} ]"

    def frequent_errors(self, top: int = 20) -> dict[str, list[tuple[str, int]]]:
        subs: Counter[str] = Counter()
        dels: Counter[str] = Counter()
        ins: Counter[str] = Counter()
        for a in self.alignments:
            for r, h in a.pairs:
                if r == EPS:
                    ins[h] += 1
                elif h == EPS:
                    dels[r] += 1
                elif r != h:
                    subs[f"{r} -> {h}"] += 1
        return {"substitutions": subs.most_common(top), "deletions": dels.most_common(top),
                "insertions": ins.most_common(top)}


def tokens(text: str, unit: str) -> list[str]:
    """Words split on whitespace, or the characters of the whitespace-collapsed text."""
    words = (text or "").split()
    if unit == "word":
        return words
    if unit == "char":
        return list(" ".join(words))
    raise ValueError(f"unit must be 'word' or 'char', got {unit!r}")


def align_utterance(uid: str, ref: Sequence[str], hyp: Sequence[str]) -> UttAlignment:
    import kaldialign

    ref, hyp = list(ref), list(hyp)
    if EPS in ref or EPS in hyp:  # the epsilon must not be a real token
        ref = [t if t != EPS else "<*>" for t in ref]
        hyp = [t if t != EPS else "<*>" for t in hyp]
    pairs = kaldialign.align(ref, hyp, EPS) if (ref or hyp) else []
    st = ErrorStats(ref_len=len(ref), utts=1)
    for r, h in pairs:
        if r == EPS:
            st.ins += 1
        elif h == EPS:
            st.dels += 1
        elif r != h:
            st.sub += 1
    st.utts_with_errors = int(st.errors > 0)
    return UttAlignment(uid, [(str(r), str(h)) for r, h in pairs], st)


def compute_error_rate(
    refs: Sequence[str],
    hyps: Sequence[str],
    ids: Sequence[str] | None = None,
    unit: str = "word",
    normalizer: Callable[[str], str] | None = None,
) -> ErrorRateResult:
    """Corpus WER (``unit="word"``) or CER (``unit="char"``) with per-utterance alignments."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    ids = list(ids) if ids is not None else [str(i) for i in range(len(refs))]
    norm = normalizer or (lambda s: s)
    total = ErrorStats()
    out = []
    for uid, r, h in zip(ids, refs, hyps, strict=True):
        a = align_utterance(uid, tokens(norm(r), unit), tokens(norm(h), unit))
        total.add(a.stats)
        out.append(a)
    return ErrorRateResult(unit, total, out)


def _aligned_rows(pairs: list[tuple[str, str]]) -> tuple[str, str, str]:
    refs, hyps, ops = [], [], []
    for r, h in pairs:
        op = "I" if r == EPS else "D" if h == EPS else "C" if r == h else "S"
        w = max(len(r), len(h), 1)
        refs.append(r.ljust(w))
        hyps.append(h.ljust(w))
        ops.append(op.ljust(w))
    return " ".join(refs).rstrip(), " ".join(hyps).rstrip(), " ".join(ops).rstrip()


def format_wer_details(result: ErrorRateResult, title: str = "") -> str:
    lines = [f"# {title}"] if title else []
    lines += [result.summary(), result.sentence_summary(), ""]
    for a in result.alignments:
        ref, hyp, op = _aligned_rows(a.pairs)
        s = a.stats
        corr = len(a.pairs) - s.errors
        lines += [f"{a.id} ref  {ref}", f"{a.id} hyp  {hyp}", f"{a.id} op   {op}",
                  f"{a.id} #csid {corr} {s.sub} {s.ins} {s.dels}"]
    freq = result.frequent_errors()
    for kind, items in freq.items():
        lines += ["", f"# most frequent {kind} (count)"]
        lines += [f"{n:6d}  {item}" for item, n in items] or ["     (none)"]
    return "\n".join(lines) + "\n"


def write_wer_details(result: ErrorRateResult, path: str | Path, title: str = "") -> None:
    from svtk.stage import atomic_write_text

    atomic_write_text(path, format_wer_details(result, title))
