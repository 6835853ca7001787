"""``svtk score``: Score hypotheses with each task's standard metric.

Usage::

    svtk score exp/mini/decode/greedy/test_seen
"""

from __future__ import annotations

import typer


def score(
    ctx: typer.Context,
) -> None:
    """Score hypotheses with each task's standard metric.

    Example:  svtk score exp/mini/decode/greedy/test_seen
    """
    from svtk.cli.common import not_yet

    not_yet("score", "the scoring issue")


def register(root: typer.Typer) -> None:
    root.command(
        "score",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(score)
