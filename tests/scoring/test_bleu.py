"""BLEU and chrF equal sacrebleu's corpus scores; the signature is reported."""

import json
from pathlib import Path

import pytest
import sacrebleu

from svtk.scoring.bleu import corpus_bleu_chrf

FIXTURES = Path(__file__).parent / "fixtures"


def test_equals_sacrebleu_on_fixture():
    pairs = [json.loads(x) for x in (FIXTURES / "bleu_pairs.jsonl").read_text().splitlines()]
    hyps, refs = [p["hyp"] for p in pairs], [p["ref"] for p in pairs]
    res = corpus_bleu_chrf(hyps, refs)
    assert res["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert res["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    assert 0 < res["bleu"] < 100
    assert res["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")
    assert "version:" in res["chrf_signature"]


def test_tokenizer_option():
    hyps, refs = ["你好 世界"], ["你好世界"]
    res = corpus_bleu_chrf(hyps, refs, tokenize="zh")
    assert "tok:zh" in res["bleu_signature"]
    assert res["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)


def test_perfect_and_empty():
    assert corpus_bleu_chrf(["a b c d e"], ["a b c d e"])["bleu"] == pytest.approx(100.0)
    assert corpus_bleu_chrf([""], ["a b c d"])["bleu"] == 0.0
