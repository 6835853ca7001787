"""Manifest naming and loading: ``<dir>/manifests/<corpus>_{recordings,supervisions}_<split>.jsonl.gz``.

The fixed names of DESIGN.md section 3; every producer and consumer goes through here.

Usage::

    recs, sups = load_manifests("data", "mini", "train")
    splits = find_splits("data", "mini")      # ['dev', 'test_seen', 'test_unseen', 'train']
"""

from __future__ import annotations

import re
from pathlib import Path

from svtk.errors import UserError

KINDS = ("recordings", "supervisions")


def manifest_dir(data_dir: str | Path) -> Path:
    return Path(data_dir) / "manifests"


def manifest_path(data_dir: str | Path, corpus: str, kind: str, split: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"manifest kind must be one of {KINDS}, got {kind!r}")
    return manifest_dir(data_dir) / f"{corpus}_{kind}_{split}.jsonl.gz"


def find_splits(data_dir: str | Path, corpus: str) -> list[str]:
    """The splits with both manifests present, sorted."""
    pat = re.compile(rf"^{re.escape(corpus)}_recordings_(.+)\.jsonl\.gz$")
    d = manifest_dir(data_dir)
    found = [m.group(1) for p in (d.glob("*.jsonl.gz") if d.is_dir() else [])
             if (m := pat.match(p.name))]
    return sorted(s for s in found if manifest_path(data_dir, corpus, "supervisions", s).exists())


def load_manifests(data_dir: str | Path, corpus: str, split: str):
    """(RecordingSet, SupervisionSet) of one split, read eagerly; a clear error if missing."""
    from lhotse import RecordingSet, SupervisionSet

    paths = [manifest_path(data_dir, corpus, k, split) for k in KINDS]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        have = ", ".join(find_splits(data_dir, corpus)) or "none"
        raise UserError(f"manifest(s) not found: {', '.join(missing)} (splits present for "
                        f"corpus {corpus!r}: {have}); run 'svtk data synth' or 'svtk data prepare'")
    return RecordingSet.from_file(paths[0]).to_eager(), SupervisionSet.from_file(paths[1]).to_eager()


def save_manifest(manifest, path: str | Path) -> Path:  # noqa: ANN001 - any lhotse manifest
    """Write a lhotse manifest as ``jsonl.gz``, atomically and byte-reproducibly.

    lhotse's own ``to_file`` stamps the gzip header with the current time, so two identical
    manifests written a second apart differ; here the header time is fixed (0) and no file
    name is stored, so the same content always gives the same bytes.
    """
    import gzip
    import json

    from svtk.stage import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw,
                                                   mtime=0) as gz:
            for item in manifest:
                gz.write((json.dumps(item.to_dict(), ensure_ascii=False) + "\n").encode())
    return path
