"""svtk model summary on the presets: built on the meta device from configs, no download."""

from pathlib import Path

from svtk.cli import run
from svtk.config import load_config
from svtk.models.config import ModelConfig
from svtk.models.summary import summarize

CONF = Path(__file__).resolve().parents[2] / "conf" / "model"


def test_paper_preset_trainable_is_28_3m(capsys):
    rows = {r.name: r for r in summarize(load_config(ModelConfig, CONF / "speechverse_paper.yaml"))}
    # LoRA r=16 on q,v of 72 attention blocks of T5-XL (d 2048) + 2 conv blocks 1024->2048->2048
    assert rows["lora"].trainable == 72 * 2 * 16 * (2048 + 2048) == 9_437_184
    assert rows["downsampler"].trainable == 18_886_656
    assert abs(rows["total"].trainable - 28.3e6) < 0.05e6
    assert rows["encoder"].trainable == rows["llm"].trainable == 0
    assert 315e6 < rows["encoder"].total < 316e6  # WavLM-Large
    assert 2.7e9 < rows["llm"].total < 2.9e9  # Flan-T5-XL
    assert run(["model", "summary", "--config", str(CONF / "speechverse_paper.yaml")]) == 0
    assert "trainable 28.3M" in capsys.readouterr().out


def test_decoder_only_and_mini_presets():
    rows = {r.name: r for r in summarize(load_config(ModelConfig, CONF / "speechverse_decoder_only.yaml"))}
    assert rows["layer_mix"].trainable == 25  # weighted over 24 layers + embeddings
    assert rows["lora"].trainable == 24 * 2 * 16 * (2048 + 2048)
    for name in ("mini.yaml", "mini_t5.yaml"):
        cfg = load_config(ModelConfig, CONF / name, ["encoder.name_or_path=null",
                                                     "llm.name_or_path=null",
                                                     "llm.config.vocab_size=500"])
        rows = {r.name: r for r in summarize(cfg)}
        assert 1.9e6 < rows["encoder"].total < 2.2e6  # the calibrated 2M Conformer
        assert rows["lora"].trainable > 0 and rows["llm"].trainable == 0
