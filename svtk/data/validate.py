"""``svtk data validate``: check manifests with lhotse and make sure every audio file is usable.

Each recording is opened and checked: the file exists and is readable, it is not empty, its
sample rate matches the manifest (and the expected rate), and it holds as many samples as the
manifest says (a truncated file is caught here, not in the middle of training). Problems are
written to a skip report (``<data>/manifests/<corpus>_skips_<split>.tsv``: file, reason, and a
count per reason in ``validate_<corpus>.json``), never silently dropped; the stage fails when
the skipped fraction of a split exceeds ``max_skip_fraction``.

Usage::

    report = validate_manifests("data", "mini", max_skip_fraction=0.01)
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from svtk.data.manifests import find_splits, load_manifests, manifest_dir
from svtk.errors import UserError

log = logging.getLogger(__name__)

TOLERANCE_SAMPLES = 160  # 10 ms: lhotse's own duration tolerance is of this order


def check_recording(rec, sample_rate: int | None) -> str | None:  # noqa: ANN001 - lhotse Recording
    """Why ``rec`` is unusable, or None when it is fine."""
    import soundfile as sf

    for src in rec.sources:
        if src.type != "file":
            continue
        path = Path(src.source)
        if not path.exists():
            return "missing"
        if path.stat().st_size == 0:
            return "empty file"
        try:
            info = sf.info(str(path))
        except Exception:  # noqa: BLE001 - any decoder error means unreadable
            return "unreadable"
        if info.frames == 0:
            return "no samples"
        if info.samplerate != rec.sampling_rate:
            return f"rate {info.samplerate} != manifest {rec.sampling_rate}"
        if sample_rate is not None and info.samplerate != sample_rate:
            return f"wrong rate {info.samplerate} (expected {sample_rate})"
        if info.frames + TOLERANCE_SAMPLES < rec.num_samples:
            return f"truncated ({info.frames} of {rec.num_samples} samples)"
        try:  # decode the end of the file: a corrupt tail fails here
            with sf.SoundFile(str(path)) as f:
                f.seek(max(0, info.frames - 1600))
                f.read(1600)
        except Exception:  # noqa: BLE001
            return "unreadable"
    return None


def validate_manifests(data_dir: str | Path, corpus: str, splits: list[str] | None = None,
                       sample_rate: int | None = 16000, max_skip_fraction: float = 0.0,
                       ) -> dict[str, Any]:
    """Validate every split; write skip reports; raise UserError if a split skips too much."""
    from lhotse.qa import validate_recordings_and_supervisions

    from svtk.logging import progress
    from svtk.stage import atomic_write_json, atomic_write_text

    data_dir = Path(data_dir)
    splits = splits or find_splits(data_dir, corpus)
    if not splits:
        raise UserError(f"no manifests for corpus {corpus!r} in {manifest_dir(data_dir)}")
    report: dict[str, Any] = {"corpus": corpus, "max_skip_fraction": max_skip_fraction,
                              "splits": {}}
    failed = []
    for split in splits:
        recs, sups = load_manifests(data_dir, corpus, split)
        try:
            validate_recordings_and_supervisions(recs, sups)
        except (AssertionError, ValueError) as e:
            raise UserError(f"{corpus} {split}: lhotse validation failed: {e}") from e
        skips = []
        for rec in progress(recs, f"validating {split}", total=len(recs), unit="files"):
            reason = check_recording(rec, sample_rate)
            if reason is not None:
                skips.append((rec.sources[0].source, rec.id, reason))
        reasons = Counter(r.split(" (")[0].split(" ")[0] if r.startswith(("truncated", "wrong"))
                          else r for _, _, r in skips)
        tsv = manifest_dir(data_dir) / f"{corpus}_skips_{split}.tsv"
        atomic_write_text(tsv, "file\trecording\treason\n" +
                          "".join(f"{f}\t{i}\t{r}\n" for f, i, r in skips))
        frac = len(skips) / max(1, len(recs))
        report["splits"][split] = {"recordings": len(recs), "supervisions": len(sups),
                                   "skipped": len(skips), "fraction": round(frac, 6),
                                   "reasons": dict(reasons), "report": str(tsv)}
        if skips:
            log.warning("%s %s: %d of %d recordings unusable (%s); listed in %s", corpus, split,
                        len(skips), len(recs), dict(reasons), tsv)
        if frac > max_skip_fraction:
            failed.append(f"{split}: {len(skips)}/{len(recs)} ({frac:.1%}) {dict(reasons)}")
    atomic_write_json(manifest_dir(data_dir) / f"validate_{corpus}.json", report)
    if failed:
        raise UserError(f"{corpus}: too many unusable recordings (max {max_skip_fraction:.1%}): "
                        + "; ".join(failed) + f". See {manifest_dir(data_dir)}/{corpus}_skips_*.tsv")
    return report
