"""WER/CER equal jiwer's on the committed fixtures, edge cases included; Kaldi-style output."""

import json
from pathlib import Path

import jiwer
import pytest

from svtk.scoring.wer import compute_error_rate, format_wer_details

FIXTURES = Path(__file__).parent / "fixtures"


def _pairs():
    return [json.loads(x) for x in (FIXTURES / "wer_pairs.jsonl").read_text().splitlines()]


def test_wer_equals_jiwer_on_fixture():
    pairs = _pairs()
    refs, hyps = [p["ref"] for p in pairs], [p["hyp"] for p in pairs]
    res = compute_error_rate(refs, hyps, [p["id"] for p in pairs])
    out = jiwer.process_words(refs, hyps)
    assert res.stats.rate == pytest.approx(100 * out.wer, abs=1e-9)
    assert res.stats.errors == out.substitutions + out.deletions + out.insertions
    assert res.stats.ref_len == out.hits + out.substitutions + out.deletions


def test_edit_split_is_kaldis():
    """Equally short alignments can split errors differently (jiwer prefers substitutions);
    the ins/del/sub counts are Kaldi's, as kaldialign.edit_distance gives them."""
    import kaldialign

    for p in _pairs():
        s = compute_error_rate([p["ref"]], [p["hyp"]]).stats
        e = kaldialign.edit_distance(p["ref"].split(), p["hyp"].split())
        assert (s.sub, s.dels, s.ins) == (e["sub"], e["del"], e["ins"])


@pytest.mark.parametrize("i", range(46))
def test_wer_per_utterance_equals_jiwer(i):
    p = _pairs()[i]
    res = compute_error_rate([p["ref"]], [p["hyp"]])
    assert res.stats.rate == pytest.approx(100 * jiwer.wer(p["ref"], p["hyp"]), abs=1e-9)


def test_cer_equals_jiwer():
    # jiwer's CER keeps runs of inner spaces; we collapse them (tested below), so leave the
    # one fixture pair with double spaces out of the comparison.
    pairs = [p for p in _pairs() if "  " not in p["ref"].strip() + p["hyp"].strip()]
    assert len(pairs) == len(_pairs()) - 1
    refs, hyps = [p["ref"] for p in pairs], [p["hyp"] for p in pairs]
    res = compute_error_rate(refs, hyps, unit="char")
    assert res.stats.rate == pytest.approx(100 * jiwer.cer(refs, hyps), abs=1e-9)


def test_cer_collapses_whitespace():
    assert compute_error_rate(["  set  alarm  "], ["set alarm"], unit="char").stats.errors == 0


def test_edge_cases_by_hand():
    res = compute_error_rate(["the cat sat", "", ""], ["", "an extra word", ""])
    s = res.stats
    assert (s.dels, s.ins, s.sub, s.ref_len) == (3, 3, 0, 3)
    assert s.rate == pytest.approx(200.0)
    assert s.utts_with_errors == 2 and s.sentence_error_rate == pytest.approx(200 / 3)
    only_empty = compute_error_rate([""], ["two words"])
    assert only_empty.stats.rate == pytest.approx(200.0)  # errors / max(ref words, 1), as jiwer
    assert compute_error_rate([""], [""]).stats.rate == 0.0


def test_summary_line_and_details():
    res = compute_error_rate(["the cat sat", "a b"], ["the bat sat on", "a b"], ["u1", "u2"])
    assert res.summary() == "%WER 40.00 [ 2 / 5, 1 ins, 0 del, 1 sub ]"
    assert res.sentence_summary() == "%SER 50.00 [ 1 / 2 ]"
    text = format_wer_details(res)
    assert "u1 ref  the cat sat *" in text
    assert "u1 hyp  the bat sat on" in text
    assert "u1 op   C   S   C   I" in text
    assert "u1 #csid 2 1 1 0" in text
    assert "cat -> bat" in text


def test_normaliser_applies_to_both_sides():
    from svtk.scoring.normalize import get_normalizer

    res = compute_error_rate(["Set an alarm for 7 AM."], ["set an alarm for seven am"],
                             normalizer=get_normalizer("english"))
    assert res.stats.errors == 0


def test_length_mismatch():
    with pytest.raises(ValueError):
        compute_error_rate(["a"], [])
