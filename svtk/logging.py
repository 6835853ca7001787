"""Logging for svtk: rich, timestamped, one setup call from the CLI; rich progress bars.

Library code only does ``log = logging.getLogger(__name__)``; :func:`setup_logging` is called
once by the CLI (``svtk --log-level debug ...``).

Usage::

    from svtk.logging import progress
    for cut in progress(cuts, description="extracting", total=len(cuts)):
        ...
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

LEVELS = ("debug", "info", "warning", "error")
LOG_EVERY_S = 30.0


def setup_logging(level: str = "info") -> None:
    """Route all ``svtk.*`` loggers to a rich handler on stderr with timestamps."""
    from rich.console import Console
    from rich.logging import RichHandler

    if level.lower() not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    handler = RichHandler(
        console=Console(stderr=True),
        show_time=True,
        omit_repeated_times=False,
        show_path=False,
        log_time_format="%Y-%m-%d %H:%M:%S",
        rich_tracebacks=False,
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter stays at warning unless debugging.
    for name in ("lhotse", "transformers", "urllib3", "matplotlib", "peft"):
        logging.getLogger(name).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    if level != "debug":
        import os
        import warnings

        # Read by transformers and huggingface_hub when they are imported (lazily, after this):
        # no per-model "Loading weights" bars, no advisory messages; an explicit setting wins.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"(transformers|peft)\.")


def progress(
    items: Iterable[T],
    description: str,
    total: int | float | None = None,
    unit: str = "it",
    disable: bool | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` with a rich progress bar on stderr (rate, elapsed, remaining).

    When stderr is not a terminal (CI, ``exp/*/log``) the bar becomes a log line every
    ``LOG_EVERY_S`` seconds and one at the end, so logs stay readable.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:  # noqa: ANN001 - rich's Task
            speed = task.finished_speed or task.speed
            return Text("?" if speed is None else f"{speed:.1f} {unit}/s", style="progress.data.speed")

    if total is None and hasattr(items, "__len__"):
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:  # lazy manifests raise on len()
            total = None
    if disable is None:
        disable = not sys.stderr.isatty()
    if disable:
        yield from _logged(items, description, total, unit)
        return
    columns = [
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


def _logged(items: Iterable[T], description: str, total: float | None, unit: str) -> Iterator[T]:
    import time

    log = logging.getLogger("svtk.progress")
    start = last = time.monotonic()
    done = 0
    of = f"/{total:g}" if total is not None else ""
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= LOG_EVERY_S:
            last = now
            log.info("%s: %d%s (%.1f %s/s)", description, done, of, done / (now - start), unit)
    elapsed = max(time.monotonic() - start, 1e-9)
    log.info("%s: %d%s done in %.1fs (%.1f %s/s)", description, done, of, elapsed, done / elapsed, unit)
