"""Benchmark of corpus synthesis: audio seconds per wall second (and per CPU second).

Synthesises a corpus of the given size into a temporary directory with the given number of
workers and prints the throughput. Run it on a quiet machine; CPU seconds (this process and its
engine/sox children) are printed too, since they do not depend on other load.

Usage::

    python -m svtk.data.bench --config egs/mini/conf/synth.yaml --hours 0.25 --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time


def main(argv: list[str] | None = None) -> None:
    from svtk.config import load_config
    from svtk.data.synth import SynthConfig, synthesize

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None)
    ap.add_argument("--hours", type=float, default=0.25)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    cfg = load_config(SynthConfig, args.config, [f"hours={args.hours}"])
    t0, c0 = time.monotonic(), os.times()
    with tempfile.TemporaryDirectory(prefix="svtk-bench-") as d:
        stats = synthesize(cfg, d, workers=args.workers)
    wall, c1 = time.monotonic() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system) + (c1.children_user - c0.children_user) \
        + (c1.children_system - c0.children_system)
    audio = sum(s["seconds"] for s in stats["splits"].values())
    load = os.getloadavg()[0]
    print(f"audio {audio:.0f} s ({audio / 3600:.3f} h), workers {args.workers}, "
          f"synthesis wall {stats['wall_seconds']:.1f} s (total {wall:.1f} s), cpu {cpu:.1f} s")
    print(f"throughput: {stats['audio_seconds_per_wall_second']:.0f} audio-s per wall-s, "
          f"{audio / max(cpu, 1e-9):.0f} audio-s per cpu-s (load average {load:.1f}, "
          f"{os.cpu_count()} cpus; max rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB)")


if __name__ == "__main__":
    main()
