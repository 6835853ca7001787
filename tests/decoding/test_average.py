"""Checkpoint averaging: exact mean per dtype, integer tensors kept, mismatches refused."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from svtk.cli import run
from svtk.decoding.average import average_checkpoints, select_last
from svtk.errors import UserError


def _ckpts(tmp_path, n=3):
    paths = []
    for i in range(n):
        p = tmp_path / f"step-{(i + 1) * 100}.safetensors"
        save_file({"w": torch.full((2, 3), float(i)), "h": torch.full((4,), float(i)).half(),
                   "step": torch.tensor([7])}, str(p))
        paths.append(p)
    return paths


def test_average_is_the_mean(tmp_path):
    paths = _ckpts(tmp_path)
    out = average_checkpoints(paths, tmp_path / "avg.safetensors")
    sd = load_file(str(out))
    assert torch.equal(sd["w"], torch.full((2, 3), 1.0))
    assert sd["h"].dtype == torch.float16 and torch.equal(sd["h"], torch.ones(4).half())
    assert torch.equal(sd["step"], torch.tensor([7]))


def test_mismatches_are_refused(tmp_path):
    paths = _ckpts(tmp_path, 2)
    save_file({"w": torch.zeros(3, 3), "h": torch.zeros(4).half(), "step": torch.tensor([7])},
              str(tmp_path / "bad.safetensors"))
    with pytest.raises(UserError, match="shape"):
        average_checkpoints([paths[0], tmp_path / "bad.safetensors"], tmp_path / "o.safetensors")
    save_file({"w": torch.zeros(2, 3)}, str(tmp_path / "few.safetensors"))
    with pytest.raises(UserError, match="same tensors"):
        average_checkpoints([paths[0], tmp_path / "few.safetensors"], tmp_path / "o.safetensors")


def test_select_last_orders_by_number(tmp_path):
    for s in (900, 1000, 80, 200):
        save_file({"w": torch.zeros(1)}, str(tmp_path / f"step-{s}.safetensors"))
    assert [p.stem for p in select_last(tmp_path, 2)] == ["step-900", "step-1000"]
    with pytest.raises(UserError):
        select_last(tmp_path, 9)


def test_cli(tmp_path, capsys):
    _ckpts(tmp_path)
    out = tmp_path / "avg.safetensors"
    assert run(["average", "--out", str(out), "--last", "2", str(tmp_path)]) == 0
    assert torch.equal(load_file(str(out))["w"], torch.full((2, 3), 1.5))
    assert run(["average", "--out", str(out), str(tmp_path / "missing.safetensors")]) == 2
