"""Fixtures shared across the test suite.

- One torch intra-op thread per test: the models here are tiny, and a second thread only adds
  contention (up to 100x slower on a loaded 2-core machine). Restored after each test.
- ``model_root`` / ``task_cuts``: tiny saved models and task cuts, built once per session.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def model_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def task_cuts(tmp_path_factory):
    from svtk.testing.models import tiny_task_cuts

    return tiny_task_cuts(tmp_path_factory.mktemp("audio"))
