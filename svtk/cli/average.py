"""``svtk average``: average checkpoints (safetensors) into one.

Usage::

    svtk average --out exp/mini/phase2/avg5.safetensors --last 5 exp/mini/phase2
    svtk average --out avg.safetensors a.safetensors b.safetensors c.safetensors
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def average(
    inputs: Annotated[list[Path], typer.Argument(help="Checkpoint files, or one directory with --last.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Averaged checkpoint to write.")],
    last: Annotated[int | None, typer.Option(help="Average the N highest-numbered checkpoints of the directory.")] = None,
) -> None:
    """Average checkpoints (safetensors) into one.

    Example:  svtk average --out exp/mini/phase2/avg5.safetensors --last 5 exp/mini/phase2
    """
    from svtk.decoding.average import average_checkpoints, select_last
    from svtk.errors import UserError

    if last is not None:
        if len(inputs) != 1 or not inputs[0].is_dir():
            raise UserError("--last N takes exactly one directory")
        inputs = select_last(inputs[0], last)
    written = average_checkpoints(inputs, out)
    typer.echo(f"averaged {len(inputs)} checkpoints into {written}")


def register(root: typer.Typer) -> None:
    root.command("average")(average)
