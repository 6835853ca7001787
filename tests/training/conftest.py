"""Shared fixtures: one tiny tone corpus of task cuts per test session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def toy_cuts(tmp_path_factory):
    from svtk.testing.training import make_task_cuts

    return make_task_cuts(tmp_path_factory.mktemp("toy_data"), tasks=("asr", "ic"))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models: a second intra-op thread only adds contention (100x slower on a loaded
    2-core machine); restored after each test."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
