"""``svtk export``: the trainable parts of a model (LoRA adapter, downsampler, layer mix) in
safetensors with its config, for ``svtk infer`` or other tools.

Usage::

    svtk export --exp-dir exp/mini --out exp/mini/export
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export(
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="Experiment dir.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Export directory to write.")],
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint (default: the newest).")] = None,
    phase: Annotated[str | None, typer.Option(help="Curriculum phase to export (default: the "
                                                   "last finished speechlm phase).")] = None,
) -> None:
    """Export the trainable parts of a model with its config.

    Example:  svtk export --exp-dir exp/mini --out exp/mini/export
    """
    from svtk.decoding.export import export_experiment

    written = export_experiment(exp_dir, out, checkpoint, phase)
    typer.echo(f"exported to {written}")


def register(root: typer.Typer) -> None:
    root.command("export")(export)
