"""``svtk decode``: Decode a split with greedy/beam search, label-constrained or joint.

Usage::

    svtk decode --exp-dir exp/mini --split test_seen
"""

from __future__ import annotations

import typer


def decode(
    ctx: typer.Context,
) -> None:
    """Decode a split with greedy/beam search, label-constrained or joint.

    Example:  svtk decode --exp-dir exp/mini --split test_seen
    """
    from svtk.cli.common import not_yet

    not_yet("decode", "the decoding issue")


def register(root: typer.Typer) -> None:
    root.command(
        "decode",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(decode)
