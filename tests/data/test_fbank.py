"""Stored fbank (svtk data fbank): the encoder's own frames, once per recording; CTC from it equals
CTC from the audio; the stage skips when done and refuses a changed input."""

from __future__ import annotations

import pytest
import torch
from lhotse import load_manifest

from svtk.cli import run
from svtk.data.fbank import FBANK_CONFIG_FIELD, compute_fbank, load_fbank


@pytest.fixture(scope="module")
def toy_cuts(tmp_path_factory):
    from svtk.testing.training import make_task_cuts

    return make_task_cuts(tmp_path_factory.mktemp("toy"), tasks=("asr", "ic"), n_train=8, n_dev=4)


@pytest.fixture(scope="module")
def stored(toy_cuts, tmp_path_factory):
    out = tmp_path_factory.mktemp("fbank")
    return compute_fbank(toy_cuts["train"], out, "train", tasks=["asr"]), out


def test_one_array_per_recording_equal_to_the_encoders_frames(stored, toy_cuts):
    from svtk.models.native import NativeEncoder, fbank_frames
    from svtk.testing.models import tiny_native_config

    path, _ = stored
    cuts = load_manifest(path)
    every = load_manifest(toy_cuts["train"])
    assert [c.id for c in cuts] == [c.id for c in every if c.custom["task"] == "asr"]
    enc = NativeEncoder(tiny_native_config())
    for c in list(cuts)[:5]:
        audio = torch.from_numpy(c.load_audio()[0]).float()[None]
        with torch.no_grad():
            frames = enc.fbank(audio)[0, : int(fbank_frames(torch.tensor([audio.shape[1]]))[0])]
        stored_frames = torch.from_numpy(load_fbank(c))
        assert stored_frames.dtype == torch.float32 and stored_frames.shape == frames.shape
        torch.testing.assert_close(stored_frames, frames, atol=1e-5, rtol=1e-5)
        assert c.custom[FBANK_CONFIG_FIELD]["num_mel_bins"] == 80


def test_ctc_from_stored_fbank_equals_ctc_from_audio(stored, toy_cuts, tmp_path, caplog):
    from svtk.models.tokenizer import train_tokenizer_from_cuts
    from svtk.training.pretrain import CTCModel

    path, _ = stored
    tok = train_tokenizer_from_cuts([toy_cuts["train"]], tmp_path / "tok", vocab_size=60)
    torch.manual_seed(0)
    model = CTCModel({"tokenizer": str(tok), "encoder": {"d_model": 32, "num_layers": 1,
                                                           "num_heads": 2, "conv_kernel": 3,
                                                           "dropout": 0.0}}).eval()
    with_fbank = list(load_manifest(path))[:6]
    by_id = {c.id: c for c in load_manifest(toy_cuts["train"])}
    b_fbank, b_audio = model.collate(with_fbank), model.collate([by_id[c.id] for c in with_fbank])
    assert "fbank" in b_fbank and "audio" not in b_fbank and "audio" in b_audio
    with torch.no_grad():
        torch.testing.assert_close(model(b_fbank)["loss_per_item"], model(b_audio)["loss_per_item"],
                                   atol=1e-4, rtol=1e-5)
    mixed = [with_fbank[0], by_id[with_fbank[1].id]]
    with caplog.at_level("WARNING", logger="svtk.training.pretrain"):
        assert "audio" in model.collate(mixed) and "audio" in model.collate(mixed)
    assert sum("some cuts in a batch" in r.message for r in caplog.records) == 1  # once
    other = with_fbank[0].with_custom(FBANK_CONFIG_FIELD, {"num_mel_bins": 40})
    with pytest.raises(Exception, match="re-run svtk data fbank"):
        model.collate([other])  # features made another way are refused, never silently used


def test_cli_skips_when_done_and_refuses_changed_input(toy_cuts, tmp_path, capsys):
    args = ["data", "fbank", "--cuts", str(toy_cuts["dev"]), "--split", "dev",
            "--out-dir", str(tmp_path), "--tasks", "asr"]
    assert run(args) == 0
    assert capsys.readouterr().out.strip().endswith("dev.jsonl.gz")
    stamp = (tmp_path / "dev.jsonl.gz").stat().st_mtime_ns
    assert run(args) == 0 and (tmp_path / "dev.jsonl.gz").stat().st_mtime_ns == stamp
    assert run(args[:-2] + ["--tasks", "ic"]) != 0  # another selection: refused without --force


def test_cli_several_splits_in_one_call(toy_cuts, tmp_path, capsys):
    data_dir = toy_cuts["train"].parent
    assert toy_cuts["dev"].parent == data_dir
    args = ["data", "fbank", "--data-dir", str(data_dir), "--split", "train", "--split", "dev",
            "--out-dir", str(tmp_path), "--tasks", "asr"]
    assert run(args) == 0
    outs = capsys.readouterr().out.strip().splitlines()
    assert [o.rsplit("/", 1)[-1] for o in outs[-2:]] == ["train.jsonl.gz", "dev.jsonl.gz"]
    assert len(load_manifest(tmp_path / "dev.jsonl.gz")) == sum(
        c.custom["task"] == "asr" for c in load_manifest(toy_cuts["dev"]))
    assert run(args[:4] + ["--split", "test"] + args[6:]) != 0  # no such split: named, not run
    assert run(["data", "fbank", "--cuts", str(toy_cuts["dev"]), "--split", "a", "--split", "b",
                "--out-dir", str(tmp_path / "x")]) != 0  # --cuts is one manifest


def test_bad_input_is_named(toy_cuts, tmp_path):
    from svtk.errors import UserError

    with pytest.raises(UserError, match="no cuts of tasks"):
        compute_fbank(toy_cuts["dev"], tmp_path / "a", "dev", tasks=["sf"])
    with pytest.raises(UserError, match="not found"):
        compute_fbank(tmp_path / "missing.jsonl.gz", tmp_path / "b", "dev")
    assert not (tmp_path / "a" / "dev.jsonl.gz").exists()  # nothing half-written
