"""The ``svtk`` command line: one typer app, one module per command or command group.

Each module in this package is thin: it parses options, loads the config and calls one library
function. Library imports happen inside the command functions so that ``svtk --help`` stays fast.

Usage::

    svtk --help
    svtk --log-level debug data synth --help
"""

from __future__ import annotations

import sys

import typer

from svtk import __version__
from svtk.cli import (
    average,
    batch,
    check,
    data,
    decode,
    export,
    infer,
    latents,
    model,
    report,
    score,
    train,
)

app = typer.Typer(
    name="svtk",
    help="SpeechVerse-style audio language models: data, latents, training, decoding, scoring.\n\n"
    "Example:  svtk data synth --help",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"svtk {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    log_level: str = typer.Option(
        "info", "--log-level", "-l", help="debug, info, warning or error.", case_sensitive=False
    ),
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", callback=_version, is_eager=True
    ),
) -> None:
    from svtk.logging import setup_logging

    try:
        setup_logging(log_level.lower())
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--log-level") from e


# Registration order is the order in --help.
for _module in (check, data, latents, model, train, average, export, decode, infer, score, report,
                batch):
    _module.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI on ``argv`` (default: this process's arguments); user errors become one red
    message and exit code 2.

    A command run in-process (``svtk batch`` workers, tests) sees ``sys.argv`` as
    ``svtk ARGV...`` while it runs, so the ``cmd.sh`` and ``run_info.json`` it writes name the
    command itself, not the process that ran it."""
    from svtk.errors import UserError

    saved = sys.argv
    if argv is not None:
        sys.argv = ["svtk", *argv]
    try:
        app(args=argv, prog_name="svtk", standalone_mode=True)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except UserError as e:
        from rich.console import Console

        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False, markup=True)
        return 2
    finally:
        sys.argv = saved
    return 0


def main() -> None:
    sys.exit(run())
