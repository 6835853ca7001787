"""The trainable audio adapter: layer selection / learnable layer mix, and the conv downsampler.

LayerMix turns an encoder's hidden states into one feature sequence: the last layer, a chosen
layer, or ``AE(x) = (1/L) * sum_l w_l * h_l`` with learnable scalars ``w_l`` (SpeechVerse 3.1).
Its :meth:`LayerMix.select` is what the latent cache stores (one layer, or all layers when the
mix is learnable), its ``forward`` maps that to ``(B, T, D_enc)``.

Downsampler: blocks of Conv1d(kernel k, stride s_i, padding k//2) -> LayerNorm (-> GELU between
blocks), output channels = LLM hidden size. Padded frames are zeroed before every convolution, so
an item's output does not depend on what it is batched with. Output length per block:
``floor((L + 2*(k//2) - k) / s) + 1`` (:meth:`Downsampler.output_lengths`).

Usage::

    feats = mix(mix.select(enc_out.hidden_states))     # (B, T, D_enc)
    tokens, lens = down(feats, enc_out.lengths)        # (B, T', D_llm), (B,)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from svtk.models.encoders import lengths_to_mask


class LayerMix(nn.Module):
    """Pick or mix encoder layers. ``layer``: "last", an index (0 = embeddings) or "weighted"."""

    def __init__(self, num_states: int, layer: int | str = "last"):
        super().__init__()
        self.num_states = num_states
        self.layer = layer
        if isinstance(layer, int) and not -num_states <= layer < num_states:
            raise ValueError(f"encoder.layer={layer} but the encoder has {num_states} hidden states")
        self.weights = nn.Parameter(torch.ones(num_states)) if layer == "weighted" else None

    @property
    def stores_all_layers(self) -> bool:
        return self.layer == "weighted"

    def select(self, hidden_states: list[torch.Tensor]) -> torch.Tensor:
        """What the latent cache stores: (B, T, D) for one layer, (B, T, L, D) for the mix."""
        if self.layer == "last":
            return hidden_states[-1]
        if self.layer == "weighted":
            return torch.stack(hidden_states, dim=2)
        return hidden_states[self.layer]

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, D) passes through; (B, T, L, D) -> (1/L) sum_l w_l h_l  (B, T, D)."""
        if self.weights is None:
            return feats
        if feats.dim() != 4 or feats.shape[2] != self.num_states:
            raise ValueError(f"weighted layer mix expects (B, T, {self.num_states}, D), got "
                             f"{tuple(feats.shape)}")
        return torch.einsum("btld,l->btd", feats, self.weights.to(feats.dtype)) / self.num_states


class Downsampler(nn.Module):
    """Conv1d(k, s_i) -> LayerNorm blocks; in_dim -> channels ... -> out_dim."""

    def __init__(self, in_dim: int, out_dim: int, strides: list[int], kernel: int = 3,
                 channels: int | None = None, activation: str = "gelu"):
        super().__init__()
        if kernel % 2 != 1:
            raise ValueError(f"downsampler kernel must be odd, got {kernel}")
        channels = channels or out_dim
        dims = [in_dim] + [channels] * (len(strides) - 1) + [out_dim]
        self.kernel, self.strides, self.activation = kernel, list(strides), activation
        self.convs = nn.ModuleList(
            nn.Conv1d(dims[i], dims[i + 1], kernel, stride=s, padding=kernel // 2)
            for i, s in enumerate(strides)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(dims[i + 1]) for i in range(len(strides)))

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        p = self.kernel // 2
        for s in self.strides:
            lengths = torch.div(lengths + 2 * p - self.kernel, s, rounding_mode="floor") + 1
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        """x (B, T, D_in), lengths (B,) -> (B, T', D_out), lengths (B,)."""
        p = self.kernel // 2
        for i, (conv, norm, s) in enumerate(zip(self.convs, self.norms, self.strides, strict=False)):
            x = x.masked_fill(~lengths_to_mask(lengths, x.shape[1])[..., None], 0.0)
            x = conv(x.transpose(1, 2)).transpose(1, 2)  # (B, T_i, D)
            lengths = torch.div(lengths + 2 * p - self.kernel, s, rounding_mode="floor") + 1
            x = norm(x)
            if self.activation == "gelu" and i < len(self.convs) - 1:
                x = F.gelu(x)
        x = x.masked_fill(~lengths_to_mask(lengths, x.shape[1])[..., None], 0.0)
        return x, lengths
