"""``svtk score DIR``: per-task dispatch, detail files, bad input counted, stage discipline."""

import gzip
import json
import shutil
from pathlib import Path

import jiwer
import pytest
import sacrebleu

from svtk.cli import run
from svtk.errors import UserError
from svtk.scoring.normalize import get_normalizer
from svtk.scoring.score import ScoreConfig, score_dir
from svtk.stage import StageMismatch
from svtk.testing.scoring import write_jsonl

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def decode_dir(tmp_path):
    d = tmp_path / "decode" / "greedy" / "test"
    d.mkdir(parents=True)
    shutil.copy(FIXTURES / "hyps_all_tasks.jsonl", d / "hyps.jsonl")
    return d


def _records(d):
    return [json.loads(x) for x in (d / "hyps.jsonl").read_text().splitlines()]


def test_every_task_scored_with_its_metric(decode_dir):
    s = score_dir(decode_dir)
    tasks = s["tasks"]
    assert {t: v["metric"] for t, v in tasks.items()} == {
        "asr": "wer", "st": "bleu", "ic": "accuracy", "sf": "slu_f1", "kwe": "f1",
        "kws": "accuracy", "gender": "uar", "style": "uar"}
    recs = _records(decode_dir)
    norm = get_normalizer("english")
    asr = [r for r in recs if r["task"] == "asr"]
    want = jiwer.wer([norm(r["ref"]) for r in asr], [norm(r["hyp"]) for r in asr])
    assert tasks["asr"]["score"] == pytest.approx(100 * want)
    st = [r for r in recs if r["task"] == "st"]
    bleu = sacrebleu.corpus_bleu([r["hyp"] for r in st], [[r["ref"] for r in st]])
    assert tasks["st"]["score"] == pytest.approx(bleu.score)
    assert tasks["st"]["bleu_signature"] in (decode_dir / "bleu_st.txt").read_text()
    ic = [r for r in recs if r["task"] == "ic"]
    assert tasks["ic"]["score"] == pytest.approx(
        100 * sum(r["hyp"] == r["ref"] for r in ic) / len(ic))
    for name in ("scores.json", "scores.txt", "wer_asr.txt", "confusion_ic.json",
                 "confusion_ic.tsv", "details_sf.jsonl", "details_kwe.jsonl"):
        assert (decode_dir / name).is_file(), name
    assert "%WER" in (decode_dir / "scores.txt").read_text()
    for t in tasks.values():
        assert 0 <= t["score"] <= 100 or t["metric"] == "wer"


def test_out_of_set_and_empty_are_counted(decode_dir):
    s = score_dir(decode_dir)
    recs = _records(decode_dir)
    for task in ("ic", "kws", "gender", "style"):
        rs = [r for r in recs if r["task"] == task]
        c = s["tasks"][task]["counts"]
        assert c["utterances"] == len(rs)
        assert c["empty_hyps"] == sum(not r["hyp"].strip() for r in rs)
        oos = sum(bool(r["hyp"].strip()) and r["hyp"] not in r["labels"] for r in rs)
        assert c["out_of_set_hyps"] == oos
    assert sum(s["tasks"][t]["counts"]["out_of_set_hyps"] for t in ("ic", "kws", "gender")) > 0


def _cuts(path, recs):
    with gzip.open(path, "wt") as f:
        for r in recs:
            f.write(json.dumps({"id": r["id"], "custom": {"task": r["task"], "target": r["ref"],
                                                          "labels": r["labels"]}}) + "\n")


def test_missing_ids_scored_as_empty_and_listed(decode_dir, tmp_path):
    recs = _records(decode_dir)
    _cuts(tmp_path / "cuts.jsonl.gz", recs)
    kept = [r for r in recs if r["id"] not in ("asr_000", "ic_001")]
    write_jsonl(decode_dir / "hyps.jsonl", kept)
    s = score_dir(decode_dir, ref_cuts=tmp_path / "cuts.jsonl.gz")
    assert s["input"]["counts"]["missing_ids"] == 2
    assert sorted(s["input"]["ids"]["missing_ids"]) == ["asr_000", "ic_001"]
    assert s["tasks"]["asr"]["counts"]["missing_scored_as_empty"] == 1
    assert s["tasks"]["asr"]["counts"]["utterances"] == len([r for r in recs if r["task"] == "asr"])
    asr = [r for r in recs if r["task"] == "asr"]
    norm = get_normalizer("english")
    want = jiwer.wer([norm(r["ref"]) for r in asr],
                     [norm(r["hyp"]) if r["id"] != "asr_000" else "" for r in asr])
    assert s["tasks"]["asr"]["score"] == pytest.approx(100 * want)


def test_a_decode_of_some_tasks_is_scored_on_those(decode_dir, tmp_path):
    """``svtk decode --tasks asr`` writes its tasks to decode_info.json: the other tasks of the
    reference cuts are not missing hypotheses."""
    recs = _records(decode_dir)
    _cuts(tmp_path / "cuts.jsonl.gz", recs)
    write_jsonl(decode_dir / "hyps.jsonl", [r for r in recs if r["task"] == "asr"][1:])
    (decode_dir / "decode_info.json").write_text(json.dumps({"tasks": ["asr"], "split": "test"}))
    s = score_dir(decode_dir, ref_cuts=tmp_path / "cuts.jsonl.gz")
    assert set(s["tasks"]) == {"asr"}
    assert s["input"]["counts"]["missing_ids"] == 1  # the ASR cut it did not write
    assert s["tasks"]["asr"]["counts"]["missing_scored_as_empty"] == 1


def test_modes_present_and_strict(decode_dir, tmp_path):
    recs = _records(decode_dir)
    (tmp_path / "ids").write_text("\n".join(r["id"] for r in recs) + "\nnever_decoded extra\n")
    s = score_dir(decode_dir, ScoreConfig(mode="present"), ids=tmp_path / "ids")
    assert s["input"]["counts"]["missing_ids"] == 1
    assert s["reference"]["missing"] == 1
    with pytest.raises(UserError, match="strict"):
        score_dir(decode_dir, ScoreConfig(mode="strict"), ids=tmp_path / "ids", force=True)


def test_duplicates_unknown_tasks_and_nulls(tmp_path):
    d = tmp_path / "d"
    write_jsonl(d / "hyps.jsonl", [
        {"id": "a", "task": "ic", "hyp": "x", "ref": "x", "labels": ["x", "y"]},
        {"id": "a", "task": "ic", "hyp": "y", "ref": "x", "labels": ["x", "y"]},
        {"id": "b", "task": "ic", "hyp": None, "ref": "y", "labels": ["x", "y"]},
        {"id": "c", "task": "telepathy", "hyp": "x", "ref": "x"},
        {"id": "d", "task": "telepathy2", "hyp": "x y", "ref": "x", "metric": "wer"},
    ])
    s = score_dir(d)
    c = s["input"]["counts"]
    assert c == {"duplicate_ids": 1, "no_hyp": 1, "unknown_task": 1}
    assert s["tasks"]["ic"]["score"] == 50.0
    assert s["tasks"]["telepathy2"]["score"] == 100.0
    assert "unknown_task 1" in (d / "scores.txt").read_text()


def test_joint_transcripts_scored(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(FIXTURES / "hyps_joint.jsonl", d / "hyps.jsonl")
    s = score_dir(d)
    recs = _records(d)
    ic = [r for r in recs if r["task"] == "ic"]
    norm = get_normalizer("english")
    want = jiwer.wer([norm(r["ref_asr"]) for r in ic], [norm(r["hyp_asr"]) for r in ic])
    assert s["tasks"]["ic"]["joint_asr"]["rate"] == pytest.approx(100 * want)
    assert (d / "wer_ic_joint.txt").is_file()
    assert "joint_asr" not in s["tasks"]["asr"]


def test_joint_raw_only_is_parsed(tmp_path):
    d = tmp_path / "d"
    write_jsonl(d / "hyps.jsonl", [
        {"id": "a", "task": "ic", "hyp": "", "ref": "greet", "ref_asr": "hello there",
         "raw": "ASR: hello | IC: greet |", "joint": True, "labels": ["greet", "bye"]},
        {"id": "b", "task": "ic", "hyp": "", "ref": "bye", "ref_asr": "bye now",
         "raw": "garbage", "joint": True, "labels": ["greet", "bye"]},
    ])
    s = score_dir(d)
    assert s["tasks"]["ic"]["score"] == 50.0
    assert s["input"]["counts"]["joint_unparsed"] == 1
    assert s["tasks"]["ic"]["joint_asr"]["errors"] == 3  # 1 deletion + 2 deletions


def test_stage_skips_and_refuses_changed_options(decode_dir, caplog):
    score_dir(decode_dir)
    mtime = (decode_dir / "scores.json").stat().st_mtime_ns
    score_dir(decode_dir)
    assert (decode_dir / "scores.json").stat().st_mtime_ns == mtime
    with pytest.raises(StageMismatch, match="normalizer"):
        score_dir(decode_dir, ScoreConfig(normalizer="none"))
    s = score_dir(decode_dir, ScoreConfig(normalizer="none"), force=True)
    assert s["options"]["normalizer"] == "none"


def test_decode_info_is_carried(decode_dir):
    (decode_dir / "decode_info.json").write_text(json.dumps(
        {"prompts": "unseen", "constrained": True, "joint": False, "beam": 4, "split": "test"}))
    s = score_dir(decode_dir)
    assert s["decode_info"]["beam"] == 4 and s["split"] == "test"


def test_cli(decode_dir, capsys):
    assert run(["score", str(decode_dir), "--normalizer", "none"]) == 0
    out = capsys.readouterr().out
    assert "%WER" in out and "BLEU" in out and "SLU-F1" in out
    assert json.loads((decode_dir / "scores.json").read_text())["options"]["normalizer"] == "none"
    assert run(["score", str(decode_dir), "--mode", "sometimes", "--force"]) == 2
    assert run(["score", str(decode_dir.parent / "nothing_here")]) == 2


def test_bad_json_line_names_the_line(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "hyps.jsonl").write_text('{"id": "a", "task": "asr", "hyp": "", "ref": ""}\n{oops\n')
    with pytest.raises(UserError, match="hyps.jsonl:2"):
        score_dir(d)
