"""Tiny saved models shared by the model tests (built once per session, loaded via from_pretrained)."""

import pytest


@pytest.fixture(scope="session")
def model_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def task_cuts(tmp_path_factory):
    from svtk.testing.models import tiny_task_cuts

    return tiny_task_cuts(tmp_path_factory.mktemp("audio"))
