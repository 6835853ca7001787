"""Tiny synthetic corpora for tests: every split, every task, a few seconds to synthesise.

The corpus is built once per process and shared (a temporary directory removed at exit); tests
that modify files must copy it first. Other test suites (latents, training, decoding) reuse it.

Usage::

    from svtk.testing.data import tiny_corpus, tiny_tasks
    data_dir = tiny_corpus()            # manifests/mini_*_{train,dev,test_seen,test_unseen}
    tasks_dir = tiny_tasks()            # the same dir, with tasks/<split>.jsonl.gz built
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

TINY_SYNTH: dict[str, Any] = {
    "hours": 0.04,
    "splits": {"train": 0.55, "dev": 0.15, "test_seen": 0.15, "test_unseen": 0.15},
    "min_per_kind": 4,
    "min_utterances": 24,
    "chunk_size": 8,
}
TINY_TASKS: dict[str, Any] = {
    "holdout_labels": {"ic": ["volume_down"]},
}

_CACHE: dict[str, Path] = {}


def have_tts() -> bool:
    """Whether espeak-ng, flite, festival (with its voices) and sox are installed."""
    from svtk.data.synth import SynthConfig, voice_pools
    from svtk.data.voices import require_voices
    from svtk.errors import UserError

    seen, unseen = voice_pools(SynthConfig().voices)
    try:
        require_voices(seen + unseen)
    except UserError:
        return False
    return True


def tiny_synth_config(**overrides: Any):
    from svtk.config import from_dict
    from svtk.data.synth import SynthConfig

    return from_dict(SynthConfig, {**TINY_SYNTH, **overrides}, source="svtk.testing.data")


def tiny_tasks_config(**overrides: Any):
    from svtk.config import from_dict
    from svtk.tasks.build import TasksConfig

    return from_dict(TasksConfig, {**TINY_TASKS, **overrides}, source="svtk.testing.data")


def make_tiny_corpus(out_dir: str | Path, workers: int = 2, **overrides: Any) -> Path:
    """Synthesise a tiny corpus into ``out_dir`` (about 150 s of audio, a few seconds)."""
    from svtk.data.synth import synthesize

    synthesize(tiny_synth_config(**overrides), out_dir, workers=workers)
    return Path(out_dir)


def _shared_dir() -> Path:
    if "root" not in _CACHE:
        root = Path(tempfile.mkdtemp(prefix="svtk-tiny-"))
        atexit.register(shutil.rmtree, root, True)
        _CACHE["root"] = root
    return _CACHE["root"]


def tiny_corpus() -> Path:
    """The shared tiny corpus (built on first use in this process). Treat it as read-only."""
    if "corpus" not in _CACHE:
        _CACHE["corpus"] = make_tiny_corpus(_shared_dir() / "data")
    return _CACHE["corpus"]


def tiny_tasks() -> Path:
    """The shared tiny corpus with its task cuts built (``tasks/<split>.jsonl.gz``)."""
    from svtk.tasks.build import build_tasks

    data = tiny_corpus()
    if "tasks" not in _CACHE:
        build_tasks(tiny_tasks_config(), data)
        _CACHE["tasks"] = data
    return data
