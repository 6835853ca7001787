"""Tiny models and task cuts for tests: built from configs, saved with ``save_pretrained``, loaded
back through the real ``from_pretrained`` path. Everything runs offline on CPU in seconds.

Usage::

    from svtk.testing.models import tiny_task_cuts, tiny_model_config
    cuts = tiny_task_cuts(tmp_path / "audio")
    cfg = tiny_model_config(tmp_path, encoder="native", llm="llama")
    model = SpeechLM.from_config(cfg)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from svtk.models.config import (
    DownsamplerConfig,
    EncoderConfig,
    LLMConfig,
    LoRAConfig,
    ModelConfig,
    NativeEncoderConfig,
    TokenizerConfig,
)

SAMPLE_RATE = 16000
TEXTS = [
    "transcribe the audio", "what is the intent of the speaker", "set an alarm for seven am",
    "play some jazz music", "what is the weather like today", "turn off the kitchen lights",
    "ASR: set an alarm | IC: alarm_set |", "intent: alarm_set; time: seven am",
    "yes", "no", "the quick brown fox jumps over the lazy dog",
    "list the keywords in this recording", "is the word alarm spoken",
] * 4

# (id, task, prompt, target, seconds, recording id) - recordings are shared across tasks.
TASKS = [
    ("r1-asr", "asr", "transcribe the audio", "set an alarm for seven am", 1.3, "r1"),
    ("r1-ic", "ic", "what is the intent of the speaker", "alarm_set", 1.3, "r1"),
    ("r2-asr", "asr", "transcribe the audio", "play some jazz music", 0.7, "r2"),
    ("r3-kws", "kws", "is the word alarm spoken", "no", 2.1, "r3"),
    ("r4-asr", "asr", "transcribe the audio", "what is the weather like today", 0.45, "r4"),
]


def tiny_tokenizer(out_dir: str | Path, vocab_size: int = 64):
    from svtk.models.tokenizer import train_sentencepiece

    return train_sentencepiece(TEXTS, out_dir, vocab_size=vocab_size)


def tiny_t5(out_dir: str | Path, vocab_size: int = 64) -> Path:
    """A 2+2-layer T5 (d_model 32) with a sentencepiece tokenizer in the same directory."""
    from transformers import T5Config, T5ForConditionalGeneration

    out = Path(out_dir)
    tok = tiny_tokenizer(out, vocab_size)
    cfg = T5Config(vocab_size=tok.vocab_size, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2,
                   num_decoder_layers=2, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                   pad_token_id=tok.pad_id, eos_token_id=tok.eos_id, decoder_start_token_id=tok.pad_id,
                   dropout_rate=0.0)
    T5ForConditionalGeneration(cfg).save_pretrained(out)
    return out


def tiny_llama(out_dir: str | Path, vocab_size: int = 64) -> Path:
    """A 2-layer Llama (hidden 32, GQA 4/2 heads) with a sentencepiece tokenizer beside it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(out_dir)
    tok = tiny_tokenizer(out, vocab_size)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, bos_token_id=tok.bos_id, eos_token_id=tok.eos_id,
                      pad_token_id=tok.pad_id, tie_word_embeddings=True)
    LlamaForCausalLM(cfg).save_pretrained(out)
    return out


def _ssl_kwargs() -> dict:
    return dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                conv_dim=[16, 16, 16], conv_stride=[5, 4, 4], conv_kernel=[10, 8, 4],
                num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                feat_proj_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0, vocab_size=8)


def tiny_ssl(kind: str, out_dir: str | Path) -> Path:
    """A tiny wavlm / hubert / wav2vec2 (CNN 80x = 200 Hz, 2 transformer layers), saved."""
    import transformers
    from transformers import Wav2Vec2FeatureExtractor

    out = Path(out_dir)
    name = {"wavlm": "WavLM", "hubert": "Hubert", "wav2vec2": "Wav2Vec2"}[kind]
    kwargs = _ssl_kwargs()
    if kind == "wavlm":
        kwargs.update(num_buckets=16, max_bucket_distance=32, feat_extract_norm="layer",
                      do_stable_layer_norm=True)
    elif kind == "wav2vec2":
        kwargs.update(feat_extract_norm="layer", do_stable_layer_norm=True)
    config = getattr(transformers, f"{name}Config")(**kwargs)
    getattr(transformers, f"{name}Model")(config).save_pretrained(out)
    Wav2Vec2FeatureExtractor(do_normalize=kind != "hubert", return_attention_mask=kind != "hubert"
                             ).save_pretrained(out)
    return out


def tiny_whisper(out_dir: str | Path, max_source_positions: int = 150) -> Path:
    """A tiny Whisper (2 encoder layers, d_model 32); 'full length' = 2*max_source_positions mel
    frames = 3 s instead of 30 s."""
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    out = Path(out_dir)
    cfg = WhisperConfig(vocab_size=64, num_mel_bins=80, d_model=32, encoder_layers=2,
                        encoder_attention_heads=2, decoder_layers=1, decoder_attention_heads=2,
                        encoder_ffn_dim=64, decoder_ffn_dim=64, max_source_positions=max_source_positions,
                        max_target_positions=32, dropout=0.0, pad_token_id=0, bos_token_id=1,
                        eos_token_id=2, decoder_start_token_id=1)
    WhisperModel(cfg).save_pretrained(out)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(out)
    return out


def tiny_native_config(vocab_size: int = 0, **overrides: Any) -> NativeEncoderConfig:
    return NativeEncoderConfig(**{**dict(d_model=32, num_layers=2, num_heads=2, ff_mult=2,
                                         conv_kernel=7, dropout=0.0, vocab_size=vocab_size),
                                  **overrides})


def tiny_native(out_dir: str | Path, vocab_size: int = 0, seed: int = 0) -> Path:
    import torch

    from svtk.models.native import NativeEncoder

    torch.manual_seed(seed)
    NativeEncoder(tiny_native_config(vocab_size)).save_pretrained(out_dir)
    return Path(out_dir)


ENCODER_BUILDERS = {
    "native": tiny_native,
    "wavlm": lambda d: tiny_ssl("wavlm", d),
    "hubert": lambda d: tiny_ssl("hubert", d),
    "wav2vec2": lambda d: tiny_ssl("wav2vec2", d),
    "whisper": tiny_whisper,
}
LLM_BUILDERS = {"t5": (tiny_t5, "encoder-decoder"), "llama": (tiny_llama, "decoder-only")}


def tiny_model_config(root: str | Path, encoder: str = "native", llm: str = "t5",
                      layer: int | str = "last", lora: bool = True) -> ModelConfig:
    """A ModelConfig whose encoder and LLM dirs are tiny saved models under ``root`` (reused)."""
    root = Path(root)
    enc_dir, llm_dir = root / f"enc-{encoder}", root / f"llm-{llm}"
    if not enc_dir.exists():
        ENCODER_BUILDERS[encoder](enc_dir)
    builder, kind = LLM_BUILDERS[llm]
    if not llm_dir.exists():
        builder(llm_dir)
    return ModelConfig(
        encoder=EncoderConfig(kind=encoder, name_or_path=str(enc_dir), layer=layer),
        downsampler=DownsamplerConfig(strides=[2, 2]),
        llm=LLMConfig(kind=kind, name_or_path=str(llm_dir)),
        lora=LoRAConfig(enabled=lora, r=4, alpha=8, dropout=0.0),
        tokenizer=TokenizerConfig(),
    )


def synth_wav(path: str | Path, seconds: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> Path:
    """A deterministic 'speech-like' signal: a few chirping harmonics plus noise, 16-bit wav."""
    import soundfile as sf

    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 40 * rng.random() + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(np.sin(k * phase) / k for k in range(1, 5)) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
    x = 0.2 * x / np.abs(x).max() + 0.01 * rng.standard_normal(len(t))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), sample_rate, subtype="PCM_16")
    return path


def tiny_task_cuts(audio_dir: str | Path, tasks=TASKS):
    """Task cuts per the svtk contract (custom task/prompt/target), several sharing a recording."""
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

    audio_dir = Path(audio_dir)
    recs: dict[str, Recording] = {}
    cuts = []
    for i, (cid, task, prompt, target, secs, rid) in enumerate(tasks):
        if rid not in recs:
            wav = synth_wav(audio_dir / f"{rid}.wav", secs, seed=i)
            recs[rid] = Recording.from_file(wav, recording_id=rid)
        rec = recs[rid]
        sup = SupervisionSegment(id=cid, recording_id=rid, start=0.0, duration=rec.duration,
                                 text=target if task == "asr" else "set an alarm")
        cuts.append(MonoCut(id=cid, start=0.0, duration=rec.duration, channel=0, recording=rec,
                            supervisions=[sup],
                            custom={"task": task, "prompt": prompt, "target": target}))
    return CutSet.from_cuts(cuts)
