"""Speech encoders behind one interface, chosen by a registry: WavLM, HuBERT, wav2vec2, Whisper, native.

Every encoder maps raw audio to per-layer hidden states::

    enc = build_encoder(EncoderConfig(kind="wavlm", name_or_path="microsoft/wavlm-large"))
    out = enc(audio, audio_lens)     # audio (B, S) at enc.sample_rate, audio_lens (B,) samples
    out.hidden_states                # L+1 tensors (B, T, D): embeddings, then each layer
    out.lengths                      # (B,) valid frames == enc.output_lengths(audio_lens)
    enc.frame_rate                   # frames per second (WavLM 50, Whisper 50, native 25)

HF encoders load with ``from_pretrained`` (hub id or local directory) or, with an inline
``config`` and no weights, are built from the config (on the meta device for summaries).
Whisper: transformers' encoder insists on 30 s of input; :class:`WhisperSpeechEncoder` runs the
same modules on the batch's own length (positional embeddings sliced, padded keys masked).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from svtk.errors import UserError
from svtk.models.config import EncoderConfig


@dataclass
class EncoderOutput:
    hidden_states: list[torch.Tensor]  # L+1 x (B, T, D)
    lengths: torch.Tensor  # (B,)


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """(B,) lengths -> (B, T) bool, True on valid positions."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


def normalize_audio(audio: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
    """Zero-mean unit-variance per utterance over valid samples (HF feature extractors' rule)."""
    mask = lengths_to_mask(lens, audio.shape[1]).to(audio.dtype)
    n = lens.clamp(min=1).to(audio.dtype)[:, None]
    mean = (audio * mask).sum(1, keepdim=True) / n
    var = (((audio - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return ((audio - mean) / torch.sqrt(var + 1e-7)) * mask


class SpeechEncoder(nn.Module):
    """Base: subclasses set sample_rate, frame_rate, hidden_size, num_hidden_states."""

    sample_rate: int = 16000

    def output_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def forward(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> EncoderOutput:  # pragma: no cover
        raise NotImplementedError


ENCODERS: dict[str, Callable[[EncoderConfig, bool], SpeechEncoder]] = {}


def register_encoder(*names: str):
    def deco(fn):
        for n in names:
            ENCODERS[n] = fn
        return fn
    return deco


def build_encoder(cfg: EncoderConfig, meta: bool = False) -> SpeechEncoder:
    """The encoder wrapper for ``cfg.kind``; ``meta=True`` builds from the config, no weights."""
    return ENCODERS[cfg.kind](cfg, meta)


def _read_do_normalize(path: str | None) -> bool | None:
    if path and (Path(path) / "preprocessor_config.json").is_file():
        data = json.loads((Path(path) / "preprocessor_config.json").read_text())
        return bool(data.get("do_normalize", True))
    return None


def _hf_config(cfg: EncoderConfig, config_cls):
    if cfg.config is not None and (cfg.name_or_path is None or not Path(cfg.name_or_path).exists()):
        return config_cls(**{k: v for k, v in cfg.config.items() if k != "model_type"})
    return config_cls.from_pretrained(cfg.name_or_path)


def _load_hf(cfg: EncoderConfig, model_cls, config_cls, meta: bool):
    """Weights from name_or_path when not meta and it is given, else random init from config."""
    if not meta and cfg.name_or_path is not None:
        try:
            return model_cls.from_pretrained(cfg.name_or_path, dtype=torch.float32)
        except OSError as e:
            raise UserError(f"encoder '{cfg.name_or_path}': cannot load ({e})") from e
    config = _hf_config(cfg, config_cls)
    if meta:
        with torch.device("meta"):
            return model_cls(config)
    return model_cls(config)


# ----------------------------------------------------------------------------------------------
# Self-supervised CNN + transformer encoders (WavLM, HuBERT, wav2vec2)
# ----------------------------------------------------------------------------------------------


class HFSSLEncoder(SpeechEncoder):
    """WavLM / HuBERT / wav2vec2: CNN feature encoder (320x, 50 Hz at 16 kHz) + transformer."""

    def __init__(self, model: nn.Module, normalize: bool, sample_rate: int):
        super().__init__()
        self.model = model
        self.normalize = normalize
        self.sample_rate = sample_rate
        c = model.config
        self.hidden_size = c.hidden_size
        self.num_hidden_states = c.num_hidden_layers + 1
        self.frame_rate = sample_rate / math.prod(c.conv_stride)
        # HF passes an attention mask only to models whose CNN uses layer norm; group-norm models
        # (base wav2vec2/HuBERT) take no mask, so ragged batches are encoded item by item.
        self.use_mask = getattr(c, "feat_extract_norm", "group") == "layer"

    def output_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:
        return self.model._get_feat_extract_output_lengths(num_samples).long()

    def forward(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> EncoderOutput:
        if not self.use_mask and bool((audio_lens != audio_lens.max()).any()):
            return self._forward_each(audio, audio_lens)
        if self.normalize:
            audio = normalize_audio(audio, audio_lens)
        else:
            audio = audio * lengths_to_mask(audio_lens, audio.shape[1]).to(audio.dtype)
        mask = lengths_to_mask(audio_lens, audio.shape[1]).long() if self.use_mask else None
        out = self.model(audio, attention_mask=mask, output_hidden_states=True)
        lens = self.output_lengths(audio_lens)
        states = list(out.hidden_states)
        states[-1] = out.last_hidden_state
        return EncoderOutput(hidden_states=states, lengths=lens)

    def _forward_each(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> EncoderOutput:
        """Group-norm CNNs normalise over the whole (padded) input and take no mask, so a
        ragged batch would change every item: encode items one by one (exact), then pad."""
        outs = [self(audio[i: i + 1, : int(n)], audio_lens[i: i + 1]) for i, n in enumerate(audio_lens)]
        lens = torch.cat([o.lengths for o in outs])
        t = int(lens.max())
        states = [
            torch.cat([nn.functional.pad(o.hidden_states[k], (0, 0, 0, t - o.hidden_states[k].shape[1]))
                       for o in outs])
            for k in range(len(outs[0].hidden_states))
        ]
        return EncoderOutput(hidden_states=states, lengths=lens)


def _ssl_builder(model_name: str, config_name: str):
    def build(cfg: EncoderConfig, meta: bool) -> SpeechEncoder:
        import transformers

        model = _load_hf(cfg, getattr(transformers, model_name), getattr(transformers, config_name), meta)
        normalize = cfg.normalize
        if normalize is None:
            normalize = _read_do_normalize(cfg.name_or_path)
        return HFSSLEncoder(model, True if normalize is None else normalize, cfg.sample_rate)
    return build


register_encoder("wavlm")(_ssl_builder("WavLMModel", "WavLMConfig"))
register_encoder("hubert")(_ssl_builder("HubertModel", "HubertConfig"))
register_encoder("wav2vec2")(_ssl_builder("Wav2Vec2Model", "Wav2Vec2Config"))


# ----------------------------------------------------------------------------------------------
# Whisper encoder on the batch's own length
# ----------------------------------------------------------------------------------------------


class WhisperSpeechEncoder(SpeechEncoder):
    """Whisper's encoder without the 30 s padding.

    Log-mel features come from the checkpoint's own WhisperFeatureExtractor (computed per
    utterance on its own samples, so the batch never changes them). The encoder modules run on
    the batch's length: positional embeddings are sliced to it and padded frames are masked out
    of self-attention. On a full 30 s input this is transformers' WhisperEncoder exactly (tested);
    on short clips the valid frames differ from the pad-to-30 s result because Whisper's
    pre-training always attended to padded silence: a known property of using Whisper without
    padding (cf. whisper.cpp's audio_ctx), which the frozen-encoder + trained downsampler absorbs.
    """

    def __init__(self, encoder: nn.Module, feature_extractor, sample_rate: int):
        super().__init__()
        self.encoder = encoder
        self.feature_extractor = feature_extractor
        self.sample_rate = sample_rate
        c = encoder.config
        self.hidden_size = c.d_model
        self.num_hidden_states = c.encoder_layers + 1
        self.hop = feature_extractor.hop_length
        self.frame_rate = sample_rate / self.hop / 2
        self.max_frames = c.max_source_positions

    def mel_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:
        return torch.div(num_samples, self.hop, rounding_mode="floor")

    def output_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:
        mel = self.mel_lengths(num_samples)
        return torch.div(mel - 1, 2, rounding_mode="floor") + 1

    def features(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, 2*T) log-mel, each utterance computed on its own samples, zero-padded."""
        mels = []
        for a, n in zip(audio, audio_lens.tolist(), strict=False):
            m = self.feature_extractor(a[:n].cpu().numpy(), sampling_rate=self.sample_rate,
                                       padding="longest", return_tensors="pt").input_features[0]
            mels.append(m[:, : n // self.hop])
        width = max(m.shape[1] for m in mels)
        width += width % 2
        out = audio.new_zeros(len(mels), mels[0].shape[0], width)
        for i, m in enumerate(mels):
            out[i, :, : m.shape[1]] = m.to(out)
        return out

    def encode_features(self, feats: torch.Tensor, lens: torch.Tensor | None) -> list[torch.Tensor]:
        """Run the encoder modules on mel ``feats`` (B, n_mels, F); ``lens`` in output frames."""
        enc = self.encoder
        x = nn.functional.gelu(enc.conv1(feats))
        x = nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)  # (B, T, D)
        t = x.shape[1]
        if t > self.max_frames:
            raise UserError(f"Whisper encoder takes at most {self.max_frames} frames "
                            f"({self.max_frames / self.frame_rate:.0f} s); got {t}. Segment the audio.")
        x = x + enc.embed_positions.weight[:t]
        mask = None
        if lens is not None and bool((lens < t).any()):
            valid = lengths_to_mask(lens, t)
            mask = torch.zeros(x.shape[0], 1, t, t, dtype=x.dtype, device=x.device)
            mask = mask.masked_fill(~valid[:, None, None, :], torch.finfo(x.dtype).min)
        states = [x]
        for layer in enc.layers:
            x = layer(x, mask)
            x = x[0] if isinstance(x, tuple) else x
            states.append(x)
        states[-1] = enc.layer_norm(x)
        return states

    def forward(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> EncoderOutput:
        feats = self.features(audio, audio_lens)
        lens = self.output_lengths(audio_lens).to(audio.device)
        return EncoderOutput(hidden_states=self.encode_features(feats, lens), lengths=lens)


@register_encoder("whisper")
def _build_whisper(cfg: EncoderConfig, meta: bool) -> SpeechEncoder:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    if not meta and cfg.name_or_path is not None:
        try:
            encoder = WhisperModel.from_pretrained(cfg.name_or_path, dtype=torch.float32).get_encoder()
        except OSError as e:
            raise UserError(f"encoder '{cfg.name_or_path}': cannot load ({e})") from e
    else:
        config = _hf_config(cfg, WhisperConfig)
        if meta:
            with torch.device("meta"):
                encoder = WhisperEncoder(config)
        else:
            encoder = WhisperEncoder(config)
    path = cfg.name_or_path
    local = bool(path) and (Path(path) / "preprocessor_config.json").is_file()
    hub = bool(path) and not Path(path).exists() and not meta
    if local or hub:
        fe = WhisperFeatureExtractor.from_pretrained(path)
    else:
        fe = WhisperFeatureExtractor(feature_size=encoder.config.num_mel_bins, sampling_rate=cfg.sample_rate)
    return WhisperSpeechEncoder(encoder, fe, cfg.sample_rate)


# ----------------------------------------------------------------------------------------------
# svtk-native Conformer
# ----------------------------------------------------------------------------------------------


@register_encoder("native")
def _build_native(cfg: EncoderConfig, meta: bool) -> SpeechEncoder:
    from svtk.models.config import NativeEncoderConfig
    from svtk.models.native import NativeEncoder

    if not meta and cfg.name_or_path is not None:
        return NativeEncoder.from_pretrained(cfg.name_or_path)
    if cfg.config is not None:
        ncfg = NativeEncoderConfig(**cfg.config)
    else:
        ncfg = NativeEncoder.read_config(cfg.name_or_path)
    return NativeEncoder(ncfg)  # small enough to build for real even when meta is asked for
