"""bin/parse_options.sh: recipe variables become options; unknown options fail."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RECIPE = """\
set -euo pipefail
stage=0
stop_stage=100
corpus_dir=
use_gpu=false
help_message="Usage: recipe.sh [options]"
. {root}/bin/parse_options.sh
echo "stage=$stage stop_stage=$stop_stage corpus_dir=$corpus_dir use_gpu=$use_gpu args=$*"
"""


def run(tmp_path, *args):
    script = tmp_path / "recipe.sh"
    script.write_text(RECIPE.format(root=ROOT))
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_defaults(tmp_path):
    r = run(tmp_path)
    assert r.returncode == 0
    assert r.stdout.strip() == "stage=0 stop_stage=100 corpus_dir= use_gpu=false args="


@pytest.mark.parametrize("args", [
    ("--stage", "3", "--stop-stage", "5", "--corpus-dir", "/data/x y"),
    ("--stage=3", "--stop-stage=5", "--corpus-dir=/data/x y"),
])
def test_known_options_set_variables(tmp_path, args):
    r = run(tmp_path, *args, "pos1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stage=3 stop_stage=5 corpus_dir=/data/x y use_gpu=false args=pos1"


def test_booleans(tmp_path):
    assert "use_gpu=true" in run(tmp_path, "--use-gpu").stdout
    assert "use_gpu=false" in run(tmp_path, "--use-gpu", "true", "--no-use-gpu").stdout
    assert "use_gpu=false" in run(tmp_path, "--use-gpu", "false").stdout


def test_unknown_option_fails_with_usage(tmp_path):
    r = run(tmp_path, "--stag", "3")
    assert r.returncode != 0
    assert "unknown option --stag" in r.stderr
    assert "Usage: recipe.sh" in r.stderr and "--stop-stage" in r.stderr
    assert r.stdout == ""


def test_environment_variables_are_not_options(tmp_path):
    r = run(tmp_path, "--path", "/x")
    assert r.returncode != 0 and "unknown option --path" in r.stderr


def test_missing_value_fails(tmp_path):
    r = run(tmp_path, "--stage")
    assert r.returncode != 0 and "needs a value" in r.stderr


def test_help_exits_zero(tmp_path):
    r = run(tmp_path, "--help")
    assert r.returncode == 0 and "--corpus-dir" in r.stderr
