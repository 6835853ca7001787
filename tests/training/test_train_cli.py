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


def test_cli_trains_a_chain_of_phases_like_one_call_each(toy_cuts, tmp_path, capsys):
    from safetensors.torch import load_file

    conf = _config(toy_cuts, tmp_path)
    chain = ["--phase", "phase1", "--phase", "phase2"]
    assert run(["train", "--config", str(conf), "--phase", "phase1", "--phase", "nope",
                "--exp-dir", str(tmp_path / "bad")]) == 2  # refused before phase1 trains
    assert "no phase 'nope'" in capsys.readouterr().err and not (tmp_path / "bad" / "phase1").exists()
    assert run(["train", "--config", str(conf), *chain, "--exp-dir", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "phase1: 4 steps" in out and "phase2: 4 steps" in out
    for phase in ("phase1", "phase2"):
        assert run(["train", "--config", str(conf), "--phase", phase,
                    "--exp-dir", str(tmp_path / "b")]) == 0
    for phase in ("phase1", "phase2"):
        a = load_file(str(tmp_path / "a" / phase / "model.safetensors"))
        b = load_file(str(tmp_path / "b" / phase / "model.safetensors"))
        assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a), phase
