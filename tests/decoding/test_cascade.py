"""Cascade baselines (GT->LLM, ASR->LLM): prefixes as text-lm training made them, CTC transcripts
flowing into them, constrained outputs, hyps/decode_info that score and report read."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from lhotse.utils import fastcopy

from svtk.decoding.cascade import (
    CTCTranscriber,
    TextPrefixLM,
    find_phase_model,
    reference_transcripts,
)
from svtk.errors import UserError

LABELS = {"ic": ["alarm_set", "play_music", "weather_query"], "kws": ["yes", "no"]}
LLMS = {
    "encoder-decoder": {"model_type": "t5", "d_model": 32, "d_ff": 64, "d_kv": 8, "num_heads": 2,
                        "num_layers": 1, "num_decoder_layers": 1, "dropout_rate": 0.0},
    "decoder-only": {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1},
}


def _phase(exp, phase, objective, model):
    (exp / phase).mkdir(parents=True)
    (exp / phase / "config.yaml").write_text(yaml.safe_dump({"phases": {phase: {"objective": objective}}}))
    model.save_pretrained(exp / phase / "model")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """An experiment dir with a ctc phase and a text-lm phase per LLM kind, and test cuts."""
    from lhotse import CutSet

    from svtk.testing.models import tiny_task_cuts, tiny_tokenizer
    from svtk.training.pretrain import CTCModel, TextLM

    root = tmp_path_factory.mktemp("cascade")
    tiny_tokenizer(root / "tok")
    cuts = [fastcopy(c, custom={**c.custom, "labels": LABELS.get(c.custom["task"])})
            for c in tiny_task_cuts(root / "audio")]
    CutSet.from_cuts(cuts).to_file(root / "test.jsonl.gz")
    torch.manual_seed(0)
    exps, sections = {}, {}
    for kind, llm in LLMS.items():
        exp = root / kind
        _phase(exp, "encoder_ctc", "ctc", CTCModel({
            "tokenizer": str(root / "tok"),
            "encoder": {"d_model": 32, "num_layers": 1, "num_heads": 2, "conv_kernel": 3}}))
        sections[kind] = {"tokenizer": str(root / "tok"), "kind": kind, "llm": llm}
        _phase(exp, "text_lm", "text-lm", TextLM(sections[kind]))
        exps[kind] = exp
    return {"root": root, "cuts": cuts, "exps": exps, "sections": sections}


@pytest.mark.parametrize("kind", list(LLMS))
def test_gt_prefix_is_text_lm_training_prefix(setup, kind):
    from svtk.training.pretrain import TextLM

    lm = TextPrefixLM.from_dir(find_phase_model(setup["exps"][kind], "text-lm"),
                               reference_transcripts)
    assert lm.llm_kind == kind
    cuts = setup["cuts"]
    train = TextLM(setup["sections"][kind]).collate(cuts)
    ids = lm.collate(cuts)["ids"]
    for i, row in enumerate(ids):
        assert row == train["prefix_ids"][i, : int(train["prefix_lens"][i])].tolist()
    embeds, mask = lm.prefix({"ids": ids})  # (B, T, D), (B, T)
    assert embeds.shape[:2] == mask.shape and mask.sum(1).tolist() == [len(x) for x in ids]
    assert min(len(x) for x in ids) < mask.shape[1]  # some rows are padded
    for i, row in enumerate(ids):  # left-padded for decoder-only, right for encoder-decoder
        pos = mask[i].nonzero().flatten()
        if len(row) < mask.shape[1]:
            assert (int(pos[0]) > 0) == (kind == "decoder-only")
        assert torch.equal(embeds[i, pos], lm.llm.embed(torch.tensor(row)))


def test_ctc_transcripts_are_batched_cached_and_feed_the_prefix(setup):
    from svtk.training.pretrain import text_prefix_ids

    exp = setup["exps"]["encoder-decoder"]
    ctc = CTCTranscriber.from_dir(find_phase_model(exp, "ctc"))
    cuts = setup["cuts"]
    alone = [ctc.transcribe([c])[0] for c in cuts]
    assert ctc(cuts) == alone  # a padded batch gives each cut's own transcript
    assert any(alone)  # an untrained CTC head still emits units: the test sees real text
    assert len(ctc.cache) == len({c.recording.id for c in cuts}) < len(cuts)  # shared audio once
    lm = TextPrefixLM.from_dir(find_phase_model(exp, "text-lm"), ctc)
    ids = lm.collate(cuts)["ids"]
    for c, text, row in zip(cuts, alone, ids, strict=True):
        assert row == (text_prefix_ids(lm.tokenizer, text, c.custom["prompt"])
                       or [lm.tokenizer.eos_id])
        assert lm.transcripts[c.id] == text


def _hyps(d):
    return [json.loads(x) for x in (d / "hyps.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("kind", list(LLMS))
def test_cli_cascades_write_rows_score_and_report_read(setup, kind):
    from svtk.cli import run

    exp, cuts_path = setup["exps"][kind], setup["root"] / "test.jsonl.gz"
    common = ["decode", "--exp-dir", str(exp), "--split", "test", "--cuts", str(cuts_path),
              "--constrained", "--max-new-tokens", "24", "--batch-size", "3"]
    assert run(common + ["--system", "asr-llm"]) == 0
    assert run(common + ["--system", "gt-llm"]) == 0
    asr_dir = exp / "decode" / "asr-llm_greedy_cut_constrained" / "test"
    gt_dir = exp / "decode" / "gt-llm_greedy_cut_constrained" / "test"
    ctc = CTCTranscriber.from_dir(exp / "encoder_ctc" / "model")
    by_id = {c.id: c for c in setup["cuts"]}

    asr = _hyps(asr_dir)
    assert sorted(r["id"] for r in asr) == sorted(by_id)
    for r in asr:
        assert r["asr_hyp"] == ctc.transcribe([by_id[r["id"]]])[0]
        if r["task"] == "asr":
            assert r["hyp"] == r["asr_hyp"] and r["ref"] == by_id[r["id"]].custom["target"]
        else:
            assert r["finished"] and r["hyp"] in LABELS[r["task"]]  # constrained to its labels
    gt = _hyps(gt_dir)
    assert sorted(r["id"] for r in gt) == sorted(i for i, c in by_id.items()
                                                 if c.custom["task"] != "asr")
    assert all(r["hyp"] in LABELS[r["task"]] and "asr_hyp" not in r for r in gt)
    info = json.loads((asr_dir / "decode_info.json").read_text())
    assert info["system"] == "asr->llm" and info["constrained"] is True
    assert info["ctc_encoder"] == str(exp / "encoder_ctc" / "model")
    assert json.loads((gt_dir / "decode_info.json").read_text())["system"] == "gt->llm"

    assert run(["score", str(asr_dir), str(gt_dir)]) == 0
    assert "asr" in json.loads((asr_dir / "scores.json").read_text())["tasks"]
    assert run(["report", "--exp-dir", str(exp)]) == 0
    results = (exp / "RESULTS.md").read_text()
    assert "asr->llm" in results and "gt->llm" in results
    assert run(common + ["--system", "asr-llm"]) == 0  # done: skipped, not redone


@pytest.fixture(scope="module")
def one_sentence_lm(setup):
    """A 3-gram that has only ever seen "set an alarm", over the cascade's tokenizer."""
    from svtk.decoding.ngram import train_kneser_ney
    from svtk.models.tokenizer import Tokenizer

    tok = Tokenizer.from_pretrained(setup["root"] / "tok")
    special = set(tok.hf.all_special_ids)
    lm = train_kneser_ney([tok.encode("set an alarm")] * 5, 3,
                          [i for i in range(tok.vocab_size) if i not in special], tok.eos_id)
    return lm.write_arpa(setup["root"] / "one.3gram.arpa", tok.hf.convert_ids_to_tokens,
                         tok.eos_id)


def test_ctc_transcripts_by_prefix_beam_search_with_an_lm(setup, one_sentence_lm):
    """Prefix beam search transcribes a padded batch as each cut alone; with a heavy LM every
    transcript is the LM's one sentence (the best path's are not)."""
    exp = setup["exps"]["encoder-decoder"]
    model_dir = find_phase_model(exp, "ctc")
    cuts = setup["cuts"]
    beam = CTCTranscriber.from_dir(model_dir, beam=4)
    best_path = CTCTranscriber.from_dir(model_dir)
    assert beam(cuts) == [beam.transcribe([c])[0] for c in cuts]  # batched as alone
    heavy = CTCTranscriber.from_dir(model_dir, beam=4, lm=one_sentence_lm, lm_weight=50.0)
    assert set(heavy(cuts)) == {"set an alarm"}
    assert best_path(cuts) != heavy(cuts)


def test_cli_asr_llm_transcribes_with_the_lm(setup, one_sentence_lm):
    from svtk.cli import run

    exp, cuts_path = setup["exps"]["decoder-only"], setup["root"] / "test.jsonl.gz"
    common = ["decode", "--exp-dir", str(exp), "--split", "test", "--cuts", str(cuts_path),
              "--constrained", "--max-new-tokens", "24", "--batch-size", "3"]
    lm = ["--lm", str(one_sentence_lm), "--lm-weight", "50"]
    assert run(common + ["--system", "asr-llm", "--asr-beam", "4", *lm]) == 0
    out = exp / "decode" / "asr-llm_greedy_cut_constrained_asrbeam4_asrlm50" / "test"
    asr = [r for r in _hyps(out) if r["task"] == "asr"]
    assert asr and all(r["hyp"] == "set an alarm" for r in asr)
    info = json.loads((out / "decode_info.json").read_text())
    assert (info["asr_beam"], info["lm"], info["lm_weight"]) == (4, str(one_sentence_lm), 50.0)
    assert run(common + ["--system", "gt-llm", *lm]) == 2  # gt-llm has no transcripts to make


def test_phase_models_are_found_by_objective(setup, tmp_path):
    exp = setup["exps"]["encoder-decoder"]
    assert find_phase_model(exp, "ctc") == exp / "encoder_ctc" / "model"
    with pytest.raises(UserError, match="objective 'text-lm'.*found none"):
        find_phase_model(tmp_path, "text-lm")
    from svtk.cli import run

    assert run(["decode", "--exp-dir", str(tmp_path), "--split", "test", "--cuts",
                str(setup["root"] / "test.jsonl.gz"), "--system", "gt-llm"]) == 2
