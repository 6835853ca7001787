"""``svtk report``: Write RESULTS.md and plots for an experiment.

Collects every ``E/decode/<tag>/<split>/scores.json`` and every phase's ``metrics.jsonl`` and
writes ``E/RESULTS.md``, ``E/results.json`` and ``E/plots/*.png``; see
:mod:`svtk.scoring.report`.

Usage::

    svtk report --exp-dir exp/mini
    svtk report --exp-dir exp/mini --compare exp/mini_all_at_once
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report(
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="The experiment directory.",
                                          show_default=False)],
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="Another experiment whose loss curves are overlaid on this one's "
        "(e.g. all-at-once training against the curriculum).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Where to write RESULTS.md (default: EXP_DIR/RESULTS.md).",
        show_default=False)] = None,
    confusion_plots: Annotated[bool, typer.Option(
        help="Draw a confusion-matrix PNG per closed-set task and decode run.")] = True,
) -> None:
    """Write RESULTS.md and plots for an experiment.

    Example:  svtk report --exp-dir exp/mini
    """
    from svtk.scoring.report import write_report

    path = write_report(exp_dir, compare=compare, out=out, confusion_plots=confusion_plots)
    typer.echo(f"wrote {path}")


def register(root: typer.Typer) -> None:
    root.command("report")(report)
