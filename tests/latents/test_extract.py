"""Latent cache: one latent per recording, storage round trip, tag keying, latents == audio path."""

import numpy as np
import pytest
import torch
from lhotse import load_manifest

from svtk.cli import run
from svtk.latents.extract import duration_batches, extract_latents
from svtk.latents.storage import NpyChunkyReader, NpyChunkyWriter
from svtk.latents.tag import encoder_tag
from svtk.models.encoders import build_encoder
from svtk.models.speechlm import SpeechLM, load_latent
from svtk.testing.models import tiny_model_config, tiny_native


@pytest.fixture()
def cuts_file(tmp_path, task_cuts):
    path = tmp_path / "tasks" / "train.jsonl.gz"
    path.parent.mkdir()
    task_cuts.to_file(path)
    return path


def test_storage_round_trip_and_slicing(tmp_path):
    a = np.random.default_rng(0).standard_normal((50, 3, 8)).astype(np.float16)
    b = np.arange(12, dtype=np.float32).reshape(6, 2)
    with NpyChunkyWriter(tmp_path / "x.npyc") as w:
        ka, kb = w.write("a", a), w.write("b", b)
    r = NpyChunkyReader(tmp_path / "x.npyc")
    assert np.array_equal(r.read(ka), a) and r.read(ka).dtype == np.float16
    assert np.array_equal(r.read(kb), b)
    assert np.array_equal(r.read(ka, left_offset_frames=10, right_offset_frames=20), a[10:20])


def test_storage_read_from_the_wrong_file_is_an_error(tmp_path, model_root, cuts_file):
    """A storage path resolved against another directory finds another split's file: the shape
    check and the header check say so, instead of returning another recording's frames."""
    from svtk.errors import UserError

    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    cached = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train"))
    cut = next(c for c in cached if c.custom["latent"].array.storage_key == "0")
    load_latent(cut)  # fine where it was written
    storage = cut.custom["latent"].array.storage_path
    with NpyChunkyWriter(storage) as w:  # the same path now holds other arrays
        w.write("other", np.zeros((3, 2), dtype=np.float16))
        w.write("other2", np.zeros((4, 2), dtype=np.float16))
    with pytest.raises(UserError, match="has shape .* but the manifest says"):
        load_latent(cut)
    odd = next(c for c in cached if c.custom["latent"].array.storage_key != "0")
    with pytest.raises(UserError, match="no stored array at byte"):
        load_latent(odd)


def test_duration_batches():
    class R:
        def __init__(self, d):
            self.duration = d

    recs = [R(d) for d in (1.0, 5.0, 2.0, 2.5, 0.5, 4.0)]
    batches = duration_batches(recs, max_duration=8.0, max_batch=3)
    assert sorted(r.duration for b in batches for r in b) == sorted(r.duration for r in recs)
    for b in batches:
        assert len(b) <= 3 and len(b) * max(r.duration for r in b) <= 8.0 or len(b) == 1
        assert [r.duration for r in b] == sorted((r.duration for r in b), reverse=True)


@pytest.mark.parametrize("layer", ["last", "weighted"])
def test_extract_one_latent_per_recording(tmp_path, model_root, cuts_file, task_cuts, layer):
    cfg = tiny_model_config(model_root, encoder="native", llm="t5", layer=layer)
    out = extract_latents(cfg, cuts_file, tmp_path / "latents", "train", dtype="fp32", max_duration=3.0)
    tag = encoder_tag(cfg.encoder, "fp32")
    assert out == tmp_path / "latents" / tag / "train.jsonl.gz"
    assert tag.startswith(f"native-enc_native-{layer}-fp32-")  # "-" separates fields
    cuts = load_manifest(out)
    assert [c.id for c in cuts] == [c.id for c in task_cuts]
    keys = {}
    for c in cuts:
        keys.setdefault(c.recording.id, set()).add((c.latent.array.storage_path, c.latent.array.storage_key))
        assert c.custom["latent_tag"] == tag
    assert len(keys) == 4 and all(len(v) == 1 for v in keys.values())  # r1 shared by asr and ic
    storage = tmp_path / "latents" / tag / "storage" / "train.npyc"
    assert len({k for v in keys.values() for k in v}) == 4 and storage.is_file()
    # fp32 is lossless (storage round trip is exact, see above); versus encoding the recording
    # alone the only difference is float noise from batching
    enc = build_encoder(cfg.encoder).eval()
    for c in cuts:
        audio = torch.from_numpy(c.load_audio()[0])[None]
        with torch.no_grad():
            hs = enc(audio, torch.tensor([audio.shape[1]])).hidden_states
        ref = (torch.stack(hs, 2) if layer == "weighted" else hs[-1])[0].numpy()
        got = load_latent(c)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=1e-5)
        if layer == "weighted":
            assert got.shape[1] == enc.num_hidden_states  # all layers stored for the learnable mix


def test_fp16_round_trip_error(tmp_path, model_root, cuts_file):
    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    f32 = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train", dtype="fp32"))
    f16 = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train", dtype="fp16"))
    assert f32[0].custom["latent_tag"] != f16[0].custom["latent_tag"]
    for a, b in zip(f32, f16, strict=False):
        x, y = load_latent(a), load_latent(b)
        # fp16 keeps 11 significant bits: relative error <= 2^-11 (values here are O(1))
        assert np.all(np.abs(x - y) <= np.abs(x) * 2.0 ** -11 + 1e-7)


@pytest.mark.parametrize("llm,dtype,tol", [("t5", "fp32", 1e-5), ("llama", "fp32", 1e-5),
                                            ("llama", "fp16", 2e-2)])
def test_collate_from_latents_equals_audio(tmp_path, model_root, cuts_file, task_cuts, llm, dtype, tol):
    torch.manual_seed(0)
    cfg = tiny_model_config(model_root, encoder="native", llm=llm, layer="weighted")
    model = SpeechLM.from_config(cfg).eval()
    cached = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train", dtype=dtype))
    b_lat, b_audio = model.collate(cached), model.collate(task_cuts)
    assert b_lat.latents is not None and b_lat.audio is None and b_audio.latents is None
    with torch.no_grad():
        out_lat, out_audio = model(b_lat), model(b_audio)
    torch.testing.assert_close(out_lat.loss_per_item, out_audio.loss_per_item, atol=tol, rtol=tol)
    assert torch.equal(out_lat.num_tokens, out_audio.num_tokens)


@pytest.mark.parametrize("llm", ["t5", "llama"])
def test_decoding_from_latents_equals_audio(tmp_path, model_root, cuts_file, task_cuts, llm):
    """egs/mini decodes its test splits from the cache: what the search reads (the prefix and
    the first next-token log-probabilities) equals the audio path's, and so do the records."""
    from svtk.decoding.driver import DecodeConfig, decode_cuts
    from svtk.decoding.incremental import make_decoder

    torch.manual_seed(0)
    cfg = tiny_model_config(model_root, encoder="native", llm=llm, layer="weighted")
    model = SpeechLM.from_config(cfg).eval()
    cached = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train", dtype="fp32"))
    b_lat, b_audio = model.collate(cached), model.collate(task_cuts)
    assert b_lat.latents is not None and b_audio.latents is None
    dec = make_decoder(model.llm_kind, model.llm.model)
    with torch.no_grad():
        (e_lat, m_lat), (e_audio, m_audio) = model.prefix(b_lat), model.prefix(b_audio)
        logp_lat, logp_audio = dec.start(e_lat, m_lat)[1], dec.start(e_audio, m_audio)[1]
    assert torch.equal(m_lat, m_audio)
    torch.testing.assert_close(e_lat, e_audio, atol=1e-5, rtol=1e-5)
    assert (e_audio[:, :4] - e_audio[:1, :4]).abs().max() > 1e-3  # the audio tokens differ
    torch.testing.assert_close(logp_lat, logp_audio, atol=1e-5, rtol=1e-5)
    opts = DecodeConfig(max_new_tokens=8, constrained=True, batch_size=4)
    assert list(decode_cuts(model, cached, opts)) == list(decode_cuts(model, task_cuts, opts))


def test_cache_keyed_by_encoder(tmp_path, model_root, cuts_file):
    enc_a = tiny_native(tmp_path / "enc", seed=1)
    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    cfg.encoder.name_or_path = str(enc_a)
    tag_a = encoder_tag(cfg.encoder)
    cached = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train"))
    assert cached[0].custom["latent_tag"] == tag_a
    cfg.encoder.layer = 1
    assert encoder_tag(cfg.encoder) != tag_a  # layer selection is part of the key
    cfg.encoder.layer = "last"
    tiny_native(tmp_path / "enc", seed=2)  # re-trained encoder, same directory
    assert encoder_tag(cfg.encoder) != tag_a
    model = SpeechLM.from_config(cfg)
    with pytest.raises(Exception, match="re-run svtk latents extract"):
        model.collate(cached)  # stale latents are refused, never silently used


def test_cli_extract_and_skip(tmp_path, model_root, cuts_file, capsys):
    import yaml

    from svtk.config import to_dict

    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    conf = tmp_path / "model.yaml"
    conf.write_text(yaml.safe_dump(to_dict(cfg)))
    args = ["latents", "extract", "--config", str(conf), "--cuts", str(cuts_file), "--split", "dev",
            "--out-dir", str(tmp_path / "lat")]
    assert run(args) == 0
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.endswith("dev.jsonl.gz")
    assert run(["latents", "tag", "--config", str(conf)]) == 0
    tag = capsys.readouterr().out.strip()
    assert f"/{tag}/" in out
    stamp = (tmp_path / "lat" / tag / "dev.jsonl.gz").stat().st_mtime_ns
    assert run(args) == 0  # finished stage: skipped
    assert (tmp_path / "lat" / tag / "dev.jsonl.gz").stat().st_mtime_ns == stamp


def test_sub_recording_cut_reads_its_span(tmp_path, model_root, cuts_file):
    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    cached = load_manifest(extract_latents(cfg, cuts_file, tmp_path / "lat", "train", dtype="fp32"))
    whole = cached[0]  # 1.3 s recording at 25 Hz
    full = load_latent(whole)
    part = whole.truncate(offset=0.4, duration=0.6)
    got = load_latent(part)
    assert abs(got.shape[0] - 15) <= 1  # 0.6 s at 25 Hz
    assert np.array_equal(got, full[10: 10 + got.shape[0]])
    assert (tmp_path / "lat" / whole.custom["latent_tag"] / "config.yaml").is_file()


def test_relative_out_dir_stays_relative(tmp_path, model_root, cuts_file, monkeypatch):
    """Like the audio paths of the manifests, a relative cache root is stored relative (to the
    recipe directory), so a recipe directory can be moved or copied with its cache."""
    cfg = tiny_model_config(model_root, encoder="native", llm="t5")
    work = tmp_path / "recipe"
    work.mkdir()
    monkeypatch.chdir(work)
    out = extract_latents(cfg, cuts_file, "data/latents", "train", dtype="fp32")
    cut = load_manifest(out)[0]
    path = cut.custom["latent"].array.storage_path
    assert path == f"data/latents/{out.parent.name}/storage/train.npyc"
    expected = cut.load_custom("latent")
    moved = tmp_path / "moved"
    work.rename(moved)
    monkeypatch.chdir(moved)
    rel = out.relative_to(work) if out.is_absolute() else out
    np.testing.assert_array_equal(load_manifest(rel)[0].load_custom("latent"), expected)
