"""Corpus BLEU and chrF with sacrebleu, returned with sacrebleu's signature.

One reference per segment. The tokenizer is sacrebleu's default for the target language
(``13a`` unless ``target_lang`` is zh/ja/ko) unless ``tokenize`` names one; hypotheses and
references are passed as they are (sacrebleu does its own tokenization; no lower-casing).

Usage::

    res = corpus_bleu_chrf(hyps, refs)
    print(res["bleu_signature"], res["bleu"])
"""

from __future__ import annotations

from collections.abc import Sequence


def corpus_bleu_chrf(
    hyps: Sequence[str],
    refs: Sequence[str],
    tokenize: str | None = None,
    target_lang: str | None = None,
) -> dict:
    """``{"bleu", "bleu_signature", "bleu_detail", "chrf", "chrf_signature"}`` (scores 0-100)."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    hyps = [h or "" for h in hyps]
    refs = [[r or "" for r in refs]]
    bleu = BLEU(tokenize=tokenize, trg_lang=target_lang or "")
    b = bleu.corpus_score(hyps, refs)
    chrf = CHRF()
    c = chrf.corpus_score(hyps, refs)
    return {
        "bleu": float(b.score),
        "bleu_signature": str(bleu.get_signature()),
        "bleu_detail": str(b),
        "bleu_precisions": [float(p) for p in b.precisions],
        "brevity_penalty": float(b.bp),
        "sys_len": int(b.sys_len),
        "ref_len": int(b.ref_len),
        "chrf": float(c.score),
        "chrf_signature": str(chrf.get_signature()),
    }


def sentence_stats(hyps: Sequence[str], refs: Sequence[str], tokenize: str | None = None,
                   target_lang: str | None = None) -> list[list[int]]:
    """sacrebleu's additive counts of each segment: hyp and ref length, n-gram matches, totals."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(tokenize=tokenize, trg_lang=target_lang or "")
    stats = bleu._extract_corpus_statistics([h or "" for h in hyps], [[r or "" for r in refs]])
    return [[int(x) for x in row] for row in stats]
