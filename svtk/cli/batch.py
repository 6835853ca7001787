"""``svtk batch``: run a file of svtk command lines side by side, paying the imports once per worker.

bin/jobs.sh calls it for a queue of svtk commands (see :mod:`svtk.batch` for the file format).
Exit status 1 if any command failed (after all of them ran), with the end of each failed log.

Usage::

    svtk batch --jobs 2 --threads 1 cmds.txt
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def batch(
    commands: Annotated[Path, typer.Argument(help="One command per line: LOG svtk COMMAND [ARGS...], shell-quoted.")],
    jobs: Annotated[int, typer.Option("--jobs", "-j", help="Worker processes (commands at once).")] = 2,
    threads: Annotated[int, typer.Option(help="Torch threads per worker.")] = 1,
) -> None:
    """Run svtk command lines side by side in long-lived workers, each command's output in its log.

    Example:  svtk batch --jobs 2 --threads 1 cmds.txt
    """
    import sys
    import time

    from svtk.batch import read_commands, run_batch, tail
    from svtk.errors import UserError

    if jobs < 1 or threads < 1:
        raise UserError("--jobs and --threads must be at least 1")
    todo = read_commands(commands)
    results = run_batch(todo, jobs=jobs, threads=threads)
    failed = [r for r in results if r.rc != 0]
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for r in failed:
        print(f"{stamp} (svtk batch) FAILED (exit {r.rc}): {r.command.line()}\n"
              f"---- last lines of {r.command.log} ----\n{tail(r.command.log)}\n----",
              file=sys.stderr)
    if failed:
        print(f"{stamp} (svtk batch) {len(failed)} of {len(results)} jobs failed", file=sys.stderr)
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("batch")(batch)
