"""svtk.training.config: the default curriculum, YAML with anchors, overrides, validation."""

from __future__ import annotations

import pytest

from svtk.config import ConfigError, load_config, save_config
from svtk.training.config import PhaseConfig, TrainConfig

YAML = """
model: {tasks: [asr, ic]}
data: {train_cuts: data/tasks/train.jsonl.gz, valid_cuts: null}
defaults: &defaults
  objective: toy
  lr: 1.0e-3
  max_steps: 100
phases:
  phase1:
    <<: *defaults
    trainable: [downsampler, layer_mix]
  phase2a:
    <<: *defaults
    trainable: [downsampler, layer_mix, lora]
    init_from: phase1
"""


def test_default_curriculum_is_the_papers():
    cfg = TrainConfig()
    assert list(cfg.phases) == ["phase1", "phase2a", "phase2b"]
    assert cfg.phases["phase1"].trainable == ["downsampler", "layer_mix"]
    assert cfg.phases["phase1"].tasks == {"asr": 1.0}
    assert set(cfg.phases["phase2a"].trainable) == {"downsampler", "layer_mix", "lora"}
    assert cfg.phases["phase2a"].init_from == "phase1"
    assert cfg.phases["phase2b"].init_from == "phase2a"
    assert cfg.phases["phase2b"].tasks == {"*": 1.0}


def test_yaml_anchor_overrides_and_roundtrip(tmp_path):
    # 'defaults' is not a TrainConfig key: anchors must live under a known key or be removed.
    text = YAML.replace("defaults: &defaults", "x-defaults: &defaults")
    path = tmp_path / "train.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="x-defaults"):
        load_config(TrainConfig, path)
    # The supported spelling: the anchor on the first phase, merged into the others.
    path.write_text("""
model: {tasks: [asr, ic]}
phases:
  phase1: &p
    objective: toy
    lr: 1.0e-3
    max_steps: 100
  phase2a:
    <<: *p
    trainable: [downsampler, layer_mix, lora]
    init_from: phase1
""")
    cfg = load_config(TrainConfig, path, overrides=["phases.phase2a.lr=5e-4"])
    assert list(cfg.phases) == ["phase1", "phase2a"]
    assert cfg.phases["phase1"].lr == 1e-3 and cfg.phases["phase2a"].lr == 5e-4
    assert cfg.phases["phase2a"].objective == "toy" and cfg.phases["phase2a"].max_steps == 100
    save_config(cfg, tmp_path / "resolved.yaml")
    assert load_config(TrainConfig, tmp_path / "resolved.yaml") == cfg


def test_bad_values_name_the_key(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("phases:\n  p1: {scheduler: sideways}\n")
    with pytest.raises(ConfigError, match="scheduler must be one of"):
        load_config(TrainConfig, path)
    path.write_text("phases:\n  p1: {init_from: nope}\n")
    with pytest.raises(ConfigError, match="no phase named 'nope'"):
        load_config(TrainConfig, path)
    path.write_text("phases:\n  p1: {lrr: 1}\n")
    with pytest.raises(ConfigError, match="unknown key 'phases.p1.lrr'"):
        load_config(TrainConfig, path)
    with pytest.raises(ValueError):
        PhaseConfig(max_steps=0, max_epochs=0)


def test_phase_view_ignores_other_phases():
    a = TrainConfig()
    b = TrainConfig()
    b.phases["phase2b"].lr = 1.0
    assert a.phase_view("phase1") == b.phase_view("phase1")
    assert a.phase_view("phase2b") != b.phase_view("phase2b")
