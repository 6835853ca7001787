"""``svtk train``: Train one curriculum phase of an experiment.

Usage::

    svtk train --config egs/mini/conf/train.yaml --phase phase1 --exp-dir exp/mini
"""

from __future__ import annotations

import typer


def train(
    ctx: typer.Context,
) -> None:
    """Train one curriculum phase of an experiment.

    Example:  svtk train --config egs/mini/conf/train.yaml --phase phase1 --exp-dir exp/mini
    """
    from svtk.cli.common import not_yet

    not_yet("train", "the training issue")


def register(root: typer.Typer) -> None:
    root.command(
        "train",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(train)
