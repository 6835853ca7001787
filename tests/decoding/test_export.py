"""Export of the trainable parts (+ PEFT adapter), and the CLI's honest failures without a model."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file

from svtk.cli import run
from svtk.decoding.export import export_model
from svtk.decoding.loading import resolve_checkpoint
from svtk.testing.decoding import FakeSpeechLM


def test_export_writes_weights_config_and_peft_adapter(tmp_path, llama, bpe_tok):
    import copy

    from peft import LoraConfig, PeftModel, get_peft_model

    peft_llm = get_peft_model(copy.deepcopy(llama), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
    model = FakeSpeechLM(peft_llm, bpe_tok)
    out = export_model(model, {"llm": "tiny"}, tmp_path / "export", source="exp/x")
    sd = load_file(str(out / "model.safetensors"))
    assert set(sd) == {"downsampler.weight", "downsampler.bias"}
    assert torch.equal(sd["downsampler.weight"], model.downsampler.weight)
    meta = json.loads((out / "export.json").read_text())
    assert meta["format"] == "svtk-export" and meta["adapter"] and meta["tensors"] == 2
    reloaded = PeftModel.from_pretrained(copy.deepcopy(llama), str(out / "adapter"))
    assert "lora_A" in " ".join(n for n, _ in reloaded.named_parameters())


def test_resolve_checkpoint_newest_outside_decode(tmp_path):
    (tmp_path / "phase1").mkdir()
    (tmp_path / "decode").mkdir()
    a = tmp_path / "phase1" / "a.safetensors"
    a.write_bytes(b"x")
    (tmp_path / "decode" / "z.safetensors").write_bytes(b"x")
    assert resolve_checkpoint(tmp_path) == a
    assert resolve_checkpoint(tmp_path, "phase1/a.safetensors") == a


def test_cli_fails_cleanly(tmp_path):
    assert run(["decode", "--exp-dir", str(tmp_path), "--split", "nope"]) == 2  # no cuts
    assert run(["infer", str(tmp_path / "a.wav"), "--exp-dir", str(tmp_path)]) == 2  # no config
    assert run(["export", "--exp-dir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
