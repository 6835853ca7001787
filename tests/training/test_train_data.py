"""svtk.training.data: task weights, bucketing, rank-aware batches, exact fast-forward."""

from __future__ import annotations

import os
import random
from collections import Counter

import pytest

from svtk.errors import UserError
from svtk.training import data as D
from svtk.training.config import DataConfig, PhaseConfig
from svtk.training.data import PhaseData, count_tasks, padding_fraction, resolve_weights


def _data(paths, world_size=1, rank=0, sync=False, in_memory=200_000, **phase):
    phase = {"max_steps": 10, "max_duration": 3.0, **phase}
    return PhaseData(DataConfig(train_cuts=paths["train"], valid_cuts=paths["dev"], num_buckets=3,
                                buffer_size=200, sync_buckets=sync, in_memory_max_cuts=in_memory),
                     PhaseConfig(**phase), world_size=world_size, rank=rank, seed=1)


def _ids(data, n, skip=0):
    out = []
    for _, _, cuts, _ in data.train_batches(lambda c: None, skip=skip):
        out.append([c.id for c in cuts])
        if len(out) == n:
            return out
    return out


def test_counts_and_weight_resolution(toy_cuts):
    counts = count_tasks(toy_cuts["train"])
    assert counts == Counter({"asr": 24, "ic": 24})
    assert resolve_weights({"*": 1.0, "ic": 3.0}, counts, "x") == {"asr": 1.0, "ic": 3.0}
    assert resolve_weights({"*": 1.0, "ic": 0.0}, counts, "x") == {"asr": 1.0}
    with pytest.raises(UserError, match="task 'st' has no cuts"):
        resolve_weights({"st": 1.0}, counts, "x")


def test_mux_follows_task_weights(toy_cuts):
    data = _data(toy_cuts, tasks={"asr": 3.0, "ic": 1.0})
    seen = Counter(cid.split("-")[1] for b in _ids(data, 200) for cid in b)  # train-<task>-<n>
    share = seen["asr"] / (seen["asr"] + seen["ic"])
    assert 0.68 < share < 0.82, seen  # 0.75 expected; the stream repeats each task endlessly
    only = _data(toy_cuts, tasks={"ic": 1.0})
    assert {c.split("-")[1] for b in _ids(only, 30) for c in b} == {"ic"}


@pytest.mark.parametrize("max_steps", [10, 0])  # endless (step-counted) and epoch mode
def test_in_memory_split_gives_the_lazy_stream(toy_cuts, max_steps):
    """Splitting a small manifest by task in memory changes nothing but the reading cost."""
    kw = dict(tasks={"asr": 2.0, "ic": 1.0}, max_steps=max_steps, max_epochs=2)
    split = _data(toy_cuts, **kw)
    lazy = _data(toy_cuts, in_memory=0, **kw)  # every task a lazy filter over the manifest
    ids = _ids(split, 40)
    assert len(ids) >= 10 and ids == _ids(lazy, 40)
    assert split._split is not None and lazy._split is None
    over = _data(toy_cuts, in_memory=47, **kw)  # 48 cuts: one too many to hold, streamed
    assert over._split is None and _ids(over, 40) == ids


def test_shared_manifests_parse_the_cuts_once_per_block(toy_cuts, monkeypatch, tmp_path):
    """Phases in one shared_manifests() block read an unchanged manifest once and get the same
    batches as phases that each read it; a changed file, or no block, is read again."""
    reads = []
    real = D._read_tasks
    monkeypatch.setattr(D, "_read_tasks", lambda path, keep: reads.append(path) or real(path, keep))
    kw = dict(tasks={"asr": 2.0, "ic": 1.0})
    alone = _ids(_data(toy_cuts, **kw), 12)
    assert len(reads) == 1
    with D.shared_manifests():
        first, second = _data(toy_cuts, **kw), _data(toy_cuts, tasks={"ic": 1.0})
        assert len(reads) == 2  # one more pass, for both phases
        assert _ids(first, 12) == alone
        assert {c.split("-")[1] for b in _ids(second, 10) for c in b} == {"ic"}
        assert first._split is not None
        # the same cut objects, in lists of their own (a phase cannot change another's)
        kept_a, kept_b = D.read_tasks(toy_cuts["train"], 200_000)[1], first._split
        assert kept_a["asr"][0] is next(iter(kept_b["asr"]))
        kept_a["asr"].clear()
        assert len(D.read_tasks(toy_cuts["train"], 200_000)[1]["asr"]) == 24
        with D.shared_manifests():  # nested: the same store
            _data(toy_cuts, **kw)
        assert len(reads) == 2
        copy = tmp_path / "train.jsonl.gz"  # a different file: read
        copy.write_bytes(toy_cuts["train"].read_bytes())
        assert D.read_tasks(copy, 200_000)[0] == Counter({"asr": 24, "ic": 24})
        assert len(reads) == 3
        os.utime(copy, ns=(1, 1))  # the same path, changed since: read again
        D.read_tasks(copy, 200_000)
        assert len(reads) == 4
    _data(toy_cuts, **kw)  # the block is closed: read
    assert len(reads) == 5


def test_batches_respect_max_duration_and_bucketing_pads_less(toy_cuts):
    data = _data(toy_cuts, tasks={"*": 1.0})
    durs = []
    for _, _, cuts, _ in data.train_batches(lambda c: None):
        # lhotse bounds the padded batch (n * longest) and may add one cut more
        assert sum(c.duration for c in cuts) <= 3.0 + max(c.duration for c in cuts)
        durs.append([c.duration for c in cuts])
        if len(durs) == 60:
            break
    rng = random.Random(0)
    flat = [d for b in durs for d in b]
    rng.shuffle(flat)
    random_batches, i = [], 0
    for b in durs:  # same batch sizes, random membership
        random_batches.append(flat[i:i + len(b)])
        i += len(b)
    assert padding_fraction(durs) < padding_fraction(random_batches)


def test_ranks_split_the_single_process_stream(toy_cuts):
    """Without bucket sync, rank r of W gets batches r, r+W, ... of the 1-process stream."""
    single = _ids(_data(toy_cuts, tasks={"*": 1.0}), 12)
    r0 = _ids(_data(toy_cuts, world_size=2, rank=0, tasks={"*": 1.0}), 6)
    r1 = _ids(_data(toy_cuts, world_size=2, rank=1, tasks={"*": 1.0}), 6)
    assert r0 == single[0::2] and r1 == single[1::2]


def test_fast_forward_is_exact(toy_cuts):
    data = _data(toy_cuts, tasks={"asr": 1.0, "ic": 2.0})
    full = _ids(data, 15)
    assert _ids(data, 5, skip=10) == full[10:15]


@pytest.mark.parametrize("sync", [True, False])
def test_epoch_mode_sees_every_cut_once(toy_cuts, sync):
    data = _data(toy_cuts, sync=sync, tasks={"*": 1.0}, max_steps=0, max_epochs=1)
    ids = [c.id for _, _, cuts, _ in data.train_batches(lambda c: None, max_epochs=1) for c in cuts]
    assert len(ids) == 48 and len(set(ids)) == 48


def test_valid_batches_filter_tasks(toy_cuts):
    data = _data(toy_cuts, tasks={"ic": 1.0})
    tasks = {c.custom["task"] for cuts, _ in data.valid_batches(lambda c: None) for c in cuts}
    assert tasks == {"ic"}


def test_padding_fraction():
    assert padding_fraction([[1.0, 1.0]]) == 0.0
    assert padding_fraction([[1.0, 3.0]]) == pytest.approx(1 / 3)
