"""Training benchmarks: padding of bucketed vs random batches, and time per training step.

``padding``: the share of padded frames when each batch is padded to its longest cut, for
lhotse's DynamicBucketingSampler against random batching (SimpleCutSampler, shuffled) at the
same ``max_duration``, on a cuts manifest or on synthetic durations.

``step``: seconds per training step (collate + forward + backward + AdamW) of a phase's model
on one or more cuts manifests, e.g. task cuts with audio (encoder on the fly) against the same
cuts pointing at cached latents (``svtk latents extract``): pass both with ``--cuts``.

Timings on a machine shared with other jobs are noisy; re-run on a quiet one.

Usage::

    python -m svtk.training.bench padding --cuts data/tasks/train.jsonl.gz --max-duration 60
    python -m svtk.training.bench padding --synthetic 5000
    python -m svtk.training.bench step -c conf/train.yaml --phase phase1 --threads 2 \\
        --cuts data/tasks/train.jsonl.gz --cuts data/latents/<tag>/train.jsonl.gz
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any


def _durations(batches: Any) -> list[list[float]]:
    return [[c.duration for c in b] for b in batches]


def padding_report(cuts: Any, max_duration: float, num_buckets: int = 10, seed: int = 0
                   ) -> dict[str, Any]:
    from lhotse.dataset import DynamicBucketingSampler, SimpleCutSampler

    from svtk.training.data import padding_fraction

    out = {}
    samplers = {
        "bucketing": DynamicBucketingSampler(cuts, max_duration=max_duration, shuffle=True,
                                             num_buckets=num_buckets, seed=seed),
        "random": SimpleCutSampler(cuts, max_duration=max_duration, shuffle=True, seed=seed),
    }
    for name, sampler in samplers.items():
        durs = _durations(sampler)
        out[name] = {"batches": len(durs), "cuts": sum(map(len, durs)),
                     "padding": round(padding_fraction(durs), 4),
                     "mean_batch_s": round(sum(map(sum, durs)) / max(len(durs), 1), 2)}
    return out


def synthetic_cuts(n: int, seed: int = 0) -> Any:
    """``n`` dummy cuts with mini-corpus-like durations (1-2 s commands to 10 s sentences)."""
    from lhotse import CutSet
    from lhotse.testing.dummies import dummy_cut

    rng = random.Random(seed)
    cuts = []
    for i in range(n):
        d = min(max(rng.lognormvariate(1.0, 0.5), 0.5), 12.0)
        cuts.append(dummy_cut(i, duration=round(d, 2), with_data=False))
    return CutSet.from_cuts(cuts)


def step_report(config: Path, phase: str, cuts_paths: list[Path], batches: int,
                overrides: list[str], warmup: int = 2) -> dict[str, Any]:
    """Time training steps of ``phase``'s model on each manifest, same batches for each.

    The batches are those of a DynamicBucketingSampler over the phase's tasks at the phase's
    ``max_duration`` (same seed: with an audio and a latents manifest of the same cuts, both
    paths see the same batches). A step = collate (audio decoding or latent reading) + forward
    + backward + AdamW; the first ``warmup`` steps are not timed. The manifests take turns, one
    step each, and medians are reported: a shared machine makes the mean meaningless.
    """
    import statistics

    import torch
    from lhotse import load_manifest_lazy
    from lhotse.dataset import DynamicBucketingSampler

    from svtk.config import load_config
    from svtk.training.config import TrainConfig
    from svtk.training.curriculum import apply_trainable
    from svtk.training.data import _TaskIn, count_tasks, resolve_weights
    from svtk.training.objectives import build_model, output_fields

    cfg = load_config(TrainConfig, config, overrides)
    p = cfg.phase(phase)
    torch.manual_seed(cfg.seed)
    model = build_model(p.objective, cfg.model_section(phase))
    apply_trainable(model, p.trainable)
    params = [x for x in model.parameters() if x.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-6)
    out: dict[str, Any] = {"phase": phase, "max_duration": p.max_duration,
                           "threads": torch.get_num_threads()}
    plans = {}
    for path in cuts_paths:
        cuts = load_manifest_lazy(path)
        tasks = resolve_weights(p.tasks, count_tasks(path), str(path))
        cuts = cuts.filter(_TaskIn(set(tasks)))
        sampler = DynamicBucketingSampler(cuts, max_duration=p.max_duration, max_cuts=p.max_cuts,
                                          num_buckets=cfg.data.num_buckets, shuffle=True, seed=0)
        plans[str(path)] = list(itertools.islice(sampler, batches + warmup))
    times: dict[str, list[float]] = {k: [] for k in plans}
    items: dict[str, list[int]] = {k: [] for k in plans}
    audio: dict[str, list[float]] = {k: [] for k in plans}
    model.train()
    # one step of each manifest in turn: a machine whose speed drifts (other tenants, clocks)
    # slows every manifest alike instead of whichever ran during the slow minute
    for i in range(batches + warmup):
        for key, plan in plans.items():
            if i >= len(plan):
                continue
            batch_cuts = plan[i]
            t = time.perf_counter()
            batch = model.collate(batch_cuts)
            lpi, ntok = output_fields(model(batch))
            ((lpi * ntok).sum() / ntok.sum()).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if i >= warmup:  # the first steps warm up allocators and lazy inits
                times[key].append(time.perf_counter() - t)
                items[key].append(len(batch_cuts))
                audio[key].append(sum(c.duration for c in batch_cuts))
    for key in plans:
        ts, its, au = times[key], items[key], audio[key]
        med = statistics.median(ts) if ts else float("nan")
        out[key] = {
            "steps": len(ts),
            "ms_per_step_median": round(1000 * med, 1),
            "ms_per_step_min": round(1000 * min(ts), 1) if ts else None,
            "cuts_per_step": round(statistics.mean(its), 1) if its else None,
            # throughput at the median step time and the mean batch
            "cuts_per_s": round(statistics.mean(its) / med, 1) if ts else None,
            "audio_s_per_s": round(statistics.mean(au) / med, 1) if ts else None,
        }
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m svtk.training.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pa = sub.add_parser("padding", help="padding fraction: bucketing vs random batches")
    pa.add_argument("--cuts", type=Path, help="cuts manifest (default: synthetic durations)")
    pa.add_argument("--synthetic", type=int, default=5000, help="number of synthetic cuts")
    pa.add_argument("--max-duration", type=float, default=60.0)
    pa.add_argument("--num-buckets", type=int, default=10)
    st = sub.add_parser("step", help="seconds per training step on each --cuts manifest")
    st.add_argument("-c", "--config", type=Path, required=True)
    st.add_argument("--phase", required=True)
    st.add_argument("--cuts", type=Path, action="append", required=True)
    st.add_argument("--batches", type=int, default=10, help="timed steps per manifest")
    st.add_argument("--warmup", type=int, default=2, help="untimed first steps")
    st.add_argument("--set", dest="overrides", action="append", default=[])
    st.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    args = ap.parse_args(argv)
    if args.cmd == "padding":
        from lhotse import load_manifest

        cuts = load_manifest(args.cuts) if args.cuts else synthetic_cuts(args.synthetic)
        report = {"source": str(args.cuts or f"synthetic:{args.synthetic}"),
                  "max_duration": args.max_duration,
                  **padding_report(cuts, args.max_duration, args.num_buckets)}
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        report = step_report(args.config, args.phase, args.cuts, args.batches, args.overrides,
                             args.warmup)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
