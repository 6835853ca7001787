"""egs/mini end to end at CI size: every stage runs, RESULTS.md covers every task, scores are
finite and in range, and a second run skips the finished stages.

The recipe runs in a scratch copy of the repository layout (symlinks to bin/, conf/ and the
recipe's files), so nothing is written into the checkout. It takes a few minutes on 2 cores.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from svtk.system import TOOLS
from svtk.tasks import get_task

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs" / "mini"
CI_ARGS = ["--synth-config", "conf/ci/synth.yaml", "--train-config", "conf/ci/train.yaml"]
# every task the synthetic corpus labels honestly (ER needs real emotional speech)
MINI_TASKS = ("asr", "st", "ic", "sf", "kwe", "kws", "asc", "sc", "ac", "sns", "gender", "style")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(not __import__("shutil").which(t) for t in TOOLS),
                       reason="speech synthesis tools missing (bin/setup.sh installs them)"),
]


def _scratch_recipe(tmp: Path) -> Path:
    (tmp / "egs" / "mini").mkdir(parents=True)
    for name in ("bin", "conf"):
        (tmp / name).symlink_to(ROOT / name)
    for name in ("run.sh", "path.sh", "conf"):
        (tmp / "egs" / "mini" / name).symlink_to(RECIPE / name)
    return tmp / "egs" / "mini"


def _run(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # the venv's svtk
    env.pop("VIRTUAL_ENV", None)
    env["COLUMNS"] = "200"  # rich wraps log lines at the terminal width
    return subprocess.run(["bash", str(recipe / "run.sh"), *CI_ARGS, *args], cwd=recipe, env=env,
                          capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory):
    recipe = _scratch_recipe(tmp_path_factory.mktemp("mini"))
    first = _run(recipe)
    assert first.returncode == 0, first.stderr[-6000:]
    return recipe, first


def test_every_stage_ran(recipe_run):
    _, first = recipe_run
    for n in range(16):
        assert f"===== stage {n}:" in first.stderr, f"stage {n} did not run"


def test_results_cover_every_task_with_sane_scores(recipe_run):
    recipe, _ = recipe_run
    exp = recipe / "exp" / "mini"
    assert (exp / "RESULTS.md").is_file()
    results = json.loads((exp / "results.json").read_text())
    assert set(MINI_TASKS) <= set(results["tasks"])
    for task in MINI_TASKS:
        table = results["tasks"][task]
        assert table["metric"] == get_task(task).metric
        headline = next(i for i, h in enumerate(table["header"]) if h.startswith("**"))
        assert table["rows"], task
        for row in table["rows"]:
            value = row[headline]
            assert isinstance(value, (int, float)) and math.isfinite(value), (task, row)
            upper = math.inf if table["metric"] == "wer" else 100.0  # WER counts insertions
            assert 0.0 <= value <= upper, (task, row)
    systems = {row[2] for row in results["tasks"]["ic"]["rows"]}
    assert {"e2e", "gt->llm", "asr->llm"} <= systems
    # the paper's claims, each a paired comparison on IC: unseen prompts, the label constraint on
    # unseen intents, joint against plain decoding, the cascades
    claims = {f: {(r["task"], r["split"]) for r in rows} for f, rows in results["comparisons"].items()}
    assert ("ic", "test_seen") in claims["prompts"]
    assert ("ic", "test_heldout_ic") in claims["constrained"]
    assert ("ic", "test_seen") in claims["joint"]
    assert ("ic", "test_seen") in claims["system"]
    assert set(results["training"]) == {"mini", "mini_all_at_once"}
    for name in ("phase1", "phase2a", "phase2b"):
        assert (exp / name / "model.safetensors").is_file()
    assert list((exp / "plots").glob("*.png"))


def test_rerun_skips_finished_stages(recipe_run):
    recipe, _ = recipe_run
    again = _run(recipe, "--stage", "1", "--stop-stage", "9")
    assert again.returncode == 0, again.stderr[-4000:]
    # the side-by-side jobs of stages 3-6 write their messages into their logs
    logs = [f.read_text() for d in ("exp/log", "exp/pretrain/log") for f in (recipe / d).glob("*.log")]
    assert again.stderr.count("skipping") + sum(t.count("skipping") for t in logs) >= 8, \
        again.stderr[-4000:]


def test_training_dirs_say_how_to_run_them_again(recipe_run):
    """A phase trained under `svtk batch` records `svtk train ...` (cmd.sh re-runs it) and the
    settings that fix its last digits: one thread, and path.sh's pins on an x86 CPU (torch at
    AVX2; MKL at AVX-512 on an Intel CPU that has it, else at AVX2)."""
    recipe, _ = recipe_run
    info = json.loads((recipe / "exp" / "mini" / "phase1" / "run_info.json").read_text())
    assert info["command"].startswith("svtk train ") and "--phase phase1" in info["command"]
    assert info["numerics_env"]["OMP_NUM_THREADS"] == "1"
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.is_file() else []
    if os.environ.get("SVTK_CPU_ISA", "pinned") == "pinned" and "avx2" in flags:
        assert info["numerics_env"]["ATEN_CPU_CAPABILITY"] == "avx2"
        assert info["cpu_capability"] == "AVX2"
        mkl = "AVX512" if "GenuineIntel" in flags and "avx512f" in flags else "AVX2"
        assert info["numerics_env"]["MKL_ENABLE_INSTRUCTIONS"] == mkl
    assert "svtk train " in (recipe / "exp" / "mini" / "phase1" / "cmd.sh").read_text()
