"""``svtk latents extract``: run the frozen encoder once per recording and cache what the layer mix needs.

Reads task cuts (``data/tasks/<split>.jsonl.gz``) and the model config's encoder; writes

- ``<out_root>/<encoder_tag>/storage/<split>.npyc``   latents, one array per *recording* (several
  task cuts sharing the audio share it), fp16 (default) or fp32 (lossless), shape (T, D) for a
  chosen layer or (T, L, D) for the learnable layer mix (all layers are stored: the mix weights
  are trained later, so the cache cannot pre-mix them)
- ``<out_root>/<encoder_tag>/<split>.jsonl.gz``       the task cuts, each with custom fields
  ``latent`` (a lhotse TemporalArray) and ``latent_tag`` (the encoder tag)
- ``<out_root>/<encoder_tag>/config.yaml``            the encoder config the tag stands for (+ cmd.sh,
  run_info.json)

A cut covering part of a recording reads the recording's latent frames in its time span (frames
computed with the whole recording as context, not the span encoded alone).

Recordings are sorted by duration and batched up to ``max_duration`` seconds of padded audio
(duration bucketing: little padding, no wasted encoder compute).

Usage::

    svtk latents extract --config conf/model/mini.yaml --cuts data/tasks/train.jsonl.gz \\
        --split train --out-dir data/latents
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from svtk.errors import UserError
from svtk.models.config import ModelConfig

log = logging.getLogger(__name__)

NP_DTYPES = {"fp16": np.float16, "fp32": np.float32}


@dataclass
class ExtractStats:
    recordings: int = 0
    cuts: int = 0
    audio_seconds: float = 0.0
    encoder_seconds: float = 0.0
    wall_seconds: float = 0.0
    bytes: int = 0


def duration_batches(recordings: list, max_duration: float, max_batch: int) -> list[list]:
    """Sort by duration (longest first) and cut into batches whose padded length fits max_duration."""
    recs = sorted(recordings, key=lambda r: r.duration, reverse=True)
    batches, cur = [], []
    for r in recs:
        longest = cur[0].duration if cur else r.duration
        if cur and (len(cur) + 1 > max_batch or (len(cur) + 1) * longest > max_duration):
            batches.append(cur)
            cur = []
        cur.append(r)
    if cur:
        batches.append(cur)
    return batches


def recording_audio(rec, sample_rate: int) -> torch.Tensor:
    """A recording's first channel at ``sample_rate``: (S,) float32."""
    if rec.sampling_rate != sample_rate:
        rec = rec.resample(sample_rate)
    return torch.from_numpy(rec.load_audio(channels=0)).float().reshape(-1)  # (S,)


def extract_latents(model_cfg: ModelConfig, cuts_path: str | Path, out_root: str | Path,
                    split: str, dtype: str = "fp16", max_duration: float = 120.0,
                    max_batch: int = 32, device: str = "cpu", force: bool = False) -> Path:
    """Extract latents for the task cuts in ``cuts_path``; returns the written cuts path."""
    from lhotse.array import Array, TemporalArray

    from svtk.config import to_dict
    from svtk.data.manifests import iter_cut_dicts, recordings_of, write_cut_dicts_with
    from svtk.latents.storage import STORAGE_TYPE, NpyChunkyWriter
    from svtk.latents.tag import encoder_files_fingerprint, encoder_tag
    from svtk.logging import progress
    from svtk.models.encoders import build_encoder
    from svtk.models.layers import LayerMix
    from svtk.runinfo import write_run_info
    from svtk.stage import Stage, atomic_path

    cuts_path = Path(cuts_path)
    if not cuts_path.is_file():
        raise UserError(f"task cuts not found: {cuts_path}")
    enc_cfg = model_cfg.encoder
    tag = encoder_tag(enc_cfg, dtype)
    out_dir = Path(out_root) / tag
    out_cuts = out_dir / f"{split}.jsonl.gz"
    storage = out_dir / "storage" / f"{split}.npyc"
    inputs = [cuts_path]
    if enc_cfg.name_or_path and Path(enc_cfg.name_or_path).is_dir():
        inputs.append(Path(enc_cfg.name_or_path))
    stage = Stage(f"extract-{split}", out_dir, force=force, inputs=inputs, config={
        "encoder": to_dict(enc_cfg), "dtype": dtype, "split": split,
        "files": encoder_files_fingerprint(enc_cfg.name_or_path) if enc_cfg.name_or_path else None})
    if stage.is_done():
        return out_cuts
    write_run_info(out_dir, enc_cfg)  # config.yaml = the encoder config the tag stands for

    stats = ExtractStats()
    start = time.perf_counter()
    encoder = build_encoder(enc_cfg).to(device).eval()
    mix = LayerMix(encoder.num_hidden_states, enc_cfg.layer)
    # the cuts as plain dicts, streamed twice: only their recordings become lhotse objects, and
    # the output is the input plus two custom fields (lhotse's cut objects cost ~20 s more on
    # egs/mini's 40k train cuts, to load twice and serialise)
    recordings = recordings_of(iter_cut_dicts(cuts_path), needs="latents need")
    frame_shift = 1.0 / encoder.frame_rate
    arrays: dict[str, TemporalArray] = {}
    batches = duration_batches(list(recordings.values()), max_duration, max_batch)
    with atomic_path(storage) as tmp_storage, NpyChunkyWriter(tmp_storage) as writer:
        for batch in progress(batches, description=f"latents {split}", unit="batch"):
            audio = [recording_audio(r, encoder.sample_rate) for r in batch]
            lens = torch.tensor([a.shape[0] for a in audio])
            padded = torch.nn.utils.rnn.pad_sequence(audio, batch_first=True).to(device)
            t0 = time.perf_counter()
            with torch.inference_mode():
                out = encoder(padded, lens.to(device))
                feats = mix.select(out.hidden_states).float().cpu()  # (B, T, D) | (B, T, L, D)
            stats.encoder_seconds += time.perf_counter() - t0
            for rec, x, n in zip(batch, feats, out.lengths.tolist(), strict=False):
                value = x[:n].numpy().astype(NP_DTYPES[dtype])
                key = writer.write(rec.id, value)
                arrays[rec.id] = TemporalArray(
                    # as given, like the audio paths of the manifests: relative to the recipe
                    # directory when --out-dir is relative, so the recipe can move
                    array=Array(storage_type=STORAGE_TYPE, storage_path=str(storage),
                                storage_key=key, shape=list(value.shape)),
                    temporal_dim=0, frame_shift=frame_shift, start=0.0)
                stats.audio_seconds += rec.duration
            stats.recordings += len(batch)
    stats.cuts = write_cut_dicts_with(iter_cut_dicts(cuts_path), out_cuts, lambda row: {
        "latent": arrays[row["recording"]["id"]], "latent_tag": tag})
    stats.bytes = storage.stat().st_size
    stats.wall_seconds = time.perf_counter() - start
    log.info("latents %s: %d cuts, %d recordings, %.1f s of audio -> %s (%.0f bytes per audio "
             "second; encoder %.1fx real time, whole stage %.1fx)", split, stats.cuts,
             stats.recordings, stats.audio_seconds, out_dir, stats.bytes / max(stats.audio_seconds, 1e-9),
             stats.audio_seconds / max(stats.encoder_seconds, 1e-9),
             stats.audio_seconds / max(stats.wall_seconds, 1e-9))
    stage.mark_done(outputs=[out_cuts, storage], **{k: getattr(stats, k) for k in stats.__dataclass_fields__})
    return out_cuts
