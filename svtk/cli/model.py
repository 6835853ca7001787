"""``svtk model``: Model tools: summaries of presets, tokenizers.

Usage::

    svtk model summary --config conf/model/speechverse_paper.yaml
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Model tools: summaries of presets, tokenizers.\n\nExample:  svtk model summary --config conf/model/speechverse_paper.yaml",
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "model", "the model issue")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="model")
