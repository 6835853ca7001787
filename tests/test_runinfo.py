"""svtk.runinfo: an output directory describes itself and later stages read the config back."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field

from svtk.runinfo import read_run_config, write_run_info


@dataclass
class Inner:
    r: int = 16


@dataclass
class Exp:
    name: str = "x"
    lora: Inner = field(default_factory=Inner)


def test_write_and_read_back(tmp_path):
    cfg = Exp(name="mini", lora=Inner(r=8))
    write_run_info(tmp_path / "exp", cfg, argv=["svtk", "train", "--set", "lora.r=8"])
    assert read_run_config(tmp_path / "exp", Exp) == cfg
    info = json.loads((tmp_path / "exp/run_info.json").read_text())
    assert info["command"] == "svtk train --set lora.r=8"
    assert info["versions"]["svtk"] and info["versions"]["torch"]
    cmd = tmp_path / "exp/cmd.sh"
    assert os.access(cmd, os.X_OK)
    assert "svtk train --set lora.r=8" in cmd.read_text()
    assert subprocess.run(["bash", "-n", str(cmd)]).returncode == 0


def test_thread_setting_is_recorded_and_replayed(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    write_run_info(tmp_path / "exp", Exp(), argv=["svtk", "train"])
    assert json.loads((tmp_path / "exp/run_info.json").read_text())["numerics_env"] == {
        "OMP_NUM_THREADS": "1"}
    assert "\nOMP_NUM_THREADS=1 svtk train " in (tmp_path / "exp/cmd.sh").read_text()
    monkeypatch.delenv("OMP_NUM_THREADS")
    write_run_info(tmp_path / "exp2", Exp(), argv=["svtk", "train"])
    assert json.loads((tmp_path / "exp2/run_info.json").read_text())["numerics_env"] == {}
    assert "OMP_NUM_THREADS" not in (tmp_path / "exp2/cmd.sh").read_text()


def test_instruction_set_pins_are_recorded_and_replayed(tmp_path, monkeypatch):
    import torch

    for k, v in {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2",
                 "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    write_run_info(tmp_path / "exp", Exp(), argv=["svtk", "train"])
    info = json.loads((tmp_path / "exp/run_info.json").read_text())
    assert info["numerics_env"] == {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": "avx2",
                                    "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert ("\nOMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 "
            "ONEDNN_MAX_CPU_ISA=AVX2 svtk train ") in (tmp_path / "exp/cmd.sh").read_text()
