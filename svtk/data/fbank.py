"""``svtk data fbank``: kaldi log-mel fbank of every recording, computed once and stored.

What Kaldi's ``compute-fbank-feats`` and icefall's ``compute_fbank_*.py`` do: a native encoder
pre-trained from scratch reads each training utterance many times (the mini recipe's CTC
encoder ~8 epochs), and decoding the audio and computing its fbank at every step is a sixth of
a CTC step on a CPU (276 -> 228 ms a step on the mini corpus, 1 thread, egs/mini/BENCHMARKS.md).
The features are exactly what :class:`svtk.models.native.NativeEncoder` computes from the
audio (the same module, 25 ms / 10 ms, ``snip_edges``, no dither), raw log-mel before the
per-utterance normalisation, stored lossless (fp32), so training from them equals training from
the audio.

Reads task cuts (``data/tasks/<split>.jsonl.gz``), all of them or those of some tasks; writes

- ``<out_dir>/storage/<split>.npyc``  one (frames, mel bins) fp32 array per *recording*
- ``<out_dir>/<split>.jsonl.gz``      the task cuts, each with the custom field ``fbank`` (a
  lhotse TemporalArray, 10 ms frames) and ``fbank_config`` (what the features are)

and the stage marker (config and input fingerprints: a changed manifest refuses to be skipped).

Usage::

    svtk data fbank --cuts data/tasks/train.jsonl.gz --split train --out-dir data/fbank --tasks asr
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from svtk.errors import UserError

log = logging.getLogger(__name__)

FBANK_FIELD = "fbank"
FBANK_CONFIG_FIELD = "fbank_config"
FRAME_SHIFT = 0.01


def fbank_config(num_mel_bins: int = 80, sample_rate: int = 16000) -> dict:
    """What stored features are: compared with an encoder's own config before they are used."""
    return {"type": "kaldi-fbank", "num_mel_bins": num_mel_bins, "sample_rate": sample_rate,
            "frame_length_ms": 25, "frame_shift_ms": 10, "snip_edges": True, "dither": 0.0}


def load_fbank(cut) -> np.ndarray:
    """The stored raw fbank of ``cut`` as float32 (frames, mel bins). A cut that covers its
    recording gets exactly the frames the encoder computes from its audio; a shorter cut gets the
    recording's frames in its time span (a frame at either edge can differ from its audio
    encoded alone, as with any per-recording feature cache)."""
    from svtk.latents.storage import load_cut_array

    return load_cut_array(cut, FBANK_FIELD)


def compute_fbank(cuts_path: str | Path, out_dir: str | Path, split: str,
                  num_mel_bins: int = 80, sample_rate: int = 16000,
                  tasks: list[str] | None = None, max_duration: float = 120.0,
                  max_batch: int = 32, force: bool = False) -> Path:
    """Compute and store the fbank of every recording in ``cuts_path`` (of the cuts of ``tasks``
    only, when given: what a pre-training phase reads); returns the written cuts path."""
    from lhotse.array import Array, TemporalArray

    from svtk.data.manifests import iter_cut_dicts, recordings_of, write_cut_dicts_with
    from svtk.latents.extract import duration_batches, recording_audio
    from svtk.latents.storage import STORAGE_TYPE, NpyChunkyWriter
    from svtk.logging import progress
    from svtk.models.native import fbank_frames, log_mel
    from svtk.runinfo import write_run_info
    from svtk.stage import Stage, atomic_path

    cuts_path, out_dir = Path(cuts_path), Path(out_dir)
    if not cuts_path.is_file():
        raise UserError(f"task cuts not found: {cuts_path} (run `svtk data tasks` first)")
    out_cuts = out_dir / f"{split}.jsonl.gz"
    storage = out_dir / "storage" / f"{split}.npyc"
    config = fbank_config(num_mel_bins, sample_rate)
    stage = Stage(f"fbank-{split}", out_dir, force=force, inputs=[cuts_path],
                  config={**config, "split": split, "tasks": sorted(tasks) if tasks else None})
    if stage.is_done():
        return out_cuts
    write_run_info(out_dir, config)

    start = time.perf_counter()
    fbank = log_mel(sample_rate, num_mel_bins)
    # one pass over the manifest; the selected cuts are held (a pre-training subset)
    # (as plain dicts: the output is the input plus two custom fields; svtk.data.manifests)
    cuts = [row for row in iter_cut_dicts(cuts_path)
            if not tasks or (row.get("custom") or {}).get("task") in tasks]
    recordings = recordings_of(cuts, needs="fbank needs")
    if not recordings:
        raise UserError(f"{cuts_path}: no cuts of tasks {tasks}")
    arrays: dict[str, TemporalArray] = {}
    audio_seconds = 0.0
    batches = duration_batches(list(recordings.values()), max_duration, max_batch)
    with atomic_path(storage) as tmp_storage, NpyChunkyWriter(tmp_storage) as writer:
        for batch in progress(batches, description=f"fbank {split}", unit="batch"):
            audio = [recording_audio(r, sample_rate) for r in batch]
            lens = torch.tensor([a.shape[0] for a in audio])
            padded = torch.nn.utils.rnn.pad_sequence(audio, batch_first=True)
            with torch.inference_mode():
                feats = fbank(padded)  # (B, F, M); snip_edges: a frame never reads padding
            for rec, x, n in zip(batch, feats, fbank_frames(lens, sample_rate).tolist(), strict=True):
                value = x[:n].numpy().astype(np.float32)
                key = writer.write(rec.id, value)
                arrays[rec.id] = TemporalArray(
                    array=Array(storage_type=STORAGE_TYPE, storage_path=str(storage),
                                storage_key=key, shape=list(value.shape)),
                    temporal_dim=0, frame_shift=FRAME_SHIFT, start=0.0)
                audio_seconds += rec.duration
    n_cuts = write_cut_dicts_with(cuts, out_cuts, lambda row: {
        FBANK_FIELD: arrays[row["recording"]["id"]], FBANK_CONFIG_FIELD: config})
    wall = time.perf_counter() - start
    log.info("fbank %s: %d cuts, %d recordings, %.1f s of audio -> %s (%.0fx real time)", split,
             n_cuts, len(recordings), audio_seconds, out_dir, audio_seconds / max(wall, 1e-9))
    stage.mark_done(outputs=[out_cuts, storage], cuts=n_cuts, recordings=len(recordings),
                    audio_seconds=audio_seconds, wall_seconds=wall)
    return out_cuts
