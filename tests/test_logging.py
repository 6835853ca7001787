"""svtk.logging: progress() yields every item; without a terminal it logs a summary line."""

from __future__ import annotations

import logging

import pytest

from svtk.logging import progress, setup_logging


def test_progress_passes_items_through_and_logs(caplog):
    with caplog.at_level(logging.INFO, logger="svtk.progress"):
        out = list(progress(iter(range(5)), "counting", total=5, unit="cut", disable=True))
    assert out == [0, 1, 2, 3, 4]
    assert "counting: 5/5 done" in caplog.text and "cut/s" in caplog.text


def test_progress_with_bar_yields_everything():
    assert list(progress([1, 2, 3], "bar", disable=False)) == [1, 2, 3]


def test_setup_logging_rejects_unknown_level():
    with pytest.raises(ValueError, match="debug, info, warning, error"):
        setup_logging("loud")
