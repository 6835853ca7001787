"""Shared fixtures: one tiny tone corpus of task cuts per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def toy_cuts(tmp_path_factory):
    from svtk.testing.training import make_task_cuts

    return make_task_cuts(tmp_path_factory.mktemp("toy_data"), tasks=("asr", "ic"))
