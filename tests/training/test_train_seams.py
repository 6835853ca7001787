"""Seams between svtk.training and svtk.models: the mini recipe's train.yaml against the model
config, trainable groups of the real SpeechLM per phase, LoRA weights through resume."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("svtk.models.speechlm", reason="svtk.models (the model issue) not merged yet")

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "egs" / "mini"


@pytest.fixture()
def mini_cfg(monkeypatch):
    """egs/mini/conf/train.yaml as the recipe loads it (paths relative to egs/mini)."""
    from svtk.config import load_config
    from svtk.training.config import TrainConfig

    monkeypatch.chdir(MINI)
    return load_config(TrainConfig, "conf/train.yaml")


def test_model_section_from_file(tmp_path, monkeypatch):
    from svtk.config import ConfigError, load_config
    from svtk.training.config import TrainConfig

    monkeypatch.chdir(tmp_path)
    (tmp_path / "base.yaml").write_text("llm: {kind: decoder-only, config: {model_type: llama}}\n")
    (tmp_path / "m.yaml").write_text("base: base.yaml\nlora: {r: 8, alpha: 16}\n")
    (tmp_path / "t.yaml").write_text("model: {file: m.yaml, lora: {r: 4}}\n")
    cfg = load_config(TrainConfig, "t.yaml", ["model.lora.alpha=2"])
    assert cfg.model == {"llm": {"kind": "decoder-only", "config": {"model_type": "llama"}},
                         "lora": {"r": 4, "alpha": 2}}
    assert cfg.model_section("phase1") == cfg.model  # the phase view (hash) holds the content
    # the resolved config saved in a phase dir reads back to the same thing
    from svtk.config import save_config

    save_config(cfg, tmp_path / "saved.yaml")
    assert load_config(TrainConfig, tmp_path / "saved.yaml").model == cfg.model
    (tmp_path / "bad.yaml").write_text("model: {file: missing.yaml}\n")
    with pytest.raises(ConfigError, match="missing.yaml"):
        load_config(TrainConfig, "bad.yaml")


def test_mini_train_yaml_matches_model_config(mini_cfg):
    """Pre-training builds exactly the architectures conf/model/mini.yaml loads, and writes
    them where mini.yaml's name_or_path looks (exp/pretrain/<phase>/model)."""
    from svtk.config import load_config
    from svtk.models.config import ModelConfig
    from svtk.training.loop import FINAL_DIR

    model = load_config(ModelConfig, ROOT / "conf" / "model" / "mini.yaml")
    assert mini_cfg.model["encoder"]["name_or_path"] == model.encoder.name_or_path
    ctc, lm = mini_cfg.phase("encoder_ctc"), mini_cfg.phase("text_lm")
    assert (ctc.objective, lm.objective) == ("ctc", "text-lm")
    assert ctc.model["encoder"] == model.encoder.config
    assert lm.model["llm"] == model.llm.config and lm.model["kind"] == model.llm.kind
    assert ctc.model["tokenizer"] == lm.model["tokenizer"] == model.tokenizer.name_or_path
    assert model.encoder.name_or_path == f"exp/pretrain/encoder_ctc/{FINAL_DIR}"
    assert model.llm.name_or_path == f"exp/pretrain/text_lm/{FINAL_DIR}"
    # the curriculum chain and the all-at-once baseline
    assert [mini_cfg.phase(p).init_from for p in ("phase1", "phase2a", "phase2b", "allatonce")] \
        == [None, "phase1", "phase2a", None]
    assert mini_cfg.phase("allatonce").max_steps == sum(
        mini_cfg.phase(p).max_steps for p in ("phase1", "phase2a", "phase2b"))


@pytest.mark.parametrize("llm", ["llama", "t5"])
def test_trainable_groups_of_speechlm_per_phase(mini_cfg, tmp_path, llm):
    """With the real SpeechLM, each mini phase trains exactly its groups; the groups partition
    the parameters (none unowned, none in two groups); encoder and base LLM stay frozen."""
    import torch

    from svtk.models.speechlm import SpeechLM
    from svtk.testing.models import tiny_model_config
    from svtk.training.curriculum import apply_trainable, group_names

    torch.manual_seed(0)
    model = SpeechLM.from_config(tiny_model_config(tmp_path, llm=llm, layer="weighted"))
    groups = group_names(model)
    named = [n for n, _ in model.named_parameters()]
    owned = [n for names in groups.values() for n in names]
    assert sorted(owned) == sorted(named)
    assert groups["lora"] and all("lora_" in n for n in groups["lora"])
    for phase in ("phase1", "phase2a", "phase2b", "allatonce"):
        chosen = mini_cfg.phase(phase).trainable
        trainable = apply_trainable(model, chosen)
        expected = sorted(n for g in chosen for n in groups[g])
        assert trainable == expected
        assert sorted(n for n, p in model.named_parameters() if p.requires_grad) == expected
        assert not any(p.requires_grad for p in model.encoder.parameters())
        assert ("lora" in chosen) == any("lora_" in n for n in trainable)
        assert not any(n in groups["llm"] for n in trainable)


def test_lora_weights_through_resume(tmp_path, monkeypatch):
    """phase2a (LoRA) interrupted after 2 of 4 updates and resumed equals an uninterrupted run,
    LoRA weights included; phase 2a starts from phase 1's downsampler."""
    import shutil

    import torch

    from svtk.config import to_dict
    from svtk.models.speechlm import SpeechLM
    from svtk.testing.models import tiny_model_config, tiny_task_cuts
    from svtk.testing.training import SimulatedCrash
    from svtk.training.checkpoint import load_weights
    from svtk.training.config import DataConfig, PhaseConfig, TrainConfig
    from svtk.training.loop import train_phase

    cuts = tmp_path / "train.jsonl.gz"
    tiny_task_cuts(tmp_path / "audio").to_file(cuts)
    common = dict(objective="speechlm", tasks={"*": 1.0}, lr=5e-3, warmup_steps=1,
                  max_duration=3.0, valid_every=0, save_every=1, log_every=1, keep_last=2)
    phases = {"phase1": PhaseConfig(**common, trainable=["downsampler"], max_steps=2),
              "phase2a": PhaseConfig(**common, trainable=["downsampler", "lora"], max_steps=4,
                                     init_from="phase1")}
    model_cfg = tiny_model_config(tmp_path / "models", llm="llama", lora=True)
    model_cfg.lora.dropout = 0.1  # resume must restore the RNG that LoRA dropout draws from
    cfg = TrainConfig(model=to_dict(model_cfg), phases=phases, device="cpu", precision="fp32",
                      data=DataConfig(train_cuts=cuts, valid_cuts=None, num_buckets=2,
                                      buffer_size=100))
    train_phase(cfg, "phase1", tmp_path / "a")
    shutil.copytree(tmp_path / "a" / "phase1", tmp_path / "b" / "phase1")
    w1 = load_weights(tmp_path / "a" / "phase1" / "model.safetensors")

    full = load_weights(train_phase(cfg, "phase2a", tmp_path / "a").weights)

    calls = {"n": 0}
    forward = SpeechLM.forward

    def crashing(self, batch):
        if self.training:
            calls["n"] += 1
            if calls["n"] > 2:
                raise SimulatedCrash("killed after 2 updates")
        return forward(self, batch)

    monkeypatch.setattr(SpeechLM, "forward", crashing)
    with pytest.raises(SimulatedCrash):
        train_phase(cfg, "phase2a", tmp_path / "b")
    monkeypatch.setattr(SpeechLM, "forward", forward)
    resumed = load_weights(train_phase(cfg, "phase2a", tmp_path / "b", resume=True).weights)

    lora = [k for k in full if "lora_" in k]
    assert lora and any("lora_B" in k for k in lora)
    assert sorted(resumed) == sorted(full)
    for k in full:
        assert torch.equal(resumed[k], full[k]), k
    assert any(full[k].abs().max() > 0 for k in lora if "lora_B" in k)  # LoRA did train
    # phase 2a started from phase 1's downsampler, and moved it
    ds = [k for k in w1 if k.startswith("downsampler.")]
    assert ds and not all(torch.equal(full[k], w1[k]) for k in ds)
