"""The decoding benchmark runs end to end at a tiny size, and its HF comparisons decode the same
outputs as transformers' ``generate`` with ``prefix_allowed_tokens_fn`` (timings are not
checked: they belong to egs/mini/BENCHMARKS.md, not to tests)."""

from __future__ import annotations

import json
import math

import pytest


@pytest.mark.parametrize("llm", ["llama", "t5"])
def test_bench_runs_and_agrees_with_hf_generate(llm, tmp_path, capsys):
    from svtk.decoding.bench import main

    out = tmp_path / "bench.json"
    main(["--llm", llm, "--batch", "4", "--prefix-len", "12", "--vocab", "600", "--hidden", "32",
          "--layers", "1", "--labels", "8", "--reps", "1", "--new-tokens", "3",
          "--joint-tokens", "5", "--beam", "2", "--ctc-frames", "6", "--ctc-vocab", "50",
          "--json", str(out)])
    res = json.loads(out.read_text())
    assert "labels_hf_over_prefill" in capsys.readouterr().out
    assert res["labels_hf_same_output"] and res["joint_hf_same_output"] and res["mixed_hf_same_output"]
    assert res["beam_same_fraction"] == 1.0
    assert res["prefill_s"] > 0 and 0 < res["prefill_share_of_ours"] < 1.5
    assert all(math.isfinite(v) and v > 0 for k, v in res.items() if k.endswith(("_s", "_over_ours")))
