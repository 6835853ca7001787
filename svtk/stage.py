"""Stage discipline: atomic writes and done-markers that make every producing command idempotent.

A producing command writes each output to a temporary path beside it and renames it into place
only when complete, so an interrupted run never leaves a half-written file at the final path.
When the command finishes it writes a marker ``<out_dir>/.<name>.done`` (JSON) holding a hash of
its resolved config, the flattened config itself, fingerprints of its inputs and the list of its
outputs. Running the command again then

- skips, saying so, when config and inputs are unchanged and the outputs still exist;
- refuses with :class:`StageMismatch`, naming each changed config value and input, unless
  ``force`` is given, in which case the stage runs again and replaces its outputs.

Usage::

    stage = Stage("synth", out_dir, config=cfg, inputs=[lexicon], force=force)
    if stage.is_done():
        return
    with atomic_path(out_dir / "recordings.jsonl.gz") as tmp:
        write(tmp)
    stage.mark_done(outputs=[out_dir / "recordings.jsonl.gz"])
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svtk.config import config_hash, flatten, to_dict
from svtk.errors import UserError

log = logging.getLogger(__name__)

MARKER_VERSION = 1
# Files up to this size are fingerprinted by content; larger ones by size, mtime and their ends.
CONTENT_HASH_LIMIT = 64 << 20
_EDGE = 1 << 20


class StageMismatch(UserError, RuntimeError):
    """A finished stage was asked to run again with a different config or different inputs."""


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write (a file, or a directory you create);
    rename it to ``path`` on success, delete it if the block raises.

    An existing directory at ``path`` is replaced as a whole.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_sibling(final)
    # Keep the real suffix last: lhotse and soundfile choose a format from it.
    tmp = tmp.with_name(tmp.name + "".join(final.suffixes))
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic_path: nothing was written to {tmp} for {final}")
        if tmp.is_dir() and final.exists():
            old = _tmp_sibling(final)
            os.replace(final, old)
            os.replace(tmp, final)
            _remove(old)
        else:
            os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------------------------
# Fingerprints
# --------------------------------------------------------------------------------------------


def _hash_file(path: Path, size: int) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as f:
        if size <= CONTENT_HASH_LIMIT:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        else:
            h.update(f.read(_EDGE))
            f.seek(size - _EDGE)
            h.update(f.read(_EDGE))
            h.update(str(path.stat().st_mtime_ns).encode())
    return h.hexdigest()


def _files_under(p: Path) -> list[Path]:
    return sorted(q for q in p.rglob("*") if q.is_file())


def fingerprint(path: str | Path) -> dict[str, Any]:
    """What identifies an input: the content of a file, or the relative path and content of every
    file under a directory; a file over ``CONTENT_HASH_LIMIT`` by its size, ends and mtime.

    By content, not mtime, so that an input made again with the same bytes (a model retrained
    from the same data and seed, a fresh checkout's prompt files) is not a change. The directory
    inputs here are small (a model, prompt banks, SLURP's text): egs/mini's 8 MB encoder
    directory takes ~15 ms.
    """
    p = Path(path)
    if p.is_file():
        size = p.stat().st_size
        return {"kind": "file", "size": size, "hash": _hash_file(p, size)}
    if p.is_dir():
        h = hashlib.blake2b(digest_size=16)
        n = 0
        for f in _files_under(p):
            size = f.stat().st_size
            h.update(f"{f.relative_to(p)}\0{size}\0{_hash_file(f, size)}\n".encode())
            n += 1
        return {"kind": "dir", "by": "content", "files": n, "hash": h.hexdigest()}
    return {"kind": "missing"}


def _listing_hash(p: Path) -> str:
    """How markers written before 2026-12-02 fingerprinted a directory: the relative path, size
    and mtime of every file."""
    h = hashlib.blake2b(digest_size=16)
    for f in _files_under(p):
        st = f.stat()
        h.update(f"{f.relative_to(p)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _unchanged(path: str, old: dict, new: dict) -> bool:
    """``new`` is the fingerprint ``old`` recorded; an older marker's directory listing counts
    when the listing is still the same (so that stages finished before still skip)."""
    if old == new:
        return True
    if not (old.get("kind") == "dir" == new.get("kind")) or "by" in old:
        return False
    return old.get("hash") == _listing_hash(Path(path))


def _describe_change(old: dict, new: dict) -> str:
    if new.get("kind") == "missing":
        return "is missing now"
    if old.get("kind") != new.get("kind"):
        return f"was a {old.get('kind')}, is a {new.get('kind')} now"
    if old.get("kind") == "file" and old.get("size") != new.get("size"):
        return f"changed (size {old.get('size')} -> {new.get('size')} bytes)"
    if old.get("kind") == "dir" and old.get("files") != new.get("files"):
        return f"changed ({old.get('files')} -> {new.get('files')} files)"
    return "changed (content differs)"


# --------------------------------------------------------------------------------------------
# Markers
# --------------------------------------------------------------------------------------------


def dataclass_defaults(config: Any) -> dict[str, Any]:
    """The flattened defaults of ``config``'s dataclass (``{}`` for anything else, or when the
    class needs arguments)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        return {}
    try:
        return flatten(to_dict(type(config)()))
    except TypeError:
        return {}


@dataclass
class Stage:
    """One producing step, identified by ``name`` inside ``out_dir``.

    ``config`` is anything :func:`svtk.config.to_dict` understands (a dataclass or a mapping);
    ``inputs`` are files or directories whose content the outputs depend on.
    """

    name: str
    out_dir: Path
    config: Any = None
    inputs: Sequence[str | Path] = ()
    force: bool = False
    # config values (flattened keys) that a marker without the key is taken to have run with:
    # a setting added to svtk after the stage ran, left at its default, is not a change. None:
    # the defaults of the config's dataclass, if it has one that builds without arguments
    defaults: dict[str, Any] | None = None
    _fingerprints: dict[str, dict] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.out_dir = Path(self.out_dir)
        if self.defaults is None:
            self.defaults = dataclass_defaults(self.config)

    @property
    def marker(self) -> Path:
        return self.out_dir / f".{self.name}.done"

    def _current(self) -> dict[str, dict]:
        if self._fingerprints is None:
            self._fingerprints = {str(Path(p)): fingerprint(p) for p in self.inputs}
        return self._fingerprints

    def changes(self) -> list[str]:
        """What differs from the finished run's marker (empty when nothing does)."""
        old = json.loads(self.marker.read_text())
        diffs = []
        if old.get("config_hash") != config_hash(self.config):
            before, after = old.get("config", {}), flatten(to_dict(self.config))
            added = []
            for key in sorted(set(before) | set(after)):
                if key not in before and key in self.defaults and after[key] == self.defaults[key]:
                    added.append(key)  # new since the stage ran, at its default: the same run
                elif before.get(key, "<unset>") != after.get(key, "<unset>"):
                    diffs.append(
                        f"config {key}: {before.get(key, '<unset>')!r} -> {after.get(key, '<unset>')!r}"
                    )
            if not diffs and not added:
                diffs.append("config changed")
            elif not diffs:
                log.info("%s: settings newer than the finished run, at their defaults: %s",
                         self.name, ", ".join(added))
        old_inputs = old.get("inputs", {})
        now = self._current()
        for p in sorted(set(old_inputs) | set(now)):
            if p not in old_inputs:
                diffs.append(f"input {p}: new input")
            elif p not in now:
                diffs.append(f"input {p}: no longer an input")
            elif not _unchanged(p, old_inputs[p], now[p]):
                diffs.append(f"input {p}: {_describe_change(old_inputs[p], now[p])}")
        return diffs

    def missing_outputs(self) -> list[str]:
        old = json.loads(self.marker.read_text())
        return [p for p in old.get("outputs", []) if not Path(p).exists()]

    def is_done(self) -> bool:
        """True: finished with this config and these inputs, skip (logged). False: run it.

        Raises :class:`StageMismatch` when finished with something else and ``force`` is off.
        """
        if not self.marker.exists():
            return False
        if self.force:
            log.info("%s: --force given, redoing the stage in %s", self.name, self.out_dir)
            self.marker.unlink()
            return False
        diffs = self.changes()
        if diffs:
            listing = "\n  ".join(diffs)
            raise StageMismatch(
                f"stage '{self.name}' in {self.out_dir} was finished with other settings:\n"
                f"  {listing}\n"
                f"Re-run with --force to redo it (its outputs will be replaced), "
                f"or use another output directory."
            )
        missing = self.missing_outputs()
        if missing:
            log.warning("%s: outputs missing (%s); running the stage again", self.name,
                        ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else ""))
            self.marker.unlink()
            return False
        log.info("%s: already done in %s (same config and inputs); skipping", self.name, self.out_dir)
        return True

    def mark_done(self, outputs: Sequence[str | Path] = (), **extra: Any) -> None:
        """Write the marker atomically; ``extra`` is stored alongside (e.g. counts)."""
        atomic_write_json(self.marker, {
            "version": MARKER_VERSION,
            "stage": self.name,
            "config_hash": config_hash(self.config),
            "config": flatten(to_dict(self.config)),
            "inputs": self._current(),
            "outputs": [str(Path(p)) for p in outputs],
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **extra,
        })
