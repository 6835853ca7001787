"""2-process gloo DDP (spawned as torchrun would) equals 1 process with the same global batch."""

from __future__ import annotations

import pytest
import torch
import torch.multiprocessing as mp

from svtk.testing.training import ddp_config, ddp_worker, free_port
from svtk.training.checkpoint import load_weights
from svtk.training.loop import train_phase
from svtk.training.metrics import read_metrics


def _run_two_ranks(toy_cuts, out, **overrides):
    mp.spawn(ddp_worker, args=(2, free_port(), toy_cuts, out, overrides), nprocs=2, join=True)


@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_ranks_match_one_process(toy_cuts, tmp_path, strategy):
    single = train_phase(ddp_config(toy_cuts, accum_grad=2), "phase1", tmp_path / "one")
    _run_two_ranks(toy_cuts, tmp_path / "two", strategy=strategy)
    w1 = load_weights(tmp_path / "one" / "phase1" / "model.safetensors")
    w2 = load_weights(tmp_path / "two" / "phase1" / "model.safetensors")
    assert set(w1) == set(w2) == set(single.trainable)
    base = load_weights(tmp_path / "one" / "phase1" / "checkpoints" / "step-00000006" /
                        "model.safetensors")
    for k in w1:
        assert torch.allclose(w1[k], w2[k], atol=1e-5, rtol=1e-4), k
        assert torch.equal(w1[k], base[k])
    m1 = [x["loss"] for x in read_metrics(tmp_path / "one" / "phase1") if x["split"] == "train"]
    m2 = [x["loss"] for x in read_metrics(tmp_path / "two" / "phase1") if x["split"] == "train"]
    assert m1 == pytest.approx(m2, rel=1e-5)
    # only rank 0 wrote: one metrics file, one set of checkpoints, no stray temp files
    assert not list((tmp_path / "two" / "phase1").glob(".*tmp*"))
