"""The svtk-native speech encoder: Conformer over 80-dim kaldi fbank, Conv1d subsampling, CTC head.

Small enough to pre-train with CTC on a CPU in minutes (d_model 144, 4 layers ~ 2M parameters),
then frozen as a SpeechLM encoder exactly as SpeechVerse freezes WavLM. Every step is exact under
padding: fbank uses ``snip_edges=True`` (a frame never reads past its utterance), normalisation
is per utterance over valid frames, and padded frames are zeroed before each convolution, so an
utterance gives the same hidden states alone or in a padded batch. Optional SpecAugment masks
the normalised fbank in training mode only.

:meth:`NativeEncoder.forward_fbank` takes the fbank stored by ``svtk data fbank`` instead of audio
(the same frames, so the same result), which pre-training reads to skip the FFTs at every step.

Reads/writes a directory with ``config.json`` (:class:`NativeEncoderConfig` fields plus
``"svtk_encoder": "native"``) and ``model.safetensors``.

Usage::

    enc = NativeEncoder(NativeEncoderConfig(vocab_size=32))
    out = enc(audio, audio_lens)            # hidden_states: L+1 tensors (B, T, D), lengths (B,)
    loss = enc.ctc_loss(out.hidden_states[-1], out.lengths, targets, target_lens)
    enc.save_pretrained("exp/encoder"); enc = NativeEncoder.from_pretrained("exp/encoder")
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from svtk.models.config import NativeEncoderConfig
from svtk.models.encoders import EncoderOutput, SpeechEncoder, lengths_to_mask

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FBANK_SHIFT = 160  # samples at 16 kHz (10 ms)
FBANK_WINDOW = 400  # samples at 16 kHz (25 ms)


def fbank_frames(num_samples: torch.Tensor, sample_rate: int = 16000) -> torch.Tensor:
    """Frames of kaldi fbank with snip_edges=True: 1 + (S - window) // shift (0 if too short)."""
    shift, window = sample_rate // 100, sample_rate * 25 // 1000
    return torch.clamp((num_samples - window) // shift + 1, min=0)


def conv_out_len(lengths: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Output length of a Conv1d: floor((L + 2p - k) / s) + 1."""
    return torch.div(lengths + 2 * padding - kernel, stride, rounding_mode="floor") + 1


def subsampling_kernel(stride: int) -> int:
    """Kernel of a subsampling Conv1d: the smallest odd one, at least 3, that covers its stride,
    so that no input frame goes unread (a kernel 3 at stride 4 skips one frame in 4)."""
    return max(3, stride + 1 - stride % 2)


def log_mel(sample_rate: int = 16000, num_mel_bins: int = 80) -> nn.Module:
    """The encoder's frozen filterbank: kaldi log-mel, 25 ms / 10 ms, snip_edges, no dither
    (also what ``svtk data fbank`` stores)."""
    from lhotse.features.kaldi.layers import Wav2LogFilterBank

    with warnings.catch_warnings():  # lhotse warns about snip_edges; we want exact frames
        warnings.simplefilter("ignore", UserWarning)
        fbank = Wav2LogFilterBank(sampling_rate=sample_rate, num_filters=num_mel_bins,
                                  snip_edges=True, dither=0.0)
    for p in fbank.parameters():
        p.requires_grad_(False)
    return fbank


class _FeedForward(nn.Module):
    def __init__(self, d: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.LayerNorm(d), nn.Linear(d, d * mult), nn.SiLU(), nn.Dropout(dropout),
            nn.Linear(d * mult, d), nn.Dropout(dropout),
        )

    def forward(self, x):
        return self.net(x)


def attention_mask(key_mask: torch.Tensor, window: int = 0) -> torch.Tensor:
    """Which keys each query may attend: (B, 1, 1, T) valid keys, or with ``window > 0``
    (B, 1, T, T) valid keys at most ``window`` frames away, and always the query's own frame
    (so that a padded query far from every valid frame still has a key: no NaN rows)."""
    if window <= 0:
        return key_mask[:, None, None, :]
    t = key_mask.shape[1]
    pos = torch.arange(t, device=key_mask.device)
    dist = (pos[:, None] - pos[None, :]).abs()
    band = dist <= window
    return (key_mask[:, None, None, :] & band) | (dist == 0)


class _SelfAttention(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.heads = heads
        self.dropout = dropout

    def forward(self, x, attn_mask):  # x (B, T, D), attn_mask from attention_mask()
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.heads, d // self.heads).unbind(2)
        q, k, v = (z.transpose(1, 2) for z in (q, k, v))  # (B, H, T, Dh)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, dropout_p=self.dropout if self.training else 0.0,
        )
        return F.dropout(self.out(y.transpose(1, 2).reshape(b, t, d)), self.dropout, self.training)


class _DepthwiseConv(torch.autograd.Function):
    """Depthwise Conv1d ("same" padding, odd kernel) on the (B, T, C) layout, for CPU training.

    oneDNN's depthwise Conv1d wants (B, C, T): every call copied both transposes, and its weight
    gradient at these sizes (B 12, T 42, C 144, k 15: one CTC step) took 2.4 ms, 3x what K
    shifted multiply-sums take. Forward and input gradient are grouped conv2d on the channels-last
    view of (B, T, C), which is that tensor's own memory (no copy): forward 2.5 -> 0.2 ms.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):  # x (B, T, C), weight (C, 1, K), bias (C,)
        ctx.save_for_backward(x, weight)
        return _depthwise(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):  # grad (B, T, C)
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        k = weight.shape[-1]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:  # correlation's adjoint: the same conv with the kernel flipped
            gx = _depthwise(grad, weight.flip(-1), None)
        if ctx.needs_input_grad[1]:  # gw[c, j] = sum_{b,t} grad[b, t, c] * x_pad[b, t + j, c]
            xp = F.pad(x, (0, 0, k // 2, k // 2))
            t = x.shape[1]
            gw = torch.stack([(xp[:, j:j + t] * grad).sum((0, 1)) for j in range(k)], 1)[:, None]
        if ctx.needs_input_grad[2]:
            gb = grad.sum((0, 1))
        return gx, gw, gb


def _depthwise(x, weight, bias):  # (B, T, C) -> (B, T, C)
    c, k = weight.shape[0], weight.shape[-1]
    y = F.conv2d(x.transpose(1, 2).unsqueeze(2), weight.unsqueeze(2), bias, padding=(0, k // 2),
                 groups=c)  # (B, C, 1, T), channels-last: the memory of (B, T, C)
    return y.squeeze(2).transpose(1, 2)


def depthwise_conv(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """``conv`` (depthwise, odd kernel, padding k // 2) over x (B, T, C) -> (B, T, C)."""
    if x.device.type != "cpu":  # cuDNN takes (B, C, T) as it is
        return conv(x.transpose(1, 2)).transpose(1, 2)
    return _DepthwiseConv.apply(x.contiguous(), conv.weight, conv.bias)


class _ConvModule(nn.Module):
    """Pointwise-GLU, depthwise conv, LayerNorm (not BatchNorm: padding-invariant), SiLU, pointwise."""

    def __init__(self, d: int, kernel: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.pw1 = nn.Linear(d, 2 * d)
        self.dw = nn.Conv1d(d, d, kernel, padding=kernel // 2, groups=d)
        self.dw_norm = nn.LayerNorm(d)
        self.pw2 = nn.Linear(d, d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, mask):  # (B, T, D), (B, T)
        y = F.glu(self.pw1(self.norm(x)), dim=-1)
        y = y.masked_fill(~mask[..., None], 0.0)
        y = depthwise_conv(y, self.dw)
        y = self.pw2(F.silu(self.dw_norm(y)))
        return self.dropout(y)


class _Block(nn.Module):
    def __init__(self, cfg: NativeEncoderConfig):
        super().__init__()
        d = cfg.d_model
        self.ff1 = _FeedForward(d, cfg.ff_mult, cfg.dropout)
        self.attn = _SelfAttention(d, cfg.num_heads, cfg.dropout)
        self.conv = _ConvModule(d, cfg.conv_kernel, cfg.dropout) if cfg.block == "conformer" else None
        self.ff2 = _FeedForward(d, cfg.ff_mult, cfg.dropout) if cfg.block == "conformer" else None
        self.norm = nn.LayerNorm(d)

    def forward(self, x, mask, attn_mask):  # mask (B, T) valid frames
        if self.ff2 is not None:  # conformer: macaron half-step feed-forwards
            x = x + 0.5 * self.ff1(x)
            x = x + self.attn(x, attn_mask)
            x = x + self.conv(x, mask)
            x = x + 0.5 * self.ff2(x)
        else:  # pre-norm transformer
            x = x + self.attn(x, attn_mask)
            x = x + self.ff1(x)
        return self.norm(x)


def _sinusoids(length: int, d: int) -> torch.Tensor:
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    inv = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(length, d)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv)
    return pe


class NativeEncoder(SpeechEncoder):
    """Conformer encoder over kaldi fbank with Conv1d subsampling and an optional CTC head."""

    def __init__(self, config: NativeEncoderConfig):
        super().__init__()
        self.config = config
        self.fbank = log_mel(config.sample_rate, config.num_mel_bins)
        d = config.d_model
        chans = [config.num_mel_bins] + [d] * len(config.subsampling)
        self.subsample = nn.ModuleList(
            nn.Conv1d(chans[i], chans[i + 1], k, stride=s, padding=k // 2)
            for i, (s, k) in enumerate((s, subsampling_kernel(s)) for s in config.subsampling)
        )
        self.in_norm = nn.LayerNorm(d)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.num_layers))
        self.ctc_head = nn.Linear(d, config.vocab_size) if config.vocab_size > 0 else None

    # -- geometry ------------------------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.config.d_model

    @property
    def num_hidden_states(self) -> int:
        return self.config.num_layers + 1

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def frame_rate(self) -> float:
        """Output frames per second (100 Hz fbank / prod(subsampling))."""
        return 100.0 / math.prod(self.config.subsampling)

    def output_lengths(self, num_samples: torch.Tensor) -> torch.Tensor:
        lens = fbank_frames(num_samples, self.config.sample_rate)
        for conv in self.subsample:
            lens = conv_out_len(lens, conv.kernel_size[0], conv.stride[0], conv.padding[0])
        return lens

    # -- forward -------------------------------------------------------------------------------
    def features(self, audio: torch.Tensor, audio_lens: torch.Tensor):
        """Utterance-normalised log-mel fbank: (B, F, 80), frame lengths (B,)."""
        with torch.no_grad():
            feats = self.fbank(audio.float())  # (B, F, 80)
        lens = fbank_frames(audio_lens, self.config.sample_rate).to(feats.device)
        return self.normalise(feats, lens)

    def normalise(self, feats: torch.Tensor, lens: torch.Tensor):
        """Raw fbank (B, F, 80) of ``lens`` (B,) frames -> per-utterance mean and variance
        normalised over the valid frames, zero on padding: (B, F', 80), lens."""
        feats = feats[:, : int(lens.max())] if feats.shape[1] else feats
        mask = lengths_to_mask(lens, feats.shape[1])[..., None]  # (B, F, 1)
        n = lens.clamp(min=1)[:, None, None].to(feats.dtype)
        mean = (feats * mask).sum(1, keepdim=True) / n
        var = (((feats - mean) * mask) ** 2).sum(1, keepdim=True) / n
        feats = ((feats - mean) / torch.sqrt(var + 1e-5)).masked_fill(~mask, 0.0)
        return feats, lens

    def spec_augment(self, feats: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """Frequency and time masks on normalised fbank ``feats (B, F, M)`` (training only)."""
        cfg = self.config
        b, frames, bins = feats.shape
        keep = torch.ones(b, frames, bins, dtype=torch.bool, device=feats.device)
        if cfg.freq_masks > 0 and cfg.freq_width > 0:
            width = torch.randint(0, cfg.freq_width + 1, (b, cfg.freq_masks), device=feats.device)
            start = (torch.rand(b, cfg.freq_masks, device=feats.device) * (bins - width + 1)).long()
            f = torch.arange(bins, device=feats.device)[None, None, :]  # (1, 1, M)
            band = (f >= start[..., None]) & (f < (start + width)[..., None])  # (B, n, M)
            keep &= ~band.any(1)[:, None, :]
        if cfg.time_masks > 0 and cfg.time_width > 0:
            most = (lens.to(feats.device).float() * cfg.time_width).long()  # (B,)
            width = (torch.rand(b, cfg.time_masks, device=feats.device) * (most[:, None] + 1)).long()
            room = (lens.to(feats.device)[:, None] - width + 1).clamp(min=1)
            start = (torch.rand(b, cfg.time_masks, device=feats.device) * room).long()
            t = torch.arange(frames, device=feats.device)[None, None, :]  # (1, 1, F)
            span = (t >= start[..., None]) & (t < (start + width)[..., None])  # (B, n, F)
            keep &= ~span.any(1)[:, :, None]
        return feats * keep

    def forward(self, audio: torch.Tensor, audio_lens: torch.Tensor) -> EncoderOutput:
        """audio (B, S) float at ``sample_rate``, audio_lens (B,) samples."""
        return self.encode(*self.features(audio, audio_lens))

    def forward_fbank(self, feats: torch.Tensor, frame_lens: torch.Tensor) -> EncoderOutput:
        """The same from stored raw fbank (``svtk data fbank``): feats (B, F, 80) right-padded,
        frame_lens (B,) = :func:`fbank_frames` of the audio lengths."""
        return self.encode(*self.normalise(feats.float(), frame_lens.to(feats.device)))

    def encode(self, x: torch.Tensor, lens: torch.Tensor) -> EncoderOutput:
        """Normalised fbank (B, F, 80), frame lengths (B,) -> hidden states."""
        if self.training and (self.config.freq_masks > 0 or self.config.time_masks > 0):
            x = self.spec_augment(x, lens)
        x = x.transpose(1, 2)  # (B, 80, F)
        for conv in self.subsample:
            x = F.gelu(conv(x))
            lens = conv_out_len(lens, conv.kernel_size[0], conv.stride[0], conv.padding[0])
            x = x[..., : max(int(lens.max()), 0)]
            x = x.masked_fill(~lengths_to_mask(lens, x.shape[-1])[:, None, :], 0.0)
        x = x.transpose(1, 2)  # (B, T, D)
        mask = lengths_to_mask(lens, x.shape[1])  # (B, T)
        x = self.in_norm(x) + _sinusoids(x.shape[1], x.shape[2]).to(x)
        attn_mask = attention_mask(mask, self.config.attention_window)
        states = [x]
        for block in self.blocks:
            x = block(x, mask, attn_mask)
            states.append(x)
        return EncoderOutput(hidden_states=states, lengths=lens)

    # -- CTC -----------------------------------------------------------------------------------
    def ctc_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.ctc_head is None:
            raise ValueError("this NativeEncoder has no CTC head (vocab_size=0)")
        return self.ctc_head(hidden)  # (B, T, V)

    def ctc_loss(self, hidden: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor,
                 target_lens: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        """CTC of the head over ``hidden`` (B, T, D) against padded ``targets`` (B, U).

        reduction: "mean" = summed loss / total target tokens; "sum"; "none" = per item (B,).
        """
        logp = self.ctc_logits(hidden).log_softmax(-1).transpose(0, 1)  # (T, B, V)
        per_item = F.ctc_loss(logp.float(), targets, lengths, target_lens, blank=self.config.blank_id,
                              reduction="none", zero_infinity=True)
        if reduction == "none":
            return per_item
        if reduction == "sum":
            return per_item.sum()
        return per_item.sum() / target_lens.sum().clamp(min=1)

    def ctc_greedy(self, hidden: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
        """Best path: argmax per frame, merge repeats, drop blanks."""
        best = self.ctc_logits(hidden).argmax(-1)  # (B, T)
        out = []
        for row, n in zip(best.tolist(), lengths.tolist(), strict=False):
            ids, prev = [], None
            for t in row[:n]:
                if t != prev and t != self.config.blank_id:
                    ids.append(t)
                prev = t
            out.append(ids)
        return out

    # -- persistence ---------------------------------------------------------------------------
    def save_pretrained(self, out_dir: str | Path) -> None:
        from safetensors.torch import save_file

        from svtk.stage import atomic_path, atomic_write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / CONFIG_NAME, {"svtk_encoder": "native", **dataclasses.asdict(self.config)})
        state = {k: v.detach().contiguous().cpu() for k, v in self.state_dict().items()
                 if not k.startswith("fbank.")}
        with atomic_path(out / WEIGHTS_NAME) as tmp:
            save_file(state, str(tmp))

    @staticmethod
    def read_config(path: str | Path) -> NativeEncoderConfig:
        data = json.loads((Path(path) / CONFIG_NAME).read_text())
        data.pop("svtk_encoder", None)
        return NativeEncoderConfig(**data)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> NativeEncoder:
        from safetensors.torch import load_file

        path = Path(path)
        if not (path / CONFIG_NAME).is_file():
            from svtk.errors import UserError

            raise UserError(f"{path}: not a native encoder directory (no {CONFIG_NAME})")
        model = cls(cls.read_config(path))
        missing, unexpected = model.load_state_dict(load_file(str(path / WEIGHTS_NAME)), strict=False)
        missing = [k for k in missing if not k.startswith("fbank.")]
        if missing or unexpected:
            raise RuntimeError(f"{path}: weights do not match the config: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]}")
        return model
