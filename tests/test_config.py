"""svtk.config: base: inheritance, --set overrides, validation errors that name key and file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from svtk.config import ConfigError, config_hash, load_config, save_config


@dataclass
class Optim:
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.98)
    schedule: Literal["linear", "cosine"] = "linear"


@dataclass
class Train:
    name: str
    steps: int = 100
    tasks: list[str] = field(default_factory=lambda: ["asr"])
    weights: dict[str, float] = field(default_factory=dict)
    optim: Optim = field(default_factory=Optim)
    init_from: Path | None = None
    bf16: bool = False


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_and_types(tmp_path):
    cfg = load_config(Train, write(tmp_path / "a.yaml", "name: x\noptim: {lr: 1e-4}\n"))
    assert cfg.name == "x" and cfg.steps == 100
    assert cfg.optim.lr == pytest.approx(1e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.9, 0.98)


def test_base_inheritance_merges_sections(tmp_path):
    write(tmp_path / "conf/base.yaml", "name: base\nsteps: 10\noptim: {lr: 0.1, schedule: cosine}\n"
          "weights: {asr: 1.0, ic: 0.5}\n")
    child = write(tmp_path / "conf/exp/child.yaml",
                  "base: ../base.yaml\nsteps: 20\noptim: {lr: 0.2}\nweights: {ic: 2}\ntasks: [ic]\n")
    cfg = load_config(Train, child)
    assert cfg.name == "base"                     # from the base
    assert cfg.steps == 20                        # child wins
    assert cfg.optim.lr == 0.2 and cfg.optim.schedule == "cosine"  # sections merge key by key
    assert cfg.weights == {"asr": 1.0, "ic": 2.0}
    assert cfg.tasks == ["ic"]                    # lists are replaced


def test_multiple_bases_later_wins(tmp_path):
    write(tmp_path / "a.yaml", "name: a\nsteps: 1\n")
    write(tmp_path / "b.yaml", "steps: 2\nbf16: true\n")
    cfg = load_config(Train, write(tmp_path / "c.yaml", "base: [a.yaml, b.yaml]\n"))
    assert (cfg.name, cfg.steps, cfg.bf16) == ("a", 2, True)


def test_overrides(tmp_path):
    path = write(tmp_path / "a.yaml", "name: a\n")
    cfg = load_config(Train, path, ["optim.lr=5e-4", "tasks=[asr, st]", "weights.st=3",
                                    "init_from=exp/p1/best.safetensors", "bf16=true"])
    assert cfg.optim.lr == 5e-4
    assert cfg.tasks == ["asr", "st"]
    assert cfg.weights == {"st": 3.0}
    assert cfg.init_from == Path("exp/p1/best.safetensors")
    assert cfg.bf16 is True


def test_unknown_key_names_key_and_file(tmp_path):
    write(tmp_path / "base.yaml", "name: a\noptim: {lrr: 1}\n")
    child = write(tmp_path / "child.yaml", "base: base.yaml\nsteps: 3\n")
    with pytest.raises(ConfigError) as e:
        load_config(Train, child)
    msg = str(e.value)
    assert "optim.lrr" in msg and "base.yaml" in msg and "child.yaml" not in msg
    assert "known: lr, betas, schedule" in msg


def test_wrong_type_names_key_and_file(tmp_path):
    path = write(tmp_path / "a.yaml", "name: a\nsteps: many\n")
    with pytest.raises(ConfigError, match=r"a\.yaml: 'steps' expects int, got 'many'"):
        load_config(Train, path)
    with pytest.raises(ConfigError, match=r"'optim.schedule' must be one of 'linear', 'cosine'"):
        load_config(Train, path, ["steps=1", "optim.schedule=step"])
    with pytest.raises(ConfigError, match=r"--set bf16=maybe: 'bf16' expects bool"):
        load_config(Train, path, ["steps=1", "bf16=maybe"])
    with pytest.raises(ConfigError, match=r"'tasks\[1\]' expects str"):
        load_config(Train, path, ["steps=1", "tasks=[asr, 3]"])


def test_missing_required_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'name'"):
        load_config(Train, write(tmp_path / "a.yaml", "steps: 1\n"))
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(Train, tmp_path / "nope.yaml")
    child = write(tmp_path / "b.yaml", "base: gone.yaml\n")
    with pytest.raises(ConfigError, match=r"gone.yaml \(named as base: in .*b.yaml\)"):
        load_config(Train, child)


def test_circular_base(tmp_path):
    write(tmp_path / "a.yaml", "base: b.yaml\n")
    write(tmp_path / "b.yaml", "base: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(Train, tmp_path / "a.yaml")


def test_bad_override_syntax(tmp_path):
    path = write(tmp_path / "a.yaml", "name: a\n")
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(Train, path, ["optim.lr"])
    with pytest.raises(ConfigError, match="'name' is not a section"):
        load_config(Train, path, ["name.x=1"])


def test_save_round_trip_and_hash(tmp_path):
    cfg = load_config(Train, write(tmp_path / "a.yaml", "name: a\ninit_from: x/y\n"), ["optim.lr=0.5"])
    save_config(cfg, tmp_path / "exp/config.yaml")
    again = load_config(Train, tmp_path / "exp/config.yaml")
    assert again == cfg
    assert config_hash(again) == config_hash(cfg)
    assert config_hash(load_config(Train, tmp_path / "exp/config.yaml", ["steps=7"])) != config_hash(cfg)
