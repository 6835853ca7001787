"""Typed configuration of a SpeechLM: encoder, layer selection, downsampler, LLM, LoRA, tokenizer.

Pure dataclasses (no torch import), read by :func:`svtk.config.load_config`. Architecture
hyper-parameters can be given inline (``config:``) so a model is built from configs alone
(``svtk model summary`` on the meta device, or a model trained from scratch); otherwise
``name_or_path`` names a hub id or a local directory loaded with ``from_pretrained``.

Usage::

    from svtk.config import load_config
    cfg = load_config(ModelConfig, "conf/model/speechverse_paper.yaml")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ENCODER_KINDS = ("wavlm", "hubert", "wav2vec2", "whisper", "native")
LLM_KINDS = ("encoder-decoder", "decoder-only")


@dataclass
class EncoderConfig:
    # Registry name of the wrapper (svtk.models.encoders.ENCODERS).
    kind: str = "wavlm"
    # Hub id or local directory with config.json + weights; None with `config` = random init.
    name_or_path: str | None = None
    # Inline architecture (HF config kwargs, or NativeEncoderConfig fields for kind=native);
    # used when building without weights (meta device summaries, from-scratch models).
    config: dict[str, Any] | None = None
    # Which hidden state feeds the downsampler: "last", a layer index (0 = embeddings), or
    # "weighted" = learnable AE(x) = (1/L) sum_l w_l h_l over all layers (paper section 3.1).
    layer: int | str = "last"
    # Zero-mean/unit-variance per utterance before the encoder (WavLM-Large/wav2vec2-large do);
    # None = read do_normalize from the directory's preprocessor_config.json (default True).
    normalize: bool | None = None
    # Input sample rate the encoder was trained on.
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if self.kind not in ENCODER_KINDS:
            raise ValueError(f"encoder.kind must be one of {', '.join(ENCODER_KINDS)}, got {self.kind!r}")
        if isinstance(self.layer, str) and self.layer not in ("last", "weighted"):
            raise ValueError(f"encoder.layer must be 'last', 'weighted' or an int, got {self.layer!r}")
        if self.name_or_path is None and self.config is None:
            raise ValueError("encoder needs name_or_path (weights) or config (architecture)")


@dataclass
class DownsamplerConfig:
    # One Conv1d(kernel, stride) -> LayerNorm block per stride; paper: [2, 2] = 4x (50 -> 12.5 Hz).
    strides: list[int] = field(default_factory=lambda: [2, 2])
    # Conv kernel width (paper: 3); padding is kernel // 2.
    kernel: int = 3
    # Channels of the inner blocks; None = the LLM hidden size (paper: 1024 -> 2048 -> 2048).
    channels: int | None = None
    # Nonlinearity after each LayerNorm except the last ("none" keeps the paper's linear blocks).
    activation: Literal["gelu", "none"] = "gelu"


@dataclass
class LLMConfig:
    # encoder-decoder (T5 family: audio+prompt into the encoder) or decoder-only (Llama/Qwen/
    # SmolLM family: audio+prompt as a prefix, loss on the target only).
    kind: Literal["encoder-decoder", "decoder-only"] = "encoder-decoder"
    # Hub id or local directory; None with `config` = random init (summaries, from-scratch).
    name_or_path: str | None = None
    # Inline HF config kwargs including model_type (e.g. {model_type: t5, d_model: 2048, ...}).
    config: dict[str, Any] | None = None
    # Keep the base LLM frozen (paper); LoRA adapters are the only trainable LLM weights.
    freeze: bool = True
    # decoder-only training: the batch becomes ONE sequence, no padding, attention causal within
    # each item (svtk.models.llm.segment_attention, for sdpa LLMs; others get a dense
    # block-diagonal mask when it costs less than padding). The same loss (to float rounding).
    # For CPU and small batches: egs/mini's text LM (prompts of very different lengths)
    # forward+backward 190 -> 89 ms with the dense mask, phase 2b steps 540 -> 401 ms with
    # segments instead of it (1 thread).
    packed: bool = False

    def __post_init__(self) -> None:
        if self.name_or_path is None and self.config is None:
            raise ValueError("llm needs name_or_path (weights) or config (architecture)")


@dataclass
class LoRAConfig:
    # Off = no adapters (phase 1 of the curriculum trains only the downsampler anyway).
    enabled: bool = True
    # Rank: paper 16 multi-task, 8 single-task.
    r: int = 16
    # Scale = alpha / r.
    alpha: int = 32
    dropout: float = 0.05
    # Module names to adapt; None = peft's default for the model type (T5: q,v; Llama: q_proj,v_proj).
    target_modules: list[str] | None = None


@dataclass
class TokenizerConfig:
    # Directory loadable by AutoTokenizer; None = the LLM's own directory (name_or_path).
    name_or_path: str | None = None
    # Longest target kept in training (tokens, before eos); longer targets are truncated.
    max_target_tokens: int = 256


@dataclass
class ModelConfig:
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(config={}))
    downsampler: DownsamplerConfig = field(default_factory=DownsamplerConfig)
    llm: LLMConfig = field(default_factory=lambda: LLMConfig(config={"model_type": "t5"}))
    lora: LoRAConfig = field(default_factory=LoRAConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)


@dataclass
class NativeEncoderConfig:
    """The svtk-native Conformer encoder over 80-dim kaldi fbank (saved as its config.json)."""

    # Filterbank channels (kaldi-compatible log-mel, 25 ms / 10 ms).
    num_mel_bins: int = 80
    sample_rate: int = 16000
    # Model width; 144 with 4 layers is ~2M parameters (the mini recipe's calibration).
    d_model: int = 144
    num_layers: int = 4
    num_heads: int = 4
    ff_mult: int = 4
    # Depthwise conv kernel of the conformer convolution module (odd: "same" padding).
    conv_kernel: int = 15
    dropout: float = 0.1
    # Conv1d subsampling: each stride-2 layer halves the 100 Hz fbank rate (2 layers = 25 Hz).
    # Each layer's kernel covers its stride (3 up to stride 3, 5 at stride 4).
    subsampling: list[int] = field(default_factory=lambda: [2, 2])
    # CTC output units (blank included); 0 = no CTC head.
    vocab_size: int = 0
    blank_id: int = 0
    # "conformer" (conv module in every block) or "transformer" (no conv module).
    block: Literal["conformer", "transformer"] = "conformer"
    # SpecAugment (Park et al. 2019) in training mode only, on the utterance-normalised fbank:
    # `freq_masks` bands of 0..`freq_width` mel bins and `time_masks` spans of 0..`time_width`
    # (a fraction of the utterance's frames, ESPnet's adaptive width) set to 0, the normalised
    # mean. 0 masks: off. The frozen encoder of a SpeechLM is in eval mode: never masked.
    freq_masks: int = 0
    freq_width: int = 27
    time_masks: int = 0
    time_width: float = 0.05
    # Self-attention over at most this many frames on each side of a frame (0: the whole
    # utterance): local context only, so the encoder cannot learn whole sentences by heart.
    attention_window: int = 0

    def __post_init__(self) -> None:
        if self.conv_kernel % 2 != 1:
            raise ValueError(f"conv_kernel must be odd (same-length depthwise conv), got {self.conv_kernel}")
