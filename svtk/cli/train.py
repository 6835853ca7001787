"""``svtk train``: train curriculum phases of an experiment, each into ``EXP_DIR/PHASE``.

Reads the training config (model section, data, phases) and the task cuts it names; writes
checkpoints, curves (metrics.jsonl, TensorBoard) and the phase's final weights. ``--phase``
repeated trains the phases in that order in one process (a chain such as phase1 -> phase2a ->
phase2b pays the imports once; each phase is the same as when trained alone). Multi-GPU or
multi-process: launch the same command under ``torchrun`` (``python -m svtk`` as the program).

Usage::

    svtk train --config egs/mini/conf/train.yaml --phase phase1 --exp-dir exp/mini
    svtk train -c egs/mini/conf/train.yaml -p phase1 -p phase2a -p phase2b -e exp/mini
    torchrun --nproc-per-node 4 -m svtk train -c conf/train.yaml --phase phase2b --exp-dir exp/x
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ConfigOpt, ForceOpt, SetOpt


def train(
    config: ConfigOpt,
    phase: Annotated[list[str], typer.Option("--phase", "-p", help="Phase name (a key of phases:); repeat it to train several in turn.")],
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="Experiment dir; the phase "
                                          "writes into EXP_DIR/PHASE.")],
    overrides: SetOpt = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the phase's latest "
                                         "checkpoint (exactly where it stopped).")] = False,
    force: ForceOpt = False,
) -> None:
    """Train curriculum phases of an experiment (several --phase: one after the other).

    Example:  svtk train --config egs/mini/conf/train.yaml --phase phase1 --exp-dir exp/mini
    """
    from svtk.cli.common import load
    from svtk.training.config import TrainConfig
    from svtk.training.data import shared_manifests
    from svtk.training.loop import train_phase

    cfg = load(TrainConfig, config, overrides)
    for name in phase:  # an unknown name fails before anything trains
        cfg.phase(name)
    with shared_manifests():  # phases of the same cuts parse them once
        for name in phase:
            result = train_phase(cfg, name, exp_dir, resume=resume, force=force)
            if not result.already_done:
                best = f", best valid loss {result.best_valid:.4f} at step {result.best_step}" \
                    if result.best_valid is not None else ""
                typer.echo(f"{name}: {result.steps} steps{best}; weights in {result.weights}")


def register(root: typer.Typer) -> None:
    root.command("train")(train)
