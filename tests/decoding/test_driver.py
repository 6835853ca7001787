"""The decode driver over a fake SpeechLM (the decoding contract) with a real tiny LLM."""

from __future__ import annotations

import json

import pytest
import yaml

from svtk.decoding.driver import DecodeConfig, decode_cuts, decode_split, decode_tag
from svtk.decoding.prompts import PromptChooser
from svtk.errors import UserError
from svtk.stage import StageMismatch
from svtk.testing.decoding import LABELS, SLOT_TYPES, FakeSpeechLM, dummy_task_cuts


@pytest.fixture(scope="module", params=["llama", "t5"])
def model(request, llama, t5, bpe_tok, uni_tok):
    if request.param == "llama":
        return FakeSpeechLM(llama, bpe_tok)
    return FakeSpeechLM(t5, uni_tok)


def _records(model, cuts, **kw):
    return list(decode_cuts(model, cuts, DecodeConfig(max_new_tokens=24, **kw)))


def test_records_follow_the_hyps_contract(model):
    cuts = dummy_task_cuts(9)
    recs = _records(model, cuts, batch_size=4)
    assert [r["id"] for r in recs] == [c.id for c in cuts]
    for r, c in zip(recs, cuts, strict=True):
        assert set(r) >= {"id", "task", "prompt", "hyp", "ref", "raw", "joint", "labels"}
        assert r["task"] == c.custom["task"] and r["ref"] == c.custom["target"]
        assert r["prompt"] == c.custom["prompt"] and r["joint"] is False
        assert r["labels"] == c.custom["labels"]


def test_batched_equals_one_by_one(model):
    cuts = dummy_task_cuts(6)
    batched = _records(model, cuts, batch_size=6, constrained=True)
    single = _records(model, cuts, batch_size=1, constrained=True)
    assert [r["hyp"] for r in batched] == [r["hyp"] for r in single]


@pytest.mark.parametrize("beam", [1, 3])
def test_constrained_mixed_batch(model, beam):
    cuts = dummy_task_cuts(9)
    recs = _records(model, cuts, batch_size=9, constrained=True, beam=beam)
    for r in recs:
        if r["task"] == "ic":
            assert r["hyp"] in LABELS and r["finished"]
        elif r["task"] == "sf" and r["finished"] and r["hyp"] != "none":  # none: no slots
            for part in r["hyp"].split(";"):
                assert part.split(":")[0].strip() in SLOT_TYPES
    free = _records(model, cuts, batch_size=9, beam=beam)
    asr = [r["hyp"] for r in recs if r["task"] == "asr"]
    assert asr == [r["hyp"] for r in free if r["task"] == "asr"]  # free items are untouched


@pytest.mark.parametrize("beam", [1, 3])
def test_search_shortcuts_do_not_change_records(model, beam):
    """Jump-forward and compaction (on by default) leave the hypotheses as they are."""
    cuts = dummy_task_cuts(9)
    kw = dict(batch_size=9, constrained=True, joint=True, beam=beam)
    fast = _records(model, cuts, **kw)
    slow = _records(model, cuts, jump_forward=False, compact_below=0.0, **kw)
    assert [(r["raw"], r["finished"]) for r in fast] == [(r["raw"], r["finished"]) for r in slow]


def test_shortcut_options_reach_the_search(model, monkeypatch):
    import svtk.decoding.search as search_mod

    seen = []
    real = search_mod.greedy_search
    monkeypatch.setattr(search_mod, "greedy_search",
                        lambda *a, **kw: seen.append(kw) or real(*a, **kw))
    _records(model, dummy_task_cuts(3), constrained=True, jump_forward=False, compact_below=0.5)
    assert seen and all(kw["jump_forward"] is False and kw["compact_below"] == 0.5 for kw in seen)


def test_joint_records_are_parsed(model):
    cuts = dummy_task_cuts(6, tasks=("asr", "ic"))
    recs = list(decode_cuts(model, cuts, DecodeConfig(constrained=True, joint=True, max_new_tokens=40)))
    for r in recs:
        if r["task"] == "ic":
            assert r["joint"] and "hyp_asr" in r and "ref_asr" in r
            assert r["raw"].startswith("ASR:")
            if r["finished"]:
                assert r["parsed"] and r["hyp"] in LABELS
            assert r["ref_asr"] == "play some music"
        else:
            assert not r["joint"]


def test_joint_transcripts_take_ctc_scores(model):
    """With a CTC weight the transcript part of joint outputs is rescored: it changes, the
    output still follows the joint grammar, and the label part stays a label."""
    cuts = dummy_task_cuts(8, tasks=("ic",))
    opts = dict(constrained=True, joint=True, max_new_tokens=40, batch_size=8)
    plain = list(decode_cuts(model, cuts, DecodeConfig(**opts)))
    fused = list(decode_cuts(model, cuts, DecodeConfig(**opts, ctc_weight=0.9)))
    assert [r["hyp_asr"] for r in fused] != [r["hyp_asr"] for r in plain]
    for r in fused:
        assert r["raw"].startswith("ASR:")
        if r["finished"]:
            assert r["parsed"] and r["hyp"] in LABELS


def test_transcript_span_of_each_tokenizer(tok):
    """The separator's pieces: byte-level BPE has one (``Ġ|``), sentencepiece-style two
    (``▁`` then ``|``: the first is neutral, not transcript)."""
    from svtk.decoding.driver import transcript_span
    from svtk.decoding.grammars import encode, encode_in_context

    span = transcript_span(tok, len(tok) + 5)
    sep = encode_in_context(tok, " | IC:")
    n = len(span.neutral)
    assert tuple(sep[:n]) == span.neutral and sep[n] in span.ends
    assert all("|" in tok.convert_ids_to_tokens(i) for i in span.ends)
    assert tuple(encode(tok, "ASR:")) in span.heads


def test_max_duration_batching(model):
    cuts = dummy_task_cuts(8)
    a = _records(model, cuts, batch_size=32, max_duration=3.0)
    b = _records(model, cuts, batch_size=8)
    assert [r["id"] for r in a] == [r["id"] for r in b]


def test_batches_hold_similar_cuts_and_records_keep_manifest_order(model, monkeypatch):
    cuts = dummy_task_cuts(12)  # asr, ic, sf, asr, ... interleaved
    tasks_per_batch = []
    collate = model.collate

    def spy(batch_cuts):
        tasks_per_batch.append({c.custom["task"] for c in batch_cuts})
        return collate(batch_cuts)

    monkeypatch.setattr(model, "collate", spy)
    recs = list(decode_cuts(model, cuts, DecodeConfig(batch_size=4, max_new_tokens=4)))
    assert [r["id"] for r in recs] == [c.id for c in cuts]
    assert tasks_per_batch == [{"asr"}, {"ic"}, {"sf"}]


def test_batches_keep_padding_under_max_padding():
    from svtk.decoding.driver import MAX_PADDING, batches

    lengths = [10, 10, 11, 30, 31, 12, 90, 95, 100, 101]  # a task boundary after 31
    out = list(batches(lengths, DecodeConfig(batch_size=4), duration=lambda n: 1.0,
                       length=lambda n: n))
    assert out == [[10, 10, 11], [30, 31], [12], [90, 95, 100, 101]]
    assert sum(out, []) == lengths
    for b in out:
        assert len(b) * max(b) <= (1 + MAX_PADDING) * sum(b)
    # without lengths: by count alone, as before
    assert [len(b) for b in batches(lengths, DecodeConfig(batch_size=4), lambda n: 1.0)] == [4, 4, 2]


def test_batches_by_prefix_length_where_the_model_tells_it(model, monkeypatch):
    from svtk.decoding.driver import MAX_PADDING

    cuts = dummy_task_cuts(12)
    plain = [r["hyp"] for r in _records(model, cuts, batch_size=12)]
    lengths = {c.id: len(c.custom["prompt"]) + round(10 * c.duration) for c in cuts}
    sizes = []
    collate = model.collate

    def spy(batch_cuts):
        sizes.append([lengths[c.id] for c in batch_cuts])
        return collate(batch_cuts)

    monkeypatch.setattr(model, "prefix_length", lambda c: lengths[c.id], raising=False)
    monkeypatch.setattr(model, "collate", spy)
    recs = _records(model, cuts, batch_size=12)
    assert [r["id"] for r in recs] == [c.id for c in cuts]
    assert [r["hyp"] for r in recs] == plain
    assert sum(map(len, sizes)) == len(cuts) and len(sizes) > 1
    for b in sizes:
        assert len(b) * max(b) <= (1 + MAX_PADDING) * sum(b)


def test_prompt_modes(tmp_path, model):
    from lhotse.utils import fastcopy

    bank = tmp_path / "prompts"
    bank.mkdir()
    (bank / "ic.yaml").write_text(yaml.safe_dump({"train": ["seen ic prompt {labels}"],
                                                  "unseen": ["unseen a", "unseen b"]}))
    cuts = dummy_task_cuts(6, tasks=("asr", "ic"))
    recs = _records(model, cuts, prompts="unseen", prompt_dir=str(bank))
    for r, c in zip(recs, cuts, strict=True):
        if r["task"] == "ic":
            assert r["prompt"] in ("unseen a", "unseen b")
        else:
            assert r["prompt"] == c.custom["prompt"]  # no bank for asr: kept
    seen = PromptChooser.from_option("train", bank).prompt_for(cuts[1])
    # as `svtk data tasks` renders it: one "label (description)" per line
    assert seen.startswith("seen ic prompt play_music (play music)\n")
    # joint decoding asks for the joint form, as the joint training examples did
    suffix = " First transcribe the audio, then answer, as: ASR: <transcript> | IC: <answer> |"
    assert PromptChooser.from_option("train", bank).prompt_for(cuts[1], joint=True) == seen + suffix
    assert PromptChooser.from_option("cut").prompt_for(cuts[1], joint=True) == \
        cuts[1].custom["prompt"] + suffix
    joint_cut = fastcopy(cuts[1], custom={**cuts[1].custom, "joint": True})
    assert PromptChooser.from_option("cut").prompt_for(joint_cut, joint=True) is None  # has it
    user = tmp_path / "mine.yaml"
    user.write_text(yaml.safe_dump({"ic": ["my own prompt"], "asr": {"x": ["write it down"]}}))
    recs = _records(model, cuts, prompts=str(user))
    assert {r["prompt"] for r in recs} == {"my own prompt", "write it down"}


def test_decode_split_writes_hyps_and_info_and_skips(tmp_path, model):
    cuts = dummy_task_cuts(5)
    path = tmp_path / "test.jsonl.gz"
    cuts.to_file(path)
    opts = DecodeConfig(constrained=True, max_new_tokens=16)
    out = tmp_path / "decode" / decode_tag(opts) / "test"
    hyps = decode_split(model, path, out, opts, split="test")
    lines = [json.loads(x) for x in hyps.read_text().splitlines()]
    assert len(lines) == 5
    info = json.loads((out / "decode_info.json").read_text())
    assert info == {"prompts": "cut", "constrained": True, "joint": False, "beam": 1,
                    "max_len_ratio": None, "ctc_weight": 0.0, "ctc_pre_beam": None,
                    "lm": None, "lm_weight": 0.0, "tasks": None, "split": "test",
                    "checkpoint": None}
    before = hyps.stat().st_mtime_ns
    decode_split(model, path, out, opts, split="test")  # done: skipped
    assert hyps.stat().st_mtime_ns == before
    with pytest.raises(StageMismatch):
        decode_split(model, path, out, DecodeConfig(beam=2, max_new_tokens=16), split="test")
    # a decode made before svtk had ctc_weight: the same decode at its default (0), not a change
    marker = out / ".decode.done"
    old = json.loads(marker.read_text())
    del old["config"]["ctc_weight"]
    marker.write_text(json.dumps({**old, "config_hash": "older"}))
    decode_split(model, path, out, opts, split="test")
    assert hyps.stat().st_mtime_ns == before
    with pytest.raises(StageMismatch, match="ctc_weight"):
        decode_split(model, path, out, DecodeConfig(constrained=True, max_new_tokens=16,
                                                    ctc_weight=0.5), split="test")


@pytest.mark.parametrize("beam", [1, 3])
def test_ctc_weight_rescoring_asr_only(model, beam):
    """Joint CTC/LLM decoding: the other tasks of a mixed batch decode exactly as without it;
    ASR changes, and at weight 1 the CTC head alone decides."""
    cuts = dummy_task_cuts(9)
    plain = _records(model, cuts, batch_size=9, beam=beam, constrained=True)
    fused = _records(model, cuts, batch_size=9, beam=beam, constrained=True, ctc_weight=0.5)
    for p, f in zip(plain, fused, strict=True):
        if p["task"] != "asr":  # scores to float noise of the threaded matmuls
            assert f["score"] == pytest.approx(p["score"], abs=1e-3)
            assert {**f, "score": None} == {**p, "score": None}
    ctc_only = _records(model, cuts, batch_size=9, beam=beam, ctc_weight=1.0)
    asr = [r for r in ctc_only if r["task"] == "asr"]
    assert asr and all(r["finished"] for r in asr)
    assert [r["hyp"] for r in asr] != [r["hyp"] for r in plain if r["task"] == "asr"]


def test_ctc_weight_one_ignores_the_llm(llama, qwen, bpe_tok):
    cuts = [c for c in dummy_task_cuts(12) if c.custom["task"] == "asr"]
    hyps = {}
    for name, llm in (("llama", llama), ("qwen", qwen)):
        recs = _records(FakeSpeechLM(llm, bpe_tok), cuts, batch_size=4, ctc_weight=1.0)
        hyps[name] = [r["hyp"] for r in recs]
    assert hyps["llama"] == hyps["qwen"]


def test_ctc_weight_needs_a_ctc_head(llama, bpe_tok):
    class NoCTC(FakeSpeechLM):
        prefix_and_ctc = None

    model = NoCTC(llama, bpe_tok)
    with pytest.raises(ValueError, match="prefix_and_ctc"):
        _records(model, dummy_task_cuts(3), ctc_weight=0.5)
    with pytest.raises(ValueError, match="ctc_weight"):
        DecodeConfig(ctc_weight=1.5)


@pytest.fixture(scope="module")
def asr_lm(tmp_path_factory, bpe_tok, uni_tok):
    """A 3-gram over each tiny tokenizer's pieces, trained on the ASR targets of task cuts
    through the stage wrapper, and the stage's skip on a second call."""
    from svtk.decoding.ngram import train_lm_from_cuts

    out = {}
    d = tmp_path_factory.mktemp("lm")
    cuts = d / "train.jsonl.gz"
    dummy_task_cuts(12).to_file(cuts)
    for name, tok in (("bpe", bpe_tok), ("unigram", uni_tok)):
        path = train_lm_from_cuts([cuts], tok.name_or_path, d / f"{name}.3gram.arpa.gz", order=3)
        before = path.stat().st_mtime_ns
        assert train_lm_from_cuts([cuts], tok.name_or_path, path, order=3) == path
        assert path.stat().st_mtime_ns == before
        out[tok.name_or_path] = path
    return out


@pytest.mark.parametrize("beam", [1, 3])
def test_lm_weight_fuses_asr_items_only(model, asr_lm, beam):
    """The other tasks of a mixed batch decode exactly as without the LM; ASR items take its
    scores, and a heavy LM trained on "play some music" writes it."""
    lm = str(asr_lm[model.tokenizer.name_or_path])
    cuts = dummy_task_cuts(9)
    plain = _records(model, cuts, batch_size=9, beam=beam, constrained=True)
    fused = _records(model, cuts, batch_size=9, beam=beam, constrained=True, lm=lm,
                     lm_weight=50.0)
    for p, f in zip(plain, fused, strict=True):
        if p["task"] != "asr":
            assert f["score"] == pytest.approx(p["score"], abs=1e-3)
            assert {**f, "score": None} == {**p, "score": None}
        else:
            assert f["hyp"] == "play some music"
    with pytest.raises(ValueError, match="needs an lm"):
        DecodeConfig(lm_weight=0.3)
    with pytest.raises(ValueError, match="lm_weight"):
        DecodeConfig(lm="x.arpa", lm_weight=-1)


def test_decode_split_redoes_when_the_lm_changes(tmp_path, model, asr_lm):
    cuts = dummy_task_cuts(3)
    path = tmp_path / "test.jsonl.gz"
    cuts.to_file(path)
    lm = tmp_path / "lm.arpa.gz"
    lm.write_bytes(asr_lm[model.tokenizer.name_or_path].read_bytes())
    opts = DecodeConfig(lm=str(lm), lm_weight=0.5, max_new_tokens=8, tasks=["asr"])
    out = tmp_path / "decode"
    decode_split(model, path, out, opts, split="test")
    info = json.loads((out / "decode_info.json").read_text())
    assert info["lm"] == str(lm) and info["lm_weight"] == 0.5
    lm.write_bytes(b"")  # another LM at the same path: another decode
    with pytest.raises(StageMismatch):
        decode_split(model, path, out, opts, split="test")


def test_decode_tag():
    assert decode_tag(DecodeConfig()) == "greedy_cut"
    assert decode_tag(DecodeConfig(beam=4, prompts="train", ctc_weight=0.5)) == \
        "beam4_train_ctc0.5"
    assert decode_tag(DecodeConfig(beam=4, prompts="unseen", constrained=True, joint=True)) == \
        "beam4_unseen_constrained_joint"
    assert decode_tag(DecodeConfig(prompts="conf/my_prompts.yaml")) == "greedy_my_prompts"
    assert decode_tag(DecodeConfig(beam=4, ctc_weight=0.5, ctc_pre_beam=8)) == \
        "beam4_cut_ctc0.5_pre8"
    assert decode_tag(DecodeConfig(beam=4, ctc_weight=1.0, lm="a.arpa", lm_weight=0.3)) == \
        "beam4_cut_ctc1_lm0.3"


def test_ctc_pre_beam_is_exact_for_small_vocabularies_and_follows_the_beam():
    from svtk.decoding.driver import CTC_EXACT_VOCAB, ctc_pre_beam

    assert ctc_pre_beam(DecodeConfig(beam=4), CTC_EXACT_VOCAB) == 0
    assert ctc_pre_beam(DecodeConfig(beam=4), 32000) == 8
    assert ctc_pre_beam(DecodeConfig(beam=10), 32000) == 15
    assert ctc_pre_beam(DecodeConfig(ctc_pre_beam=3), 32000) == 3
    assert ctc_pre_beam(DecodeConfig(ctc_pre_beam=0), 32000) == 0
    with pytest.raises(ValueError, match="ctc_pre_beam"):
        DecodeConfig(ctc_pre_beam=-1)


def test_bank_prompts_get_the_cuts_keyword_and_language(tmp_path):
    from lhotse.utils import fastcopy

    bank = tmp_path / "prompts"
    bank.mkdir()
    (bank / "kws.yaml").write_text(yaml.safe_dump({"train": ['Is "{keyword}" said?'], "unseen": ["x"]}))
    (bank / "st.yaml").write_text(yaml.safe_dump({"train": ["Translate into {language}."], "unseen": ["x"]}))
    cut = dummy_task_cuts(1, tasks=("asr",))[0]
    chooser = PromptChooser.from_option("train", bank)
    kws = fastcopy(cut, custom={**cut.custom, "task": "kws", "keyword": "volume"})
    st = fastcopy(cut, custom={**cut.custom, "task": "st", "lang": "fr"})
    assert chooser.prompt_for(kws) == 'Is "volume" said?'
    assert chooser.prompt_for(st) == "Translate into French."
    # a cut without the field keeps its own prompt rather than an unanswerable template
    bare = fastcopy(cut, custom={**cut.custom, "task": "kws"})
    assert chooser.prompt_for(bare) is None


def test_length_caps_from_ratio_and_duration(model):
    import math

    from svtk.decoding.driver import is_joint, length_caps

    cuts = list(dummy_task_cuts(9))
    assert length_caps(cuts, DecodeConfig()) is None  # no ratio: no caps
    opts = DecodeConfig(max_len_ratio={"asr": 3.0, "joint": 20.0}, max_new_tokens=24)
    caps = length_caps(cuts, opts)
    for cut, cap in zip(cuts, caps, strict=True):
        task = cut.custom["task"]
        assert cap == (math.ceil(3.0 * cut.duration) if task == "asr"
                       else 20 * cut.duration if is_joint(cut, opts) else 25)
    assert length_caps(cuts, DecodeConfig(max_len_ratio={"*": 0.1}, max_new_tokens=24)) == [1] * 9
    # decoding: a capped ASR item ends by its cap, with eos (not cut by max_new_tokens)
    recs = _records(model, cuts, max_len_ratio={"asr": 3.0})
    tok = model.tokenizer
    for cut, r in zip(cuts, recs, strict=True):
        if r["task"] == "asr":
            assert r["finished"]
            assert len(tok(r["raw"], add_special_tokens=False)["input_ids"]) < math.ceil(3.0 * cut.duration) + 2


def test_infer_fills_the_prompt_as_training_did(tmp_path, model):
    import numpy as np
    import soundfile as sf

    from svtk.decoding.infer import infer_file, task_labels
    from svtk.tasks.prompts import label_descriptions, render

    bank = tmp_path / "prompts"
    bank.mkdir()
    (bank / "ic.yaml").write_text(yaml.safe_dump({"train": ["Which intent?\n{labels}"], "unseen": ["x"]}))
    wav = tmp_path / "a.wav"
    sf.write(wav, np.zeros(8000, dtype="float32"), 16000)
    rec = infer_file(model, wav, task="ic",
                     opts=DecodeConfig(prompt_dir=str(bank), constrained=True, max_new_tokens=40))
    labels = task_labels("ic")
    assert rec["prompt"] == render("Which intent?\n{labels}", labels=label_descriptions("ic", labels))
    assert "\nlights_on (" in rec["prompt"] and rec["hyp"] in labels


def test_infer_answers_every_file_and_task_as_if_asked_alone(tmp_path, model):
    """``infer_files``: one record per (file, task), files first, in the order given, each the
    same answer as asking for it alone; closed-set answers are labels under the constraint."""
    import numpy as np
    import soundfile as sf

    from svtk.decoding.infer import infer_file, infer_files, task_labels

    bank = tmp_path / "prompts"
    bank.mkdir()
    for task in ("ic", "asr"):
        (bank / f"{task}.yaml").write_text(yaml.safe_dump({"train": [f"{task} please"], "unseen": ["x"]}))
    rng = np.random.default_rng(0)
    wavs = [tmp_path / "a.wav", tmp_path / "b.flac"]
    for i, w in enumerate(wavs):
        sf.write(w, 0.1 * rng.standard_normal(8000 * (i + 1)).astype("float32"), 16000)
    opts = DecodeConfig(prompt_dir=str(bank), constrained=True, max_new_tokens=12, batch_size=3)
    recs = infer_files(model, wavs, tasks=["asr", "ic"], opts=opts)
    assert [(r["audio"], r["task"]) for r in recs] == [(str(w), t) for w in wavs for t in ("asr", "ic")]
    for r in recs:
        alone = infer_file(model, r["audio"], task=r["task"], opts=opts)
        assert (r["hyp"], r["raw"], r["prompt"]) == (alone["hyp"], alone["raw"], alone["prompt"])
    assert all(r["hyp"] in task_labels("ic") for r in recs if r["task"] == "ic")
    assert len({r["id"] for r in infer_files(model, [wavs[0], wavs[0]], tasks=["ic"], opts=opts)}) == 2
    with pytest.raises(UserError, match="not found"):
        infer_files(model, [tmp_path / "nope.wav"], tasks=["ic"], opts=opts)
    with pytest.raises(UserError, match="--task or --prompt"):
        infer_files(model, wavs, tasks=[None], opts=opts)


def test_decode_presets_load():
    """Every conf/decode/*.yaml validates into a DecodeConfig (base: chains resolved)."""
    from pathlib import Path

    from svtk.config import load_config

    presets = sorted((Path(__file__).parents[2] / "conf" / "decode").glob("*.yaml"))
    loaded = {p.stem: load_config(DecodeConfig, p) for p in presets}
    assert {"greedy", "beam4", "constrained", "joint", "ctc"} <= set(loaded)
    assert loaded["ctc"].ctc_weight == 0.5 and loaded["ctc"].beam == 4
    assert decode_tag(loaded["ctc"]).endswith("_ctc0.5")


def test_joint_free_output_tasks_follow_the_joint_grammar(model):
    """A task without labels (ST) still answers ``ASR: ... | ST: ... |`` when decoded jointly
    and constrained; decoded alone it is free text."""
    from svtk.decoding.driver import GrammarCache

    cuts = dummy_task_cuts(6, tasks=("st",))
    grammars = GrammarCache(model.tokenizer, len(model.tokenizer))
    assert grammars.key_for(cuts[0], DecodeConfig(constrained=True, joint=True)) == ("joint", "st", None, None)
    assert grammars.key_for(cuts[0], DecodeConfig(constrained=True)) is None
    recs = list(decode_cuts(model, cuts, DecodeConfig(constrained=True, joint=True, max_new_tokens=60)))
    for r in recs:
        assert r["joint"] and r["raw"].startswith("ASR:"), r["raw"]
        if "|" in r["raw"]:
            assert r["raw"].split("|", 1)[1].lstrip().startswith("ST:"), r["raw"]
