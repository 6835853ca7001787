"""Self-describing output directories: resolved config, exact command, versions, git revision.

Every command that creates an experiment (or data) directory calls :func:`write_run_info`;
later stages call :func:`read_run_config` instead of being told the configuration again.

Files written into ``out_dir``:

- ``config.yaml``  the resolved config (all ``base:`` files and ``--set`` overrides applied)
- ``cmd.sh``       an executable script that re-runs the exact command from the same directory,
                   with the same :data:`NUMERICS_ENV` settings where they were set: the thread
                   count and the CPU instruction set torch, MKL and oneDNN may use change the
                   order of float sums, so the last digits of a loss depend on them;
                   ``--resume`` style continuation is the command's own option
- ``run_info.json`` argv, working directory, start time, those settings, the CPU kernels torch
                   uses (``cpu_capability``, e.g. AVX2), python and package versions, and the
                   git revision of the svtk checkout (with a dirty flag)

Usage::

    write_run_info(exp_dir, cfg)
    cfg = read_run_config(exp_dir, ExperimentConfig)
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from svtk.config import load_config, save_config
from svtk.stage import atomic_write_json, atomic_write_text

T = TypeVar("T")

# Settings that change a result's last digits, replayed by cmd.sh: the thread count (the order
# of float sums) and the instruction set of torch's, MKL's and oneDNN's CPU kernels (AVX-512
# kernels round otherwise than AVX2 ones: egs/mini/path.sh pins them so that runs reproduce
# across machines of a CPU vendor)
NUMERICS_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY",
                "MKL_ENABLE_INSTRUCTIONS", "ONEDNN_MAX_CPU_ISA")

PACKAGES = (
    "svtk", "torch", "torchaudio", "transformers", "peft", "lhotse", "sentencepiece",
    "typer", "rich", "kaldialign", "sacrebleu", "safetensors", "numpy",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_capability() -> str | None:
    """The instruction set of torch's CPU kernels in this process ("AVX2", "AVX512", ...), or
    None where torch is not imported (it is not imported for this)."""
    torch = sys.modules.get("torch")
    return str(torch.backends.cpu.get_cpu_capability()) if torch is not None else None


def git_revision(path: str | Path | None = None) -> dict[str, Any] | None:
    """The commit of the git checkout holding ``path`` (default: svtk's own source), or None."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=where, capture_output=True, text=True, timeout=10)
        return {"commit": rev.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def command_line(argv: list[str] | None = None) -> str:
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name in ("svtk", "__main__.py"):
        argv[0] = "svtk"
    return shlex.join(argv)


def write_run_info(out_dir: str | Path, config: Any, argv: list[str] | None = None) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config is not None:
        save_config(config, out / "config.yaml")
    cmd = command_line(argv)
    numerics = {k: os.environ[k] for k in NUMERICS_ENV if os.environ.get(k)}
    env = "".join(f"{k}={shlex.quote(v)} " for k, v in numerics.items())
    atomic_write_text(out / "cmd.sh", "#!/usr/bin/env bash\n# Re-runs the command that made "
                      f"this directory.\ncd {shlex.quote(os.getcwd())}\n{env}{cmd} \"$@\"\n")
    (out / "cmd.sh").chmod(0o755)
    atomic_write_json(out / "run_info.json", {
        "command": cmd,
        "cwd": os.getcwd(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "numerics_env": numerics,
        "cpu_capability": cpu_capability(),
        "versions": package_versions(),
        "git": git_revision(),
    })


def read_run_config(out_dir: str | Path, cls: type[T]) -> T:
    """The resolved config a previous stage saved in ``out_dir``."""
    path = Path(out_dir) / "config.yaml"
    return load_config(cls, path)
