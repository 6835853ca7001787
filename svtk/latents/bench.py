"""Benchmark: latent-extraction throughput vs a bare encoder forward, and bytes stored per audio second.

Synthesises ``--seconds`` of audio (recordings of 1-6 s), then times

1. the bare encoder forward over the same duration-sorted batches (audio already in memory), and
2. ``extract_latents`` end to end (encoder loading, audio reading, encoder, fp16/fp32 storage,
   cut writing), interleaved with (1), best of ``--repeat`` runs each,

and reports both as real-time factors (audio seconds per wall second) and the storage size. The
encoder is the one of ``--config`` (default: the mini preset's native Conformer, randomly
initialised from its inline architecture when its directory does not exist yet).

Usage::

    python -m svtk.latents.bench --seconds 120 --config conf/model/mini.yaml --dtype fp16
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def run_bench(config: str, seconds: float, dtype: str, max_duration: float, threads: int | None,
              repeat: int = 3) -> dict:
    import torch
    from lhotse import CutSet, MonoCut, Recording

    from svtk.config import load_config
    from svtk.latents.extract import duration_batches, extract_latents, recording_audio
    from svtk.models.config import ModelConfig, NativeEncoderConfig
    from svtk.models.encoders import build_encoder
    from svtk.models.native import NativeEncoder
    from svtk.testing.models import synth_wav

    if threads:
        torch.set_num_threads(threads)
    cfg = load_config(ModelConfig, config)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        enc_path = cfg.encoder.name_or_path
        if cfg.encoder.kind == "native" and (enc_path is None or not Path(enc_path).exists()):
            torch.manual_seed(0)
            NativeEncoder(NativeEncoderConfig(**(cfg.encoder.config or {}))).save_pretrained(tmp / "enc")
            cfg.encoder.name_or_path = str(tmp / "enc")
        recs, total, i = [], 0.0, 0
        while total < seconds:
            dur = 1.0 + (i * 0.37) % 5.0
            wav = synth_wav(tmp / "wav" / f"r{i}.wav", dur, seed=i)
            recs.append(Recording.from_file(wav, recording_id=f"r{i}"))
            total += dur
            i += 1
        cuts = CutSet.from_cuts(
            MonoCut(id=r.id, start=0, duration=r.duration, channel=0, recording=r,
                    custom={"task": "asr", "prompt": "transcribe", "target": "x"}) for r in recs)
        cuts.to_file(tmp / "cuts.jsonl.gz")

        encoder = build_encoder(cfg.encoder).eval()
        batches = duration_batches(recs, max_duration, 32)
        audio = [[recording_audio(r, encoder.sample_rate) for r in b] for b in batches]
        with torch.inference_mode():  # warm-up
            encoder(audio[0][0][None], torch.tensor([audio[0][0].shape[0]]))
        bare = full = float("inf")
        for _ in range(repeat):  # interleaved, best of `repeat`: the machine may be shared
            t0 = time.perf_counter()
            with torch.inference_mode():
                for b in audio:
                    lens = torch.tensor([a.shape[0] for a in b])
                    encoder(torch.nn.utils.rnn.pad_sequence(b, batch_first=True), lens)
            bare = min(bare, time.perf_counter() - t0)
            t0 = time.perf_counter()
            out = extract_latents(cfg, tmp / "cuts.jsonl.gz", tmp / "latents", "bench", dtype=dtype,
                                  max_duration=max_duration, force=True)
            full = min(full, time.perf_counter() - t0)
        storage = out.parent / "storage" / "bench.npyc"
        nbytes = storage.stat().st_size
        frames = sum(c.custom["latent"].shape[0] for c in CutSet.from_file(out))
    return {
        "encoder": cfg.encoder.kind, "layer": cfg.encoder.layer, "dtype": dtype,
        "recordings": len(recs), "audio_seconds": round(total, 1), "repeat": repeat,
        "torch_threads": torch.get_num_threads(),
        "bare_forward_s": round(bare, 2), "bare_forward_rtf_x": round(total / bare, 1),
        "extract_s": round(full, 2), "extract_rtf_x": round(total / full, 1),
        "extract_over_bare": round(full / bare, 2),
        "bytes_per_audio_second": round(nbytes / total), "latent_frames_per_second": round(frames / total, 2),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(Path(__file__).resolve().parents[2] / "conf/model/mini.yaml"))
    p.add_argument("--seconds", type=float, default=120.0)
    p.add_argument("--dtype", default="fp16", choices=["fp16", "fp32"])
    p.add_argument("--max-duration", type=float, default=120.0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--repeat", type=int, default=3, help="best of N interleaved runs")
    args = p.parse_args(argv)
    print(json.dumps(run_bench(args.config, args.seconds, args.dtype, args.max_duration, args.threads,
                               args.repeat),
                     indent=2))


if __name__ == "__main__":
    main()
