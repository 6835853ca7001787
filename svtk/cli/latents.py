"""``svtk latents``: Encoder-latent cache: run the frozen encoder once, store its latents.

Usage::

    svtk latents extract --help
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Encoder-latent cache: run the frozen encoder once, store its latents.\n\nExample:  svtk latents extract --help",
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "latents", "the model/latents issue")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="latents")
