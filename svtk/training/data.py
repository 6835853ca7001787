"""Batches for one phase: per-task lazy CutSets mixed by weight, bucketed by duration, rank-aware.

Reads the task cuts (``data/tasks/<split>.jsonl.gz``, lhotse cuts whose custom field ``task``
names the task). For training, each task of the phase becomes one lazy CutSet (its cuts, shuffled
with a buffer, repeated without end when the phase counts steps; a manifest of up to
``data.in_memory_max_cuts`` cuts is read once and split by task in memory, a bigger one is
filtered lazily once per task) and ``CutSet.mux`` interleaves
them with the phase's sampling weights; a :class:`lhotse.DynamicBucketingSampler` cuts the stream
into batches of at most ``max_duration`` seconds from similar-duration buckets, and hands every
rank its own batch (``world_size``/``rank``).

Resuming is exact: the position is (epoch, batches consumed by this rank in that epoch); the
stream is rebuilt from its seeds and fast-forwarded without loading audio. lhotse's own
``state_dict`` counts batches *produced*, which runs ahead of those consumed when DataLoader
workers prefetch, so the consumed count is kept here.

Usage::

    data = PhaseData(cfg.data, cfg.phase("phase2b"), world_size=1, rank=0, seed=0)
    for epoch, index, cuts in data.train_batches(start_epoch=0, skip=0): ...
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from svtk.errors import UserError
from svtk.training.config import ALL_TASKS, DataConfig, PhaseConfig

log = logging.getLogger(__name__)


def cut_task(cut: Any) -> str | None:
    return (cut.custom or {}).get("task")


def count_tasks(path: str | Path) -> Counter:
    """Cuts per task in a cuts manifest (one lazy pass, no audio is read)."""
    return read_tasks(path, keep_max=0)[0]


# The passes of read_tasks() kept while shared_manifests() is open: {(path, size, mtime_ns,
# keep_max): (counts, cuts by task)}. None: closed, every call reads the file.
_shared: dict[tuple, tuple[Counter, dict[str, list] | None]] | None = None


@contextlib.contextmanager
def shared_manifests() -> Iterator[None]:
    """Within this block, phases that read the same unchanged task cuts share one pass over them.

    ``svtk train --phase phase1 --phase phase2a --phase phase2b`` reads one train manifest three
    times: egs/mini's 40k latent cuts took ~10 s to parse each time (lhotse's ``Cut`` objects, ~5x
    the cost of the JSON alone), on the curriculum's critical path; sharing them took the three
    phases at 5 steps each from 57.9 to 34.9 s (2026-12-02). The cuts are read-only to training
    (shuffling, muxing and bucketing build new containers), so the phases get the same objects.
    """
    global _shared
    outer, _shared = _shared, {} if _shared is None else _shared
    try:
        yield
    finally:
        _shared = outer


def read_tasks(path: str | Path, keep_max: int) -> tuple[Counter, dict[str, list] | None]:
    """One lazy pass over a cuts manifest: cuts per task, and the cuts themselves grouped by
    task in manifest order while there are at most ``keep_max`` of them (else None).

    Inside :func:`shared_manifests`, a manifest read before (same path, size and mtime) is not
    read again."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"task cuts not found: {path} (run `svtk data tasks` first, or set data.train_cuts)")
    if _shared is None:
        return _read_tasks(path, keep_max)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, keep_max)
    if key not in _shared:
        _shared[key] = _read_tasks(path, keep_max)
    counts, kept = _shared[key]
    return Counter(counts), None if kept is None else {t: list(cs) for t, cs in kept.items()}


def _read_tasks(path: Path, keep_max: int) -> tuple[Counter, dict[str, list] | None]:
    from lhotse import load_manifest_lazy

    counts: Counter = Counter()
    kept: dict[str, list] | None = {} if keep_max > 0 else None
    for n, c in enumerate(load_manifest_lazy(path), start=1):
        task = cut_task(c)
        counts[task] += 1
        if kept is not None and n > keep_max:
            kept = None  # too big to hold: the caller streams it instead
        if kept is not None:
            kept.setdefault(task, []).append(c)
    return counts, kept


def resolve_weights(spec: dict[str, float], counts: Counter, where: str) -> dict[str, float]:
    """The phase's task weights made concrete: ``*`` expanded, tasks without cuts refused."""
    if not spec:
        return {}
    out: dict[str, float] = {}
    if ALL_TASKS in spec:
        out = {t: spec[ALL_TASKS] for t in sorted(t for t in counts if t is not None)}
    for t, w in spec.items():
        if t == ALL_TASKS:
            continue
        if counts.get(t, 0) == 0:
            present = ", ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=lambda x: str(x[0])))
            raise UserError(f"{where}: task {t!r} has no cuts (cuts per task: {present or 'none'}); "
                            f"remove it from the phase's tasks or regenerate the task cuts")
        out[t] = w
    out = {t: w for t, w in out.items() if w > 0}
    if not out:
        raise UserError(f"{where}: no task with a positive weight has cuts")
    return out


class _TaskIn:
    """Picklable cut filter (DataLoader workers may fork): the cut's task is one of ``tasks``."""

    def __init__(self, tasks: set[str]):
        self.tasks = tasks

    def __call__(self, cut: Any) -> bool:
        return cut_task(cut) in self.tasks


class _Collate:
    """Dataset for torch DataLoader: the sampler yields a CutSet, this turns it into a batch."""

    def __init__(self, collate: Callable[[Any], Any]):
        self.collate = collate

    def __getitem__(self, cuts: Any) -> tuple[Any, Any]:
        return cuts, self.collate(cuts)


def _lazy_views(parts: dict[str, list]) -> dict[str, Any]:
    """A lazy CutSet over each list, so shuffling streams through a buffer exactly as it does over
    the filtered manifest (an eager CutSet would be shuffled whole instead)."""
    from lhotse import CutSet
    from lhotse.lazy import LazyIteratorChain

    return {t: CutSet(LazyIteratorChain(cs)) for t, cs in parts.items()}


class PhaseData:
    """Train and validation batches of one phase on one rank."""

    def __init__(self, data: DataConfig, phase: PhaseConfig, *, world_size: int = 1, rank: int = 0,
                 seed: int = 0):
        self.data, self.phase = data, phase
        self.world_size, self.rank, self.seed = world_size, rank, seed
        self.infinite = phase.max_steps > 0
        # one pass: task counts, and the cuts by task when the manifest is small enough
        counts, kept = read_tasks(data.train_cuts, data.in_memory_max_cuts)
        self.weights = resolve_weights(phase.tasks, counts, f"{data.train_cuts}")
        self.tasks = sorted(self.weights) if self.weights else sorted(t for t in counts if t)
        self.train_counts = counts
        self._split = None if kept is None or not self.weights else _lazy_views(
            {t: kept[t] for t in self.weights})  # the phase's train cuts by task, in memory

    # -- streams ---------------------------------------------------------------------------

    def _lazy(self, path: Path) -> Any:
        from lhotse import load_manifest_lazy

        return load_manifest_lazy(path)

    def train_cuts(self, epoch: int) -> Any:
        """The mixed training stream of ``epoch`` (endless when the phase counts steps)."""
        from lhotse import CutSet

        cuts = self._lazy(self.data.train_cuts)
        if not self.weights:
            streams, weights = [cuts], None
        else:
            streams, weights = [], []
            for i, (task, w) in enumerate(sorted(self.weights.items())):
                s = self._split[task] if self._split is not None else cuts.filter(_TaskIn({task}))
                s = s.shuffle(random.Random(self.seed * 1000 + epoch * 100 + i),
                              buffer_size=self.data.buffer_size)
                streams.append(s.repeat() if self.infinite else s)
                weights.append(w)
        if len(streams) == 1:
            one = streams[0]
            return one.repeat() if self.infinite and not self.weights else one
        return CutSet.mux(*streams, weights=weights, seed=self.seed + epoch)

    def _sampler(self, cuts: Any, *, shuffle: bool, epoch: int, max_duration: float,
                 max_cuts: int | None, num_buckets: int, sync_buckets: bool = True) -> Any:
        from lhotse.dataset import DynamicBucketingSampler

        s = DynamicBucketingSampler(
            cuts, max_duration=max_duration, max_cuts=max_cuts, num_buckets=num_buckets,
            shuffle=shuffle, drop_last=False, buffer_size=self.data.buffer_size,
            num_cuts_for_bins_estimate=min(self.data.buffer_size, 2000),
            world_size=self.world_size, rank=self.rank, seed=self.seed,
            sync_buckets=sync_buckets,
        )
        s.set_epoch(epoch)
        return s

    def train_sampler(self, epoch: int) -> Any:
        return self._sampler(self.train_cuts(epoch), shuffle=True, epoch=epoch,
                             max_duration=self.phase.max_duration, max_cuts=self.phase.max_cuts,
                             num_buckets=self.data.num_buckets,
                             # lhotse 1.33 without bucket sync drops cuts left in partial buckets
                             # when a finite stream ends; endless streams never end.
                             sync_buckets=self.data.sync_buckets or not self.infinite)

    # -- iteration -------------------------------------------------------------------------

    def train_batches(self, collate: Callable[[Any], Any], *, start_epoch: int = 0,
                      skip: int = 0, max_epochs: int | None = None
                      ) -> Iterator[tuple[int, int, Any, Any]]:
        """Yield (epoch, index in epoch, cuts, batch), starting after ``skip`` consumed batches.

        Endless when the phase counts steps; otherwise ends after ``max_epochs`` epochs.
        """
        epoch = start_epoch
        while max_epochs is None or epoch < max_epochs:
            sampler = self.train_sampler(epoch)
            fast_forward(sampler, skip)
            index = skip
            for cuts, batch in self._loader(sampler, collate):
                yield epoch, index, cuts, batch
                index += 1
            if self.infinite:  # an endless stream ended: every task had no cuts left
                raise UserError(f"the training stream of {self.data.train_cuts} ended; is it empty?")
            epoch, skip = epoch + 1, 0

    def valid_batches(self, collate: Callable[[Any], Any]) -> Iterator[tuple[Any, Any]]:
        """The dev cuts of the phase's tasks, in a fixed order, at most ``valid_max_batches``."""
        if self.data.valid_cuts is None:
            return
        cuts = self._lazy(self.data.valid_cuts)
        if self.weights:
            cuts = cuts.filter(_TaskIn(set(self.weights)))
        sampler = self._sampler(cuts, shuffle=False, epoch=0, max_duration=self.phase.max_duration,
                                max_cuts=self.phase.max_cuts, num_buckets=self.data.num_buckets)
        for i, item in enumerate(self._loader(sampler, collate)):
            if self.phase.valid_max_batches is not None and i >= self.phase.valid_max_batches:
                break
            yield item

    def count_epoch_batches(self, epoch: int = 0) -> int:
        """Batches this rank gets in one epoch (for schedules of epoch-counted phases)."""
        return sum(1 for _ in self.train_sampler(epoch))

    def _loader(self, sampler: Any, collate: Callable[[Any], Any]) -> Iterator[tuple[Any, Any]]:
        if self.data.num_workers <= 0:
            for cuts in sampler:
                yield cuts, collate(cuts)
            return
        import torch

        loader = torch.utils.data.DataLoader(_Collate(collate), sampler=sampler, batch_size=None,
                                             num_workers=self.data.num_workers)
        yield from loader


def fast_forward(sampler: Any, n: int) -> None:
    """Advance a fresh lhotse sampler by ``n`` batches (manifests only, no audio is read).

    Uses lhotse's own restore flag so that the next ``iter(sampler)`` (ours or a DataLoader's)
    continues from here instead of starting the epoch again, as ``load_state_dict`` does.
    """
    if n <= 0:
        return
    it = iter(sampler)
    for i in range(n):
        try:
            next(it)
        except StopIteration:
            raise RuntimeError(f"cannot resume: the epoch has only {i} batches, the checkpoint "
                               f"says {n} were consumed (did the cuts change?)") from None
    sampler._just_restored_state = True


def padding_fraction(batches: list[list[float]]) -> float:
    """Share of padded frames when each batch is padded to its longest item (durations)."""
    total = sum(len(b) * max(b) for b in batches if b)
    used = sum(sum(b) for b in batches)
    return 1.0 - used / total if total else 0.0
