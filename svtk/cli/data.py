"""``svtk data``: Corpus preparation, synthetic corpus, lhotse manifests and task cuts.

Usage::

    svtk data synth --help
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Corpus preparation, synthetic corpus, lhotse manifests and task cuts.\n\nExample:  svtk data synth --help",
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "data", "the data issue")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
