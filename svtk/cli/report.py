"""``svtk report``: Write RESULTS.md and plots for an experiment.

Usage::

    svtk report --exp-dir exp/mini
"""

from __future__ import annotations

import typer


def report(
    ctx: typer.Context,
) -> None:
    """Write RESULTS.md and plots for an experiment.

    Example:  svtk report --exp-dir exp/mini
    """
    from svtk.cli.common import not_yet

    not_yet("report", "the scoring issue")


def register(root: typer.Typer) -> None:
    root.command(
        "report",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(report)
