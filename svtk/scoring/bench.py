"""Benchmark of ``svtk score`` and the SLURP evaluation: wall time on synthetic and real input.

Writes nothing outside a temporary directory. Prints one line per measurement.

Usage::

    python -m svtk.scoring.bench [--utts 10000] [--slurp-gold PATH/test.jsonl]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    from svtk.scoring.score import score_dir
    from svtk.testing.scoring import hyps_records, write_jsonl

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utts", type=int, default=10000, help="hypotheses to score (all tasks)")
    ap.add_argument("--slurp-gold", type=Path, help="SLURP gold jsonl to evaluate against itself")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "decode"
        recs = hyps_records(seed=1, n=max(1, args.utts // 8), error=0.2, out_of_set=0.05)
        write_jsonl(d / "hyps.jsonl", recs)
        t = time.perf_counter()
        score_dir(d)
        print(f"svtk score: {len(recs)} hypotheses over 8 tasks in {time.perf_counter() - t:.2f} s")
    if args.slurp_gold:
        from svtk.scoring.slurp import evaluate_slurp_items, load_gold

        t = time.perf_counter()
        gold = load_gold(args.slurp_gold)
        res = evaluate_slurp_items(gold, {k: dict(v) for k, v in gold.items()})
        print(f"SLURP: {res['counts']['scored']} recordings loaded and scored in "
              f"{time.perf_counter() - t:.2f} s (SLU-F1 {res['slu_f1']['f1']:.2f})")


if __name__ == "__main__":
    main()
