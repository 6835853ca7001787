"""``svtk check``: versions, torch device and the external programs the recipes need.

Usage::

    svtk check            # exit 1 when something the recipes need is missing
"""

from __future__ import annotations

import typer


def check() -> None:
    """Report package versions, the torch device and the speech/audio programs; fail if any is missing.

    Example:  svtk check
    """
    from rich.console import Console
    from rich.table import Table

    from svtk.system import environment_report

    rows = environment_report()
    table = Table(title="svtk environment")
    for col in ("component", "detail", "ok"):
        table.add_column(col)
    for name, detail, ok in rows:
        table.add_row(name, detail, "[green]yes[/]" if ok else "[red]no[/]")
    Console().print(table)
    missing = [name for name, _, ok in rows if not ok]
    if missing:
        Console(stderr=True).print(f"[red]missing:[/] {', '.join(missing)}")
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.command("check")(check)
