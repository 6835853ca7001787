"""The synthetic corpus: splits, voices held out, determinism, lhotse validation, skip report."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest

from svtk.data.manifests import load_manifests, manifest_path
from svtk.data.synth import SPLITS, plan
from svtk.data.validate import validate_manifests
from svtk.errors import UserError
from svtk.testing.data import have_tts, make_tiny_corpus, tiny_corpus, tiny_synth_config

pytestmark = pytest.mark.skipif(not have_tts(), reason="espeak-ng/flite/festival/sox missing")


def _sups(split):
    return list(load_manifests(tiny_corpus(), "mini", split)[1])


def test_every_split_has_every_kind_and_label_source():
    for split in SPLITS:
        sups = _sups(split)
        kinds = Counter(s.custom["kind"] for s in sups)
        assert kinds["utt"] and kinds["sc"] and kinds["nonspeech"], (split, kinds)
        assert {s.custom["n_speakers"] for s in sups if s.custom["kind"] == "sc"} == {1, 2}
        utts = [s.custom for s in sups if s.custom["kind"] == "utt"]
        assert any("intent" in c for c in utts) and any("sentiment" in c for c in utts)
        assert {c["gender"] for c in utts} == {"female", "male"}


def test_held_out_voices_and_sentences():
    voices = {s: {v for x in _sups(s) for v in (x.custom.get("voices") or [x.custom.get("voice")])
                  if v} for s in SPLITS}
    seen = voices["train"] | voices["dev"] | voices["test_seen"]
    assert voices["test_unseen"] and not voices["test_unseen"] & seen
    texts = {s: {x.text for x in _sups(s) if x.custom["kind"] == "utt"} for s in SPLITS}
    for a in SPLITS:
        for b in SPLITS:
            if a < b:
                assert not texts[a] & texts[b], (a, b)


def test_plan_is_deterministic_and_seed_dependent():
    a, b = plan(tiny_synth_config()), plan(tiny_synth_config())
    assert [(i.id, i.segments, i.ns_params) for i in a] == [(i.id, i.segments, i.ns_params) for i in b]
    c = plan(tiny_synth_config(seed=1))
    assert [i.segments for i in a] != [i.segments for i in c]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_gives_identical_manifests_and_audio(tmp_path):
    small = {"hours": 0.01, "min_per_kind": 2, "min_utterances": 4}
    d = make_tiny_corpus(tmp_path / "a", workers=2, **small)
    first = {p.name: _digest(p) for p in sorted(d.rglob("*")) if p.is_file() and p.suffix != ".done"}
    from svtk.data.synth import synthesize

    synthesize(tiny_synth_config(**small), d, workers=1, force=True)  # other worker count
    again = {p.name: _digest(p) for p in sorted(d.rglob("*")) if p.is_file() and p.suffix != ".done"}
    assert first == again and any(n.endswith(".flac") for n in first)
    # Re-running a finished stage skips; a changed config is refused without --force.
    synthesize(tiny_synth_config(**small), d)
    with pytest.raises(UserError, match="finished with other settings"):
        synthesize(tiny_synth_config(**{**small, "seed": 3}), d)


def test_festival_batched_over_the_corpus_renders_the_same_audio(tmp_path):
    """Festival's sentences go to a few large processes before the chunks (voices.Engine.batch);
    the audio must equal rendering each chunk on its own, and a batch holds one voice."""
    import soundfile as sf

    from svtk.data import voices as V
    from svtk.data.synth import batched_raws, render_chunk

    cfg = tiny_synth_config(hours=0.01, min_per_kind=2, min_utterances=12,
                            voices={"engines": {"festival": 1.0, "flite": 0.3}})
    items = [it for it in plan(cfg) if it.kind != "nonspeech"][:10]
    assert sum(1 for it in items for s in it.segments if s.voice.startswith("festival:")) >= 3
    shared = tmp_path / "batched"
    shared.mkdir()
    batches = batched_raws(items, shared)
    assert batches and all(len({s.voice for s, _ in b}) == 1 for b in batches)
    assert all(len(b) <= V.ENGINES["festival"].batch for b in batches)
    assert all(s.voice.startswith("festival:") for b in batches for s, _ in b)
    for b in batches:
        V.synthesize_batch(b, V.all_voices())
    sizes_b = render_chunk(items, tmp_path / "b", cfg, batched_dir=shared)
    sizes_a = render_chunk(items, tmp_path / "a", cfg)
    assert sizes_a == sizes_b
    for f in sorted((tmp_path / "a").rglob("*.flac")):
        other = tmp_path / "b" / f.relative_to(tmp_path / "a")
        assert (sf.read(str(f))[0] == sf.read(str(other))[0]).all(), f.name


def test_manifests_pass_validation():
    report = validate_manifests(tiny_corpus(), "mini")
    assert set(report["splits"]) == set(SPLITS)
    assert all(s["skipped"] == 0 for s in report["splits"].values())


def test_broken_audio_is_reported_not_dropped(tmp_path):
    d = tmp_path / "data"
    shutil.copytree(tiny_corpus(), d)
    # Manifests point at the shared corpus: rewrite them to the copy.
    for kind in ("recordings", "supervisions"):
        p = manifest_path(d, "mini", kind, "dev")
        import gzip

        text = gzip.decompress(p.read_bytes()).decode().replace(str(tiny_corpus()), str(d))
        p.write_bytes(gzip.compress(text.encode()))
    recs, _ = load_manifests(d, "mini", "dev")
    files = [Path(r.sources[0].source) for r in recs][:4]
    assert all(str(f).startswith(str(d)) for f in files)
    files[0].write_bytes(b"")  # empty
    files[1].write_bytes(files[1].read_bytes()[: len(files[1].read_bytes()) // 3])  # truncated
    files[2].unlink()  # missing
    import soundfile as sf

    audio, _ = sf.read(str(files[3]))
    sf.write(str(files[3]), audio, 8000)  # wrong rate
    with pytest.raises(UserError, match="too many unusable"):
        validate_manifests(d, "mini", ["dev"], max_skip_fraction=0.05)
    report = validate_manifests(d, "mini", ["dev"], max_skip_fraction=0.5)
    s = report["splits"]["dev"]
    assert s["skipped"] == 4
    tsv = (d / "manifests" / "mini_skips_dev.tsv").read_text().splitlines()
    assert len(tsv) == 5 and all(len(line.split("\t")) == 3 for line in tsv)
    assert {"empty file", "missing"} <= set(s["reasons"])


def test_missing_engine_names_the_debian_package(monkeypatch, tmp_path):
    import shutil as sh

    real = sh.which
    monkeypatch.setattr(sh, "which", lambda c: None if c == "flite" else real(c))
    from svtk.data.synth import synthesize

    with pytest.raises(UserError, match="apt-get install flite"):
        synthesize(tiny_synth_config(hours=0.001), tmp_path / "x")
