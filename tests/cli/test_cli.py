"""The svtk CLI: groups listed, version, unimplemented commands fail honestly, import is cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

from svtk import __version__
from svtk.cli import run


def test_help_lists_groups(capsys):
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    for group in ("data", "latents", "train", "decode", "score", "report", "model", "infer"):
        assert group in out


def test_version(capsys):
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"svtk {__version__}"


def test_bad_log_level(capsys):
    assert run(["--log-level", "loud", "check", "--help"]) != 0


@pytest.mark.parametrize("cmd", ["train", "decode", "score", "report", "infer", "data", "latents",
                                 "model"])
def test_bare_command_never_pretends(cmd, capsys):
    """Without arguments every command fails: usage, help, or 'not implemented yet' (exit 2)."""
    assert run([cmd]) == 2


def test_import_is_light():
    code = ("import sys, time; t = time.perf_counter(); import svtk, svtk.config, svtk.stage; "
            "heavy = [m for m in ('torch', 'transformers', 'lhotse', 'peft') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_import_does_not_load_torch():
    code = "import sys, svtk.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
