"""Cached-latent and on-the-fly training agree: the same tiny SpeechLM, the same cuts, phase 1.

One run reads raw audio and runs the frozen encoder in every step; the other reads the fp32
latents that ``svtk latents extract`` cached for the same cuts. The native encoder is exact
under padding, so both paths feed the downsampler the same features up to float rounding: the
extraction batches recordings differently from the training sampler, so matmuls see other
shapes and sum in another order. Measured over 4 steps: losses differ by 6e-8 relative, final
weights (magnitude ~0.1-1) by 1.3e-7 absolute. The tolerances (1e-6 relative on losses, 2e-6
absolute on weights) are ~10x above that, and tight enough to fail on fp16 latents (6e-6 on
losses, 5e-5 on weights), let alone a real difference between the paths (another layer, a
shifted frame).
"""

from __future__ import annotations

import pytest

pytest.importorskip("svtk.latents.extract", reason="svtk.latents (the model issue) not merged yet")


def _phase1_config(model_cfg, train_cuts, steps):
    from svtk.config import to_dict
    from svtk.training.config import DataConfig, PhaseConfig, TrainConfig

    phase = PhaseConfig(objective="speechlm", tasks={"*": 1.0}, trainable=["downsampler", "layer_mix"],
                        max_steps=steps, lr=3e-3, warmup_steps=1, max_duration=3.0, valid_every=0,
                        log_every=1, weight_decay=0.0)
    return TrainConfig(model=to_dict(model_cfg), phases={"phase1": phase}, seed=0, device="cpu",
                       precision="fp32",
                       data=DataConfig(train_cuts=train_cuts, valid_cuts=None, num_buckets=2,
                                       buffer_size=100))


def test_cached_latents_and_on_the_fly_training_agree(tmp_path):
    import torch
    from lhotse import load_manifest

    from svtk.latents.extract import extract_latents
    from svtk.testing.models import tiny_model_config, tiny_task_cuts
    from svtk.training.checkpoint import load_weights
    from svtk.training.loop import train_phase
    from svtk.training.metrics import read_metrics

    model_cfg = tiny_model_config(tmp_path / "models", encoder="native", llm="t5", layer="weighted")
    audio_cuts = tmp_path / "tasks" / "train.jsonl.gz"
    audio_cuts.parent.mkdir()
    tiny_task_cuts(tmp_path / "audio").to_file(audio_cuts)
    latent_cuts = extract_latents(model_cfg, audio_cuts, tmp_path / "latents", "train",
                                  dtype="fp32", max_duration=10.0)
    assert all("latent" in c.custom for c in load_manifest(latent_cuts))

    steps = 4
    runs = {}
    for name, cuts in (("audio", audio_cuts), ("latents", latent_cuts)):
        result = train_phase(_phase1_config(model_cfg, cuts, steps), "phase1", tmp_path / name)
        assert result.steps == steps
        losses = [m["loss"] for m in read_metrics(tmp_path / name / "phase1") if m["split"] == "train"]
        runs[name] = losses, load_weights(result.weights)

    (loss_a, w_a), (loss_l, w_l) = runs["audio"], runs["latents"]
    assert len(loss_a) == steps
    assert loss_l == pytest.approx(loss_a, rel=1e-6)
    assert sorted(w_a) == sorted(w_l) and any(k.startswith("layer_mix") for k in w_a)
    assert all(k.startswith(("downsampler.", "layer_mix.")) for k in w_a)
    for k in w_a:
        torch.testing.assert_close(w_l[k], w_a[k], rtol=0, atol=2e-6, msg=k)
    # the runs did train: the final weights moved away from the shared initial ones
    torch.manual_seed(0)
    from svtk.models.speechlm import SpeechLM

    init = dict(SpeechLM.from_config(model_cfg).named_parameters())
    assert max((w_a[k] - init[k]).abs().max().item() for k in w_a) > 1e-3
