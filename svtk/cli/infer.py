"""``svtk infer``: Answer one instruction about one audio file.

Usage::

    svtk infer a.wav --exp-dir exp/mini --task asr
"""

from __future__ import annotations

import typer


def infer(
    ctx: typer.Context,
) -> None:
    """Answer one instruction about one audio file.

    Example:  svtk infer a.wav --exp-dir exp/mini --task asr
    """
    from svtk.cli.common import not_yet

    not_yet("infer", "the decoding issue")


def register(root: typer.Typer) -> None:
    root.command(
        "infer",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(infer)
