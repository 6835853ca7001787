"""Writing manifests: svtk's fast serialiser and the cut-dict writer give lhotse's own lines."""

from __future__ import annotations

import gzip
import json
import logging

import numpy as np
import pytest
from lhotse import CutSet, MonoCut, SupervisionSegment, load_manifest
from lhotse.array import Array, TemporalArray
from lhotse.supervision import AlignmentItem

from svtk.data import manifests
from svtk.data.manifests import (
    iter_cut_dicts,
    manifest_dict,
    save_manifest,
    write_cut_dicts_with,
)


def _lines(path) -> list[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def _lhotse_lines(items) -> list[str]:
    return [json.dumps(x.to_dict(), ensure_ascii=False) for x in items]


def _array(i: int = 0) -> TemporalArray:
    return TemporalArray(array=Array(storage_type="svtk_npy_chunky", storage_path="lat/x.npyc",
                                     storage_key=str(i), shape=[7, 5, 4]),
                         temporal_dim=0, frame_shift=0.06, start=0.0)


@pytest.fixture()
def varied(task_cuts) -> list:
    """Cuts shaped like every manifest svtk writes, and some it does not."""
    cuts = list(task_cuts)
    a = cuts[0]
    rec8k = a.recording.resample(8000)  # a recording with transforms
    sup = SupervisionSegment(id="ali", recording_id=a.recording.id, start=0.0, duration=0.5,
                             text="hi there", speaker=None, gender="female",
                             custom={"kw": ["hi"], "slots": [["a", "b"]], "x": None},
                             alignment={"word": [AlignmentItem("hi", 0.0, 0.2),
                                                 AlignmentItem("there", 0.2, 0.3, 0.9)]})
    out = [
        *cuts,
        MonoCut(id="lat", start=0.0, duration=a.duration, channel=0, recording=a.recording,
                supervisions=list(a.supervisions),
                custom={**a.custom, "latent": _array(3), "latent_tag": "t", "labels": None,
                        "other": a.recording}),
        MonoCut(id="rs", start=0.1, duration=0.4, channel=0, recording=rec8k, supervisions=[sup]),
        MonoCut(id="bare", start=0.0, duration=a.duration, channel=0, recording=a.recording),
        a.recording, rec8k, sup, *a.supervisions,
        cuts[0].pad(duration=a.duration + 1.0),  # a MixedCut: lhotse's to_dict
    ]
    return out


def test_fast_serialiser_equals_lhotse(varied):
    for item in varied:
        assert json.dumps(manifest_dict(item)) == json.dumps(item.to_dict()), type(item).__name__


def test_save_manifest_writes_lhotse_lines_reproducibly(tmp_path, task_cuts):
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    assert save_manifest(task_cuts, a) == a
    save_manifest(task_cuts, b)
    assert a.read_bytes() == b.read_bytes()  # no time stamp in the gzip header
    assert _lines(a) == _lhotse_lines(task_cuts)
    assert list(load_manifest(a)) == list(task_cuts)


def test_save_manifest_falls_back_when_the_fast_path_disagrees(tmp_path, task_cuts, monkeypatch,
                                                            caplog):
    monkeypatch.setattr(manifests, "manifest_dict", lambda item: {"wrong": True})
    with caplog.at_level(logging.WARNING):
        save_manifest(task_cuts, tmp_path / "c.jsonl.gz")
    assert "disagrees" in caplog.text
    assert _lines(tmp_path / "c.jsonl.gz") == _lhotse_lines(task_cuts)


def _lhotse_with(cuts, extra) -> list[str]:
    """What the latents / fbank writers did before: lhotse objects, custom updated, to_dict."""
    out = []
    for c in cuts:
        c = c.with_id(c.id)
        c.custom = {**(c.custom or {}), **extra(c)}
        out.append(c)
    return _lhotse_lines(out)


def test_cut_dicts_with_custom_fields_equal_lhotse(tmp_path, varied):
    cuts = [c for c in varied if isinstance(c, MonoCut)]
    src = tmp_path / "in.jsonl.gz"
    save_manifest(CutSet.from_cuts(cuts), src)
    rows = list(iter_cut_dicts(src))
    assert [r["id"] for r in rows] == [c.id for c in cuts]
    out = tmp_path / "out.jsonl.gz"
    arrays = {c.id: _array(i) for i, c in enumerate(cuts)}
    n = write_cut_dicts_with(rows, out, lambda row: {"latent": arrays[row["id"]], "latent_tag": "t"})
    assert n == len(cuts)
    expect = _lhotse_with(cuts, lambda c: {"latent": arrays[c.id], "latent_tag": "t"})
    assert _lines(out) == expect
    assert any(c.custom is None for c in cuts)  # the key-order case: custom added last
    back = load_manifest(out)
    np.testing.assert_equal(back[cuts[0].id].custom["latent"].shape, [7, 5, 4])
    assert list(iter_cut_dicts(src)) == rows  # the rows were not changed


def test_cut_dicts_fall_back_to_lhotse_when_they_disagree(tmp_path, task_cuts, monkeypatch,
                                                         caplog):
    src = tmp_path / "in.jsonl.gz"
    save_manifest(task_cuts, src)
    monkeypatch.setattr(manifests, "_plain", lambda v: "not what lhotse writes")
    with caplog.at_level(logging.WARNING):
        write_cut_dicts_with(list(iter_cut_dicts(src)), tmp_path / "out.jsonl.gz",
                             lambda row: {"latent": _array(0)})
    assert "writing through lhotse" in caplog.text
    assert _lines(tmp_path / "out.jsonl.gz") == _lhotse_with(list(task_cuts),
                                                            lambda c: {"latent": _array(0)})


def test_recordings_of_cut_dicts(tmp_path, task_cuts):
    src = tmp_path / "in.jsonl.gz"
    save_manifest(task_cuts, src)
    rows = list(iter_cut_dicts(src))
    recs = manifests.recordings_of(rows, needs="this test needs")
    assert list(recs) == list(dict.fromkeys(c.recording.id for c in task_cuts))
    assert all(recs[c.recording.id] == c.recording for c in task_cuts)
    assert list(iter_cut_dicts(src)) == rows  # lhotse's from_dict popped nothing from the rows
    rows[1].pop("recording")
    with pytest.raises(Exception, match=f"cut {rows[1]['id']} has no recording; this test needs audio"):
        manifests.recordings_of(rows, needs="this test needs")
