"""``svtk train`` in-process: runs a phase from YAML + --set, skips when done, resumes."""

from __future__ import annotations

import yaml

from svtk.cli import run
from svtk.training.metrics import read_metrics


def _config(toy_cuts, tmp_path):
    cfg = {
        "model": {"tasks": ["asr", "ic"]},
        "data": {"train_cuts": str(toy_cuts["train"]), "valid_cuts": str(toy_cuts["dev"]),
                 "num_buckets": 3, "buffer_size": 500},
        "device": "cpu",
        "phases": {
            "phase1": {"objective": "toy", "max_steps": 4, "lr": 0.02, "warmup_steps": 1,
                       "max_duration": 4.0, "valid_every": 2, "log_every": 1,
                       "tasks": {"asr": 1.0}, "trainable": ["downsampler", "layer_mix"]},
            "phase2": {"objective": "toy", "max_steps": 4, "lr": 0.02, "warmup_steps": 1,
                       "max_duration": 4.0, "valid_every": 2, "init_from": "phase1",
                       "tasks": {"*": 1.0}, "trainable": ["lora"]},
        },
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cli_trains_skips_and_overrides(toy_cuts, tmp_path, capsys):
    conf = _config(toy_cuts, tmp_path)
    exp = tmp_path / "exp"
    args = ["train", "--config", str(conf), "--phase", "phase1", "--exp-dir", str(exp)]
    assert run(args) == 0
    assert "phase1: 4 steps" in capsys.readouterr().out
    assert run(args) == 0  # done: skipped
    assert run(args + ["--set", "phases.phase1.lr=0.01"]) == 2  # changed config refused
    assert "train.lr" in capsys.readouterr().err
    assert run(args + ["--set", "phases.phase1.lr=0.01", "--force"]) == 0
    assert run(["train", "--config", str(conf), "--phase", "phase2", "--exp-dir", str(exp),
                "--set", "phases.phase2.max_steps=3"]) == 0
    assert [m["step"] for m in read_metrics(exp / "phase2") if m["split"] == "valid"] == [2, 3]
    assert run(["train", "--config", str(conf), "--phase", "nope", "--exp-dir", str(exp)]) == 2
    assert "no phase 'nope'" in capsys.readouterr().err
    saved = yaml.safe_load((exp / "phase1" / "config.yaml").read_text())
    assert saved["phases"]["phase1"]["lr"] == 0.01
