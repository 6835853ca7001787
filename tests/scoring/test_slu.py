"""SLURP entity metrics on hand-computed cases, and on SLURP gold with controlled corruptions.

The SLURP tests read ../shared/data/slurp (relative to the repository root) and are skipped
where it is absent.
"""

import copy
import json
from pathlib import Path

import pytest

from svtk.scoring.slu import char_distance, score_entities, word_distance
from svtk.scoring.slurp import evaluate_slurp, evaluate_slurp_items, format_slurp, load_gold


def _slurp_dir() -> Path:
    """$SVTK_SLURP_DIR, else ../shared/data/slurp beside the repository root (or its parent,
    for a git worktree one level further down)."""
    import os

    if os.environ.get("SVTK_SLURP_DIR"):
        return Path(os.environ["SVTK_SLURP_DIR"])
    root = Path(__file__).resolve().parents[2]
    for base in (root.parent, root.parent.parent):
        if (base / "shared" / "data" / "slurp").is_dir():
            return base / "shared" / "data" / "slurp"
    return root.parent / "shared" / "data" / "slurp"


SLURP = _slurp_dir()
needs_slurp = pytest.mark.skipif(not (SLURP / "test.jsonl").is_file(),
                                 reason=f"SLURP text annotations not found at {SLURP}")


def test_distances():
    assert word_distance("ten am", "ten pm") == pytest.approx(0.5)
    assert word_distance("ten", "ten in the morning") == pytest.approx(3.0)  # WER may exceed 1
    assert word_distance("ten am", "") == pytest.approx(1.0)
    assert char_distance("tuesday", "tuesdays") == pytest.approx(1 / 8)
    assert char_distance("abc", "") == pytest.approx(1.0)
    assert char_distance("", "") == 0.0


def test_hand_computed_utterance():
    gold = [[("date", "tuesday"), ("time", "ten am")]]
    pred = [[("date", "tuesdays"), ("time", "ten am"), ("person", "x")]]
    r = score_entities(gold, pred)
    # span: tp 1 (time), fp 2 (date, person), fn 1 (date)
    assert (r["span_f1"]["tp"], r["span_f1"]["fp"], r["span_f1"]["fn"]) == (1, 2, 1)
    assert r["span_f1"]["f1"] == pytest.approx(100 * 2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    # word: date d=1, time d=0 -> tp 2, fp 1 + 1 (person), fn 1
    assert (r["word_f1"]["tp"], r["word_f1"]["fp"], r["word_f1"]["fn"]) == (2, 2, 1)
    # char: date d=1/8 -> tp 2, fp 1/8 + 1, fn 1/8
    assert r["char_f1"]["fp"] == pytest.approx(1.125) and r["char_f1"]["fn"] == pytest.approx(0.125)
    # SLU-F1 pools word and char counts: tp 4, fp 3.125, fn 1.125
    p, rec = 4 / 7.125, 4 / 5.125
    assert r["slu_f1"]["f1"] == pytest.approx(100 * 2 * p * rec / (p + rec))
    # SD-F1 ignores fillers: date and time found, person extra
    assert (r["sd_f1"]["tp"], r["sd_f1"]["fp"], r["sd_f1"]["fn"]) == (2, 1, 0)


def test_lowest_distance_gold_is_consumed():
    gold = [[("person", "john smith"), ("person", "mary")]]
    pred = [[("person", "mary"), ("person", "jon smith")]]
    r = score_entities(gold, pred)
    # mary matches mary (d=0), then "jon smith" vs "john smith" (word d=0.5)
    assert r["word_f1"]["fp"] == pytest.approx(0.5) and r["word_f1"]["fn"] == pytest.approx(0.5)


def test_macro_average():
    gold = [[("a", "x"), ("b", "y")]]
    pred = [[("a", "x")]]
    micro = score_entities(gold, pred)["span_f1"]
    macro = score_entities(gold, pred, average="macro")["span_f1"]
    assert micro["f1"] == pytest.approx(100 * 2 * 1 * 0.5 / 1.5)
    assert macro["f1"] == pytest.approx(50.0)  # a: 100, b: 0


@pytest.fixture(scope="module")
def gold():
    return load_gold(SLURP / "test.jsonl")


def _as_preds(gold):
    return {k: {"file": k, **copy.deepcopy(v)} for k, v in gold.items()}


@needs_slurp
def test_gold_as_predictions_is_perfect(gold):
    r = evaluate_slurp_items(gold, _as_preds(gold))
    assert len(gold) == 13078  # recordings listed in the release (README)
    for key in ("scenario", "action", "intent"):
        assert r[key]["accuracy"] == 100.0 and r[key]["f1"] == pytest.approx(100.0)
    for key in ("span_f1", "word_f1", "char_f1", "slu_f1"):
        assert r[key]["f1"] == pytest.approx(100.0)
    assert r["counts"]["gold_not_predicted"] == 0


@needs_slurp
def test_controlled_corruptions(gold):
    preds = _as_preds(gold)
    keys = sorted(preds)
    n = len(keys)
    n_ent = sum(len(v["entities"]) for v in gold.values())
    # 1) wrong scenario on 100 recordings
    for k in keys[:100]:
        preds[k]["scenario"] = "nonexistent"
    # 2) drop 30 recordings from the predictions entirely
    dropped = keys[-30:]
    for k in dropped:
        del preds[k]
    # 3) on 50 recordings with entities, append one extra word to the first entity's filler
    changed = [k for k in keys[100:-30] if gold[k]["entities"]][:50]
    fill_lens = []
    for k in changed:
        ent = preds[k]["entities"][0]
        fill_lens.append((len(ent["filler"].split()), len(ent["filler"])))
        ent["filler"] += " zz"
    r = evaluate_slurp_items(gold, preds)
    scored = n - 30
    assert r["counts"]["scored"] == scored and r["counts"]["gold_not_predicted"] == 30
    assert r["scenario"]["accuracy"] == pytest.approx(100 * (scored - 100) / scored)
    assert r["action"]["accuracy"] == 100.0
    assert r["intent"]["accuracy"] == pytest.approx(100 * (scored - 100) / scored)
    ent_scored = n_ent - sum(len(gold[k]["entities"]) for k in dropped)
    # exact span: each changed filler is one FP and one FN
    tp = ent_scored - 50
    assert (r["span_f1"]["tp"], r["span_f1"]["fp"], r["span_f1"]["fn"]) == (tp, 50, 50)
    # word distance: one inserted word -> d = 1 / len(gold words); TP counts all
    d_word = sum(1 / w for w, _ in fill_lens)
    assert r["word_f1"]["tp"] == ent_scored
    assert r["word_f1"]["fp"] == pytest.approx(d_word) and r["word_f1"]["fn"] == pytest.approx(d_word)
    # char distance: 3 inserted characters -> d = 3 / (len + 3)
    d_char = sum(3 / (c + 3) for _, c in fill_lens)
    assert r["char_f1"]["fp"] == pytest.approx(d_char)
    tot = 2 * ent_scored
    p = rec = tot / (tot + d_word + d_char)
    assert r["slu_f1"]["f1"] == pytest.approx(100 * 2 * p * rec / (p + rec))


@needs_slurp
def test_file_round_trip_and_cli(gold, tmp_path, capsys):
    from svtk.cli import run

    preds = _as_preds(gold)
    k = sorted(preds)[0]
    preds[k]["action"] = "wrong"
    preds[k]["entities"] = [{"type": "date"}]  # no filler: ignored, as SLURP does
    pred_file = tmp_path / "pred.jsonl"
    pred_file.write_text("".join(json.dumps(v) + "\n" for v in preds.values()))
    r = evaluate_slurp(SLURP / "test.jsonl", pred_file)
    assert r["action"]["accuracy"] == pytest.approx(100 * (len(gold) - 1) / len(gold))
    assert r["span_f1"]["fp"] == 0 and r["span_f1"]["fn"] == len(gold[k]["entities"])
    assert "SLU-F1" in format_slurp(r)
    out_json = tmp_path / "slurp.json"
    assert run(["score", "--slurp-gold", str(SLURP / "test.jsonl"), "--slurp-pred",
                str(pred_file), "--slurp-json", str(out_json)]) == 0
    assert "SLU-F1" in capsys.readouterr().out
    assert json.loads(out_json.read_text())["action"]["accuracy"] == pytest.approx(
        r["action"]["accuracy"])


@needs_slurp
def test_keyed_by_slurp_id(tmp_path):
    g = load_gold(SLURP / "devel.jsonl", key="slurp_id")
    assert len(g) == 2033
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"slurp_id": k, **v}) + "\n" for k, v in g.items()))
    r = evaluate_slurp(SLURP / "devel.jsonl", preds, key="slurp_id")
    assert r["intent"]["accuracy"] == 100.0 and r["slu_f1"]["f1"] == pytest.approx(100.0)


def test_half_command_refused(tmp_path):
    from svtk.cli import run

    assert run(["score", "--slurp-gold", str(tmp_path / "g.jsonl")]) == 2
