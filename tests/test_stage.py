"""svtk.stage: atomic writes and markers (skip, refuse on changed input/config, --force)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass

import pytest

from svtk.stage import Stage, StageMismatch, _listing_hash, atomic_path, atomic_write_text


@dataclass
class Cfg:
    hours: float = 1.0
    seed: int = 0


def test_atomic_write_interrupted_leaves_nothing(tmp_path):
    final = tmp_path / "out/manifest.jsonl"
    with pytest.raises(RuntimeError):
        with atomic_path(final) as tmp:
            tmp.write_text("half a line")
            raise RuntimeError("killed mid-write")
    assert not final.exists()
    assert list(final.parent.iterdir()) == []  # no temp file left behind either


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    final = tmp_path / "a.txt"
    atomic_write_text(final, "old")
    with pytest.raises(ValueError):
        with atomic_path(final) as tmp:
            tmp.write_text("new, unfinished")
            raise ValueError
    assert final.read_text() == "old"


def test_atomic_directory_replaces_whole(tmp_path):
    final = tmp_path / "latents"
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "a.bin").write_text("1")
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "b.bin").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == ["b.bin"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latents"]


def test_atomic_suffix_preserved(tmp_path):
    with atomic_path(tmp_path / "cuts.jsonl.gz") as tmp:
        assert tmp.name.endswith(".jsonl.gz")
        tmp.write_bytes(b"x")


def run(stage: Stage, out, calls: list) -> None:
    if stage.is_done():
        return
    atomic_write_text(out, "result")
    calls.append(1)
    stage.mark_done(outputs=[out])


@pytest.fixture
def setup(tmp_path):
    inp = tmp_path / "input.txt"
    inp.write_text("hello")
    return tmp_path, inp, tmp_path / "work/out.txt"


def test_skip_when_unchanged(setup, caplog):
    tmp_path, inp, out = setup
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    with caplog.at_level(logging.INFO):
        run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    assert calls == [1]
    assert "skipping" in caplog.text


def test_refuse_on_changed_input_file(setup):
    tmp_path, inp, out = setup
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, [])
    inp.write_text("hello, world")
    with pytest.raises(StageMismatch) as e:
        Stage("prep", tmp_path / "work", Cfg(), [inp]).is_done()
    assert str(inp) in str(e.value) and "size 5 -> 12" in str(e.value)
    assert "--force" in str(e.value)


def test_refuse_on_same_size_content_change(setup):
    tmp_path, inp, out = setup
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, [])
    inp.write_text("jello")
    with pytest.raises(StageMismatch, match="content differs"):
        Stage("prep", tmp_path / "work", Cfg(), [inp]).is_done()


def test_refuse_on_changed_config_value(setup):
    tmp_path, inp, out = setup
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, [])
    with pytest.raises(StageMismatch) as e:
        Stage("prep", tmp_path / "work", Cfg(hours=2.0), [inp]).is_done()
    assert "config hours: 1.0 -> 2.0" in str(e.value)


@dataclass
class NewerCfg(Cfg):  # svtk grew a setting after the stage ran
    beam: int = 1


def test_a_setting_added_since_at_its_default_is_not_a_change(setup, caplog):
    tmp_path, inp, out = setup
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    with caplog.at_level(logging.INFO):
        run(Stage("prep", tmp_path / "work", NewerCfg(), [inp]), out, calls)
    assert calls == [1] and "at their defaults: beam" in caplog.text
    with pytest.raises(StageMismatch, match="config beam: '<unset>' -> 4"):
        Stage("prep", tmp_path / "work", NewerCfg(beam=4), [inp]).is_done()
    with pytest.raises(StageMismatch, match="config seed: 0 -> 1"):  # an old setting changed
        Stage("prep", tmp_path / "work", NewerCfg(seed=1), [inp]).is_done()


def test_a_mapping_config_takes_its_defaults_explicitly(setup):
    tmp_path, inp, out = setup
    run(Stage("prep", tmp_path / "work", {"hours": 1.0}, [inp]), out, [])
    with pytest.raises(StageMismatch, match="config beam"):  # no dataclass: no defaults known
        Stage("prep", tmp_path / "work", {"hours": 1.0, "beam": 1}, [inp]).is_done()
    assert Stage("prep", tmp_path / "work", {"hours": 1.0, "beam": 1}, [inp],
                 defaults={"beam": 1}).is_done()
    with pytest.raises(StageMismatch, match="config hours"):  # a key removed is still a change
        Stage("prep", tmp_path / "work", {"beam": 1}, [inp], defaults={"beam": 1}).is_done()


def test_directory_input(setup):
    tmp_path, _, out = setup
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.wav").write_bytes(b"1")
    run(Stage("prep", tmp_path / "work", Cfg(), [corpus]), out, [])
    (corpus / "b.wav").write_bytes(b"2")
    with pytest.raises(StageMismatch, match="1 -> 2 files"):
        Stage("prep", tmp_path / "work", Cfg(), [corpus]).is_done()


def test_directory_input_made_again_with_the_same_bytes_is_unchanged(setup):
    """A model directory trained again to the same weights (new files, new mtimes) is the same
    input; one byte changed in a file of the same size is not."""
    tmp_path, _, out = setup
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"abcd")
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [model]), out, calls)
    (model / "weights.bin").unlink()
    (model / "weights.bin").write_bytes(b"abcd")
    os.utime(model / "weights.bin", ns=(1, 1))
    run(Stage("prep", tmp_path / "work", Cfg(), [model]), out, calls)
    assert calls == [1]
    (model / "weights.bin").write_bytes(b"abce")
    with pytest.raises(StageMismatch, match="content differs"):
        Stage("prep", tmp_path / "work", Cfg(), [model]).is_done()


def test_a_marker_from_before_content_hashed_directories_still_skips(setup):
    """Markers written before directories were hashed by content recorded their file listing
    (path, size, mtime): while that listing stands, the stage is done; a touched file is a
    change, as it was then."""
    tmp_path, _, out = setup
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "ic.yaml").write_text("- a\n")
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [prompts]), out, calls)
    marker = tmp_path / "work" / ".prep.done"
    m = json.loads(marker.read_text())
    m["inputs"][str(prompts)] = {"kind": "dir", "files": 1, "hash": _listing_hash(prompts)}
    marker.write_text(json.dumps(m))
    run(Stage("prep", tmp_path / "work", Cfg(), [prompts]), out, calls)
    assert calls == [1]
    os.utime(prompts / "ic.yaml", ns=(1, 1))
    with pytest.raises(StageMismatch, match="content differs"):
        Stage("prep", tmp_path / "work", Cfg(), [prompts]).is_done()


def test_force_redoes(setup):
    tmp_path, inp, out = setup
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    run(Stage("prep", tmp_path / "work", Cfg(seed=3), [inp], force=True), out, calls)
    assert calls == [1, 1]
    # the new marker records the new config: a plain re-run now skips
    run(Stage("prep", tmp_path / "work", Cfg(seed=3), [inp]), out, calls)
    assert calls == [1, 1]


def test_missing_output_reruns(setup):
    tmp_path, inp, out = setup
    calls: list = []
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    out.unlink()
    run(Stage("prep", tmp_path / "work", Cfg(), [inp]), out, calls)
    assert calls == [1, 1] and out.exists()
