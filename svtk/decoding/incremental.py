"""Incremental decoders over a Hugging Face LLM fed by a prefix of embeddings, one per LLM kind.

Search (``svtk.decoding.search``) is written once against this small interface:

- ``start(embeds (B, T, D), mask (B, T)) -> (state, log_probs (B, V))``: run the prefix once
  (decoder-only: the LEFT-padded prefix through the model with a KV cache; encoder-decoder: the
  encoder on the prefix, then the decoder's start token);
- ``step(state, tokens (N,)) -> (state, log_probs (N, V))``: one token per row, using the cache;
- ``reorder(state, index (N',)) -> state``: select/repeat rows (beam expansion and reordering).

``DECODERS`` maps ``llm_kind`` ("decoder-only", "encoder-decoder") to the implementation;
``make_decoder(kind, hf_model)`` picks one. Log-probabilities are float32 whatever the model
dtype.

Usage::

    dec = make_decoder(model.llm_kind, model.llm.model)
    state, logp = dec.start(*model.prefix(batch))
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import torch


def vocab_size_of(hf_model) -> int:
    """Width of the model's logits (may exceed the tokenizer's size)."""
    out = hf_model.get_output_embeddings()
    if out is not None and getattr(out, "weight", None) is not None:
        return int(out.weight.shape[0])
    return int(hf_model.config.get_text_config().vocab_size)


def _names(hf_model) -> set[str]:
    """Explicit keyword names of the (PEFT-unwrapped) model's forward."""
    base = hf_model.get_base_model() if hasattr(hf_model, "get_base_model") else hf_model
    try:
        return set(inspect.signature(type(base).forward).parameters)
    except (TypeError, ValueError):
        return set()


def _cache_of(out) -> Any:
    """The KV cache of a model output (``cache`` since transformers 5.x, else ``past_key_values``)."""
    cache = out.get("cache") if hasattr(out, "get") else None
    return cache if cache is not None else out.past_key_values


class IncrementalDecoder:
    """Interface (see the module docstring)."""

    llm_kind: str = ""

    def __init__(self, hf_model):
        self.model = hf_model
        self.vocab_size = vocab_size_of(hf_model)
        names = _names(hf_model)
        # transformers renamed past_key_values -> cache; pass whichever this version takes
        self._cache_kw = "cache" if "cache" in names else "past_key_values"
        self._keep = {"logits_to_keep": 1} if "logits_to_keep" in names else {}

    def start(self, embeds: torch.Tensor, mask: torch.Tensor) -> tuple[Any, torch.Tensor]:
        raise NotImplementedError

    def step(self, state: Any, tokens: torch.Tensor) -> tuple[Any, torch.Tensor]:
        raise NotImplementedError

    def reorder(self, state: Any, index: torch.Tensor) -> Any:
        raise NotImplementedError


def _log_probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits[:, -1, :].float(), dim=-1)  # (N, V)


@dataclass
class _CausalState:
    cache: Any  # transformers Cache
    mask: torch.Tensor  # (N, T + t) long
    next_pos: torch.Tensor  # (N,) long, position id of the next token


class CausalLMDecoder(IncrementalDecoder):
    """Decoder-only LLMs (Llama, Qwen2, SmolLM, ...): prefix is LEFT-padded; position ids come
    from the mask, so padded rows decode exactly as they would alone."""

    llm_kind = "decoder-only"

    def start(self, embeds, mask):
        mask = mask.long()
        pos = (mask.cumsum(-1) - 1).clamp_(min=0)  # (B, T)
        out = self.model(inputs_embeds=embeds, attention_mask=mask, position_ids=pos,
                         use_cache=True, **self._keep)
        return _CausalState(_cache_of(out), mask, pos[:, -1] + 1), _log_probs(out.logits)

    def step(self, state, tokens):
        mask = torch.cat([state.mask, state.mask.new_ones(state.mask.shape[0], 1)], dim=1)
        out = self.model(input_ids=tokens[:, None], attention_mask=mask,
                         position_ids=state.next_pos[:, None], use_cache=True,
                         **{self._cache_kw: state.cache}, **self._keep)
        return _CausalState(_cache_of(out), mask, state.next_pos + 1), _log_probs(out.logits)

    def reorder(self, state, index):
        state.cache.reorder_cache(index)
        return _CausalState(state.cache, state.mask.index_select(0, index),
                            state.next_pos.index_select(0, index))


@dataclass
class _Seq2SeqState:
    encoder_out: Any  # BaseModelOutput with last_hidden_state (N, T, D)
    mask: torch.Tensor  # (N, T) encoder mask
    cache: Any  # transformers EncoderDecoderCache, None before the first step


class Seq2SeqDecoder(IncrementalDecoder):
    """Encoder-decoder LLMs (T5, Flan-T5): the prefix is the encoder input."""

    llm_kind = "encoder-decoder"

    def start(self, embeds, mask):
        mask = mask.long()
        enc = self.model.get_encoder()(inputs_embeds=embeds, attention_mask=mask, return_dict=True)
        start_id = self.model.config.decoder_start_token_id
        if start_id is None:
            start_id = self.model.config.pad_token_id
        tokens = torch.full((embeds.shape[0],), int(start_id), dtype=torch.long,
                            device=embeds.device)
        return self.step(_Seq2SeqState(enc, mask, None), tokens)

    def step(self, state, tokens):
        out = self.model(encoder_outputs=state.encoder_out, attention_mask=state.mask,
                         decoder_input_ids=tokens[:, None], use_cache=True,
                         **{self._cache_kw: state.cache})
        return _Seq2SeqState(state.encoder_out, state.mask, _cache_of(out)), _log_probs(out.logits)

    def reorder(self, state, index):
        from transformers.modeling_outputs import BaseModelOutput

        if state.cache is not None:
            state.cache.reorder_cache(index)
        enc = BaseModelOutput(last_hidden_state=state.encoder_out.last_hidden_state.index_select(0, index))
        return _Seq2SeqState(enc, state.mask.index_select(0, index), state.cache)


DECODERS: dict[str, type[IncrementalDecoder]] = {
    CausalLMDecoder.llm_kind: CausalLMDecoder,
    Seq2SeqDecoder.llm_kind: Seq2SeqDecoder,
}


def llm_kind_of(hf_model) -> str:
    return "encoder-decoder" if getattr(hf_model.config, "is_encoder_decoder", False) else "decoder-only"


def make_decoder(llm_kind: str | None, hf_model) -> IncrementalDecoder:
    """The incremental decoder for ``llm_kind`` (inferred from the model's config when None)."""
    kind = llm_kind or llm_kind_of(hf_model)
    try:
        return DECODERS[kind](hf_model)
    except KeyError:
        raise ValueError(f"no incremental decoder for llm_kind {kind!r} (known: {', '.join(DECODERS)})") from None
