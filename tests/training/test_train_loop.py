"""svtk.training.loop: curriculum phases on the toy model (learning, trainable sets, chaining,
exact resume, NaN skipping, early stopping, stage markers)."""

from __future__ import annotations

import json

import pytest
import torch

import svtk.testing.training as toy
from svtk.errors import UserError
from svtk.stage import StageMismatch
from svtk.testing.training import ToyConfig, ToyModel, toy_train_config
from svtk.training.checkpoint import list_checkpoints, load_weights
from svtk.training.curriculum import apply_trainable, group_names, init_from_phase
from svtk.training.loop import TrainingDiverged, train_phase
from svtk.training.metrics import read_metrics


def _groups_params(groups):
    model = ToyModel(ToyConfig())
    names = group_names(model)
    return sorted(n for g in groups for n in names[g])


def test_loss_goes_down_and_outputs_are_complete(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=40)
    r = train_phase(cfg, "phase1", tmp_path)
    d = tmp_path / "phase1"
    m = read_metrics(d)
    train = [x["loss"] for x in m if x["split"] == "train"]
    valid = [x["loss"] for x in m if x["split"] == "valid"]
    assert train[-1] < 0.75 * train[0] and valid[-1] < valid[0]
    assert r.steps == 40 and r.best_valid == min(valid)
    assert {"loss/asr", "lr", "grad_norm", "elapsed", "items/s"} <= set(m[0])
    for f in ("config.yaml", "cmd.sh", "run_info.json", "model.safetensors", ".train.done",
              "model/model.safetensors", "checkpoints/best/model.safetensors"):
        assert (d / f).exists(), f
    assert len(list_checkpoints(d)) == 2  # keep_last
    assert any((d / "tensorboard").iterdir())


def test_trainable_sets_are_exactly_as_configured(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=4, valid_every=0)
    torch.manual_seed(cfg.seed)  # the seed the loop builds the base model with
    base = ToyModel(ToyConfig())
    for phase in ("phase1", "phase2a", "phase2b"):
        r = train_phase(cfg, phase, tmp_path)
        assert r.trainable == _groups_params(cfg.phases[phase].trainable)
        w = load_weights(tmp_path / phase / "model.safetensors")
        # the phase file holds what it trained or inherited, never the frozen base
        assert set(w) == set(r.trainable)
        for name, p in base.named_parameters():
            if name in w:
                assert not torch.equal(w[name], p.detach()), (phase, name)  # it did train
    model = ToyModel(ToyConfig())
    names = apply_trainable(model, ["lora"])
    assert names == ["lora_a", "lora_b"]
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"lora_a", "lora_b"}
    with pytest.raises(UserError, match="not in this model"):
        apply_trainable(model, ["adapter"])


def test_phase2_starts_from_phase1_weights(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=6, valid_every=0)
    train_phase(cfg, "phase1", tmp_path)
    p1 = load_weights(tmp_path / "phase1" / "model.safetensors")
    torch.manual_seed(cfg.seed)
    model = ToyModel(ToyConfig())
    loaded = init_from_phase(model, tmp_path / "phase1")
    assert loaded == sorted(p1)
    for k, v in p1.items():
        assert torch.equal(dict(model.named_parameters())[k].detach(), v)
    # With lr 0 phase 2a changes nothing: its result is phase 1's weights plus the initial LoRA.
    cfg.phases["phase2a"].lr = 0.0
    train_phase(cfg, "phase2a", tmp_path)
    p2 = load_weights(tmp_path / "phase2a" / "model.safetensors")
    for k, v in p1.items():
        assert torch.equal(p2[k], v), k
    assert torch.equal(p2["lora_b"], torch.zeros_like(p2["lora_b"]))


def test_phase2_refuses_before_phase1(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=2)
    with pytest.raises(UserError, match="phase 'phase1' has not finished"):
        train_phase(cfg, "phase2a", tmp_path)


def test_resume_after_crash_is_bitwise_identical(toy_cuts, tmp_path, monkeypatch):
    cfg = toy_train_config(toy_cuts, steps=14, valid_every=5, accum_grad=2)
    cfg.phases["phase1"].tasks = {"*": 1.0}
    train_phase(cfg, "phase1", tmp_path / "a")
    ref_w = load_weights(tmp_path / "a" / "phase1" / "model.safetensors")
    ref_m = read_metrics(tmp_path / "a" / "phase1")

    monkeypatch.setattr(toy, "CRASH_AFTER_CALLS", 2 * 12 + 1)  # dies during step 13
    with pytest.raises(toy.SimulatedCrash):
        train_phase(cfg, "phase1", tmp_path / "b")
    assert [s for s, _ in list_checkpoints(tmp_path / "b" / "phase1")] == [5, 10]
    with pytest.raises(UserError, match="pass --resume"):
        train_phase(cfg, "phase1", tmp_path / "b")
    monkeypatch.setattr(toy, "CRASH_AFTER_CALLS", None)
    r = train_phase(cfg, "phase1", tmp_path / "b", resume=True)
    assert r.steps == 14
    w = load_weights(tmp_path / "b" / "phase1" / "model.safetensors")
    assert set(w) == set(ref_w)
    for k in ref_w:
        assert torch.equal(w[k], ref_w[k]), k  # bitwise
    m = read_metrics(tmp_path / "b" / "phase1")
    assert [(x["step"], x["split"]) for x in m] == [(x["step"], x["split"]) for x in ref_m]
    assert [x["loss"] for x in m] == [x["loss"] for x in ref_m]


def test_nan_loss_is_skipped_and_counted(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=6, valid_every=0, log_every=1)
    cfg.model = {"tasks": ["asr", "ic"], "nan_calls": [3]}
    r = train_phase(cfg, "phase1", tmp_path)
    assert r.skipped == 1 and r.steps == 6
    m = [x for x in read_metrics(tmp_path / "phase1") if x["split"] == "train"]
    assert [x["step"] for x in m] == [1, 2, 3, 4, 5, 6] and m[-1]["skipped"] == 1
    assert all(isinstance(x["loss"], float) for x in m)  # the NaN never reached the weights
    w = load_weights(tmp_path / "phase1" / "model.safetensors")
    assert all(torch.isfinite(v).all() for v in w.values())


def test_nan_streak_aborts(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=6, valid_every=0, nan_tolerance=3)
    cfg.model = {"tasks": ["asr", "ic"], "nan_calls": [2, 3, 4]}
    with pytest.raises(TrainingDiverged, match="3 consecutive steps had a non-finite loss"):
        train_phase(cfg, "phase1", tmp_path)


def test_early_stopping(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=40, valid_every=2, patience=2, lr=0.0)
    r = train_phase(cfg, "phase1", tmp_path)
    assert r.stopped_early and r.steps == 6 and r.best_step == 2


def test_stage_skips_refuses_and_forces(toy_cuts, tmp_path, caplog):
    cfg = toy_train_config(toy_cuts, steps=3, valid_every=0)
    assert not train_phase(cfg, "phase1", tmp_path).already_done
    assert train_phase(cfg, "phase1", tmp_path).already_done
    cfg.phases["phase1"].lr = 1e-3
    with pytest.raises(StageMismatch, match="train.lr"):
        train_phase(cfg, "phase1", tmp_path)
    # an edit to another phase does not touch this one
    cfg.phases["phase1"].lr = 2e-2
    cfg.phases["phase2b"].lr = 1.0
    assert train_phase(cfg, "phase1", tmp_path).already_done
    cfg.phases["phase1"].lr = 1e-3
    r = train_phase(cfg, "phase1", tmp_path, force=True)
    assert not r.already_done and r.steps == 3
    info = json.loads((tmp_path / "phase1" / ".train.done").read_text())
    assert info["steps"] == 3
    # a phase trained before svtk had a setting (here: three of them) is done if they are at
    # their defaults, and redone only on request if one is not
    marker = tmp_path / "phase1" / ".train.done"
    old = json.loads(marker.read_text())
    for key in ("train.patience", "data.in_memory_max_cuts", "distributed.backend"):
        del old["config"][key]
    marker.write_text(json.dumps({**old, "config_hash": "older"}))
    assert train_phase(cfg, "phase1", tmp_path).already_done
    cfg.phases["phase1"].patience = 3
    with pytest.raises(StageMismatch, match="train.patience"):
        train_phase(cfg, "phase1", tmp_path)


def test_epoch_counted_phase(toy_cuts, tmp_path):
    cfg = toy_train_config(toy_cuts, steps=0, max_epochs=2, valid_every=0, max_duration=6.0)
    r = train_phase(cfg, "phase1", tmp_path)
    assert r.steps > 4  # 24 ASR cuts, about 6 per batch, 2 epochs


@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
@pytest.mark.parametrize("norm", ["tokens", "items"])
def test_loss_norm_weights_tokens_or_items(toy_cuts, norm):
    """One update's gradient is that of the token mean (``tokens``) or of the mean over items
    of each item's token mean (``items``), and the two differ on items of unequal length."""
    from svtk.training import distributed as D
    from svtk.training.loop import _Phase
    from svtk.training.objectives import batch_to

    cfg = toy_train_config(toy_cuts, steps=1, grad_clip=0.0, loss_norm=norm)
    cfg.model["dropout"] = 0.0
    cfg.phases["phase1"].tasks = {"*": 1.0}
    run = _Phase(cfg, "phase1", toy_cuts["train"].parent, D.setup(cfg.distributed, "cpu"))
    run.build()
    _, _, cuts, batch = next(iter(run.data.train_batches(run.model.collate)))
    out = run.model(batch_to(batch, torch.device("cpu")))
    n = out.num_tokens.float()
    assert n.min() < n.max()  # ASR transcripts and IC labels: items of unequal length
    losses = {"tokens": (out.loss_per_item * n).sum() / n.sum(), "items": out.loss_per_item.mean()}
    want = {}
    for key, loss in losses.items():
        grads = torch.autograd.grad(loss, run.params, allow_unused=True, retain_graph=True)
        want[key] = [torch.zeros_like(p) if g is None else g
                     for p, g in zip(run.params, grads, strict=True)]
    got = []
    run.optimizer.step = lambda: got.extend(p.grad.clone() for p in run.params)
    applied, *_ = run.train_step([(cuts, batch)], {})
    assert applied
    other = "items" if norm == "tokens" else "tokens"
    assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want[norm], strict=True))
    assert not all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got, want[other], strict=True))


def test_loss_norm_is_checked():
    from svtk.training.config import PhaseConfig

    with pytest.raises(ValueError, match="loss_norm"):
        PhaseConfig(loss_norm="utterances")
