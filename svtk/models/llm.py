"""LLM adapters for both kinds, chosen by a registry: encoder-decoder (T5) and decoder-only (Llama...).

An adapter holds the HF model as ``.model`` (peft-wrapped when LoRA is on), exposes token
embeddings through ``get_input_embeddings()``, and computes the per-item target loss from a
prefix of embeddings:

- encoder-decoder: the prefix (audio tokens then prompt embeddings) is the encoder input; the
  decoder is teacher-forced on the target (``decoder_start_token_id`` first).
- decoder-only: each item's sequence is ``[prefix, target]`` packed contiguously and right-padded,
  positions counted from 0 per item; the loss covers only target tokens (incl. eos). With
  ``packed`` (``LLMConfig.packed``) the batch is concatenated into one sequence, without padding,
  and attention runs causally within each item (:func:`segment_attention`, registered with
  transformers as ``svtk_segments``): the same loss, and attention costs sum(l_i^2) instead of
  the padded batch's B x max(l)^2. An LLM whose attention is not sdpa (flash, eager) keeps a
  block-diagonal causal mask (:func:`block_causal_mask`) over the packed sequence when that costs
  less than padding (:func:`packing_saves`).

Usage::

    llm = build_llm(cfg.llm, cfg.lora)
    loss_sum, ntok = llm.target_loss(prefix, prefix_lens, target_ids, target_lens)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from svtk.errors import UserError
from svtk.models.config import LLMConfig, LoRAConfig
from svtk.models.encoders import lengths_to_mask

log = logging.getLogger(__name__)

IGNORE = -100


def pack(segments: list[tuple[torch.Tensor, torch.Tensor]], side: str = "right"):
    """Concatenate per-item valid parts of ``segments`` [(x (B, T_i, D), lens (B,)), ...].

    Returns (out (B, T, D), mask (B, T) bool, starts (B, n_segments) offset of each segment).
    ``side="left"`` puts the padding first (for generation that appends at the right).
    """
    b = segments[0][0].shape[0]
    total = sum(lens for _, lens in segments)  # (B,)
    width = int(total.max()) if b else 0
    ref = segments[0][0]
    out = ref.new_zeros(b, width, ref.shape[-1])
    mask = torch.zeros(b, width, dtype=torch.bool, device=ref.device)
    starts = torch.zeros(b, len(segments), dtype=torch.long)
    for i in range(b):
        pos = width - int(total[i]) if side == "left" else 0
        for j, (x, lens) in enumerate(segments):
            n = int(lens[i])
            starts[i, j] = pos
            out[i, pos: pos + n] = x[i, :n]
            pos += n
        lo = width - int(total[i]) if side == "left" else 0
        mask[i, lo: lo + int(total[i])] = True
    return out, mask, starts


def position_ids_from_mask(mask: torch.Tensor) -> torch.Tensor:
    """Positions 0.. counted over valid tokens only, so left padding does not shift them."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def block_causal_mask(segment: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive (1, 1, L, L) mask for sequences concatenated into one: position ``q`` sees ``k``
    when ``k <= q`` and both belong to the same ``segment`` id (L,); 0 where allowed, the
    dtype's minimum elsewhere (a custom 4D mask, which transformers passes on as it is)."""
    n = segment.shape[0]
    causal = torch.ones(n, n, dtype=torch.bool, device=segment.device).tril()
    allowed = causal & (segment[:, None] == segment[None, :])
    mask = torch.zeros(n, n, dtype=dtype, device=segment.device)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)[None, None]


def packing_saves(lens: torch.Tensor, break_even: float) -> bool:
    """Whether one packed sequence of the items (lengths ``lens``) costs less than padding each to
    the longest. Cost ~ queries x (1 + keys / ``break_even``): the linear layers per token plus
    attention over the keys, which costs as much as the linear layers at ``break_even`` keys.
    Batches of similar lengths stay padded (packing would only make attention quadratic in the
    whole batch); batches of mixed lengths, such as short and label-list prompts, are packed."""
    total, longest, n = float(lens.sum()), float(lens.max()), len(lens)
    return total * (1 + total / break_even) < n * longest * (1 + longest / break_even)


SEGMENT_ATTENTION = "svtk_segments"


def segment_attention(module, query, key, value, attention_mask, dropout: float = 0.0,
                      scaling: float | None = None, segment_lens: list[int] | None = None,
                      **kwargs):
    """transformers attention function: sdpa, or with ``segment_lens`` (one packed sequence of
    items of these lengths, query/key/value (1, H, L, Dh)) causal sdpa within each item, the
    mask ignored. Dense attention under a block-diagonal mask computes all L^2 scores: in a
    phase-2b batch of egs/mini (~10 items) that was a third of a training step."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if segment_lens is None:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    gqa = query.shape[1] != key.shape[1]
    outs, start = [], 0
    for n in segment_lens:
        end = start + n
        outs.append(F.scaled_dot_product_attention(
            query[:, :, start:end], key[:, :, start:end], value[:, :, start:end],
            dropout_p=dropout, is_causal=True, scale=scaling, enable_gqa=gqa))
        start = end
    return torch.cat(outs, dim=2).transpose(1, 2).contiguous(), None  # (1, L, H, Dh)


def use_segment_attention(model: nn.Module) -> bool:
    """Switch an sdpa LLM to :func:`segment_attention` (the same results when no segments are
    given). Returns whether the model now uses it; other implementations are left alone."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    config = getattr(model, "config", None)
    current = getattr(config, "_attn_implementation", None)
    if current == SEGMENT_ATTENTION:
        return True
    if current != "sdpa" or not hasattr(model, "set_attn_implementation"):
        return False
    AttentionInterface.register(SEGMENT_ATTENTION, segment_attention)
    AttentionMaskInterface.register(SEGMENT_ATTENTION, sdpa_mask)
    model.set_attn_implementation(SEGMENT_ATTENTION)
    return True


class LLMAdapter(nn.Module):
    kind: str = ""

    def __init__(self, model: nn.Module, cfg: LLMConfig):
        super().__init__()
        self.model = model
        self.cfg = cfg

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().embedding_dim

    @property
    def config(self):
        return self.model.config

    @property
    def attention_break_even(self) -> float:
        """Keys per query at which attention (~4d flops a key) costs as much as a token's linear
        layers (~8d^2 + 6d*ffn flops): 2d + 1.5 ffn."""
        d = self.hidden_size
        ffn = getattr(self.config, "intermediate_size", None) or 4 * d
        return 2 * d + 1.5 * ffn

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model.get_input_embeddings()(ids)  # (B, T, D)

    def merge_lora(self) -> bool:
        """Fold the LoRA adapters into the frozen weights (``W + s B A``), for decoding: the same
        function with one matmul per adapted layer instead of three (egs/mini's decodes: 1.3x
        faster, identical hypotheses). The LoRA tensors stay in the module but no longer act,
        so a merged model is for inference only: never train it nor save its weights.
        Returns whether there was anything to merge."""
        merge = getattr(self.model, "merge_adapter", None)
        if merge is None or getattr(self.model, "peft_config", None) is None:
            return False
        merge()
        return True

    @contextlib.contextmanager
    def inert_lora(self):
        """Run the LLM without its LoRA adapters while they are frozen and every ``lora_B`` is
        zero, as in phase 1 of the curriculum: such an adapter adds exactly 0 and passes no
        gradient, so its matmuls and dropout masks are skipped (the same loss and gradients).
        Otherwise a no-op. peft's ``disable_adapter()`` makes the adapters trainable again on
        exit; their ``requires_grad`` flags are put back as they were."""
        disable = getattr(self.model, "disable_adapter", None)
        named = [(n, p) for n, p in self.model.named_parameters() if "lora_" in n]
        lora = [p for _, p in named]
        if (disable is None or getattr(self.model, "peft_config", None) is None or not lora
                or any(p.requires_grad for p in lora)
                or any(bool(p.any()) for n, p in named if "lora_B" in n)):
            yield
            return
        try:
            with disable():
                yield
        finally:
            for p in lora:
                p.requires_grad_(False)

    def target_loss(self, prefix: torch.Tensor, prefix_lens: torch.Tensor, target_ids: torch.Tensor,
                    target_lens: torch.Tensor):  # pragma: no cover - abstract
        raise NotImplementedError


class EncoderDecoderLLM(LLMAdapter):
    kind = "encoder-decoder"

    def decoder_input_ids(self, target_ids: torch.Tensor) -> torch.Tensor:
        start = self.model.config.decoder_start_token_id
        if start is None:
            start = self.model.config.pad_token_id
        first = torch.full_like(target_ids[:, :1], int(start))
        return torch.cat([first, target_ids[:, :-1]], dim=1)

    def target_loss(self, prefix, prefix_lens, target_ids, target_lens):
        """prefix (B, T, D) right-padded, target_ids (B, U) right-padded incl. eos -> (B,), (B,)."""
        mask = lengths_to_mask(prefix_lens, prefix.shape[1])
        tmask = lengths_to_mask(target_lens, target_ids.shape[1])
        out = self.model(inputs_embeds=prefix, attention_mask=mask.long(),
                         decoder_input_ids=self.decoder_input_ids(target_ids),
                         decoder_attention_mask=tmask.long(), use_cache=False)
        labels = target_ids.masked_fill(~tmask, IGNORE)
        ce = F.cross_entropy(out.logits.float().transpose(1, 2), labels, ignore_index=IGNORE,
                             reduction="none")  # (B, U)
        return ce.sum(1), tmask.sum(1)


class DecoderOnlyLLM(LLMAdapter):
    kind = "decoder-only"

    def __init__(self, model: nn.Module, cfg: LLMConfig):
        super().__init__(model, cfg)
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.segments = bool(cfg.packed) and use_segment_attention(base)

    def target_loss(self, prefix, prefix_lens, target_ids, target_lens):
        """[prefix_i, target_i] packed right-padded (or all in one sequence when
        ``cfg.packed``); loss on target tokens only -> (B,), (B,)."""
        seq, mask, starts = pack([(prefix, prefix_lens), (self.embed(target_ids), target_lens)])
        labels = torch.full(mask.shape, IGNORE, dtype=torch.long, device=seq.device)
        for i in range(seq.shape[0]):
            s, n = int(starts[i, 1]), int(target_lens[i])
            labels[i, s - 1: s - 1 + n] = target_ids[i, :n]  # position t predicts token t+1
        positions = position_ids_from_mask(mask)
        lens = mask.sum(1)
        if not (self.segments or (self.cfg.packed and packing_saves(lens, self.attention_break_even))):
            out = self.model(inputs_embeds=seq, attention_mask=mask.long(), position_ids=positions,
                             use_cache=False)
            ce = F.cross_entropy(out.logits.float().transpose(1, 2), labels, ignore_index=IGNORE,
                                 reduction="none")  # (B, T)
            return ce.sum(1), (labels != IGNORE).sum(1)
        b = seq.shape[0]
        segment = torch.repeat_interleave(torch.arange(b, device=seq.device), lens)  # (L,)
        if self.segments:  # the one row is all valid: no mask to build, causal per segment
            attention = {"segment_lens": lens.tolist(),
                         "attention_mask": torch.ones(1, int(lens.sum()), dtype=torch.long,
                                                      device=seq.device)}
        else:
            attention = {"attention_mask": block_causal_mask(segment, seq.dtype)}
        out = self.model(inputs_embeds=seq[mask][None], position_ids=positions[mask][None],
                         use_cache=False, **attention)
        flat = labels[mask]  # (L,)
        ce = F.cross_entropy(out.logits[0].float(), flat, ignore_index=IGNORE, reduction="none")
        loss = torch.zeros(b, dtype=ce.dtype, device=ce.device).index_add_(0, segment, ce)
        ntok = torch.zeros(b, dtype=torch.long, device=ce.device).index_add_(
            0, segment, (flat != IGNORE).long())
        return loss, ntok


LLM_ADAPTERS: dict[str, type[LLMAdapter]] = {
    "encoder-decoder": EncoderDecoderLLM,
    "decoder-only": DecoderOnlyLLM,
}
AUTO_CLASSES: dict[str, str] = {
    "encoder-decoder": "AutoModelForSeq2SeqLM",
    "decoder-only": "AutoModelForCausalLM",
}
PEFT_TASK: dict[str, str] = {"encoder-decoder": "SEQ_2_SEQ_LM", "decoder-only": "CAUSAL_LM"}


def hf_llm_config(cfg: LLMConfig, vocab_size: int | None = None):
    """The HF config: inline ``cfg.config`` (model_type + kwargs) or the directory's config.json."""
    from transformers import AutoConfig

    if cfg.config is not None and (cfg.name_or_path is None or not Path(cfg.name_or_path).exists()):
        kwargs = dict(cfg.config)
        model_type = kwargs.pop("model_type", None)
        if model_type is None:
            raise UserError("llm.config needs a model_type (e.g. t5, llama, qwen2)")
        if vocab_size is not None:
            kwargs["vocab_size"] = vocab_size
        config = AutoConfig.for_model(model_type, **kwargs)
    else:
        config = AutoConfig.from_pretrained(cfg.name_or_path)
    if config.is_encoder_decoder != (cfg.kind == "encoder-decoder"):
        raise UserError(f"llm.kind is {cfg.kind!r} but {config.model_type} is "
                        f"{'encoder-decoder' if config.is_encoder_decoder else 'decoder-only'}")
    return config


def init_llm(cfg: LLMConfig, vocab_size: int | None = None, meta: bool = False,
             tokenizer=None) -> nn.Module:
    """A randomly initialised HF LLM from ``cfg`` (from-scratch pre-training, meta summaries).

    With ``tokenizer`` (:class:`svtk.models.tokenizer.Tokenizer`) the vocabulary size and the
    pad/eos/bos (and T5's decoder start) ids are taken from it, so that
    ``model.save_pretrained(d); tokenizer.save_pretrained(d)`` makes a directory that loads like
    any pre-trained LLM.
    """
    import transformers

    if tokenizer is not None:
        vocab_size = tokenizer.vocab_size
    config = hf_llm_config(cfg, vocab_size)
    if tokenizer is not None:
        config.pad_token_id, config.eos_token_id = tokenizer.pad_id, tokenizer.eos_id
        config.bos_token_id = tokenizer.bos_id
        if config.is_encoder_decoder:
            config.decoder_start_token_id = tokenizer.pad_id
    auto = getattr(transformers, AUTO_CLASSES[cfg.kind])
    if meta:
        with torch.device("meta"):
            return auto.from_config(config)
    return auto.from_config(config)


def load_llm(cfg: LLMConfig, meta: bool = False) -> nn.Module:
    import transformers

    if meta or cfg.name_or_path is None:
        return init_llm(cfg, meta=meta)
    auto = getattr(transformers, AUTO_CLASSES[cfg.kind])
    try:
        return auto.from_pretrained(cfg.name_or_path, dtype=torch.float32)
    except OSError as e:
        raise UserError(f"llm '{cfg.name_or_path}': cannot load ({e})") from e


def apply_lora(model: nn.Module, kind: str, lora: LoRAConfig) -> nn.Module:
    from peft import LoraConfig, get_peft_model

    pcfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type=PEFT_TASK[kind])
    try:
        return get_peft_model(model, pcfg)
    except ValueError as e:
        raise UserError(f"LoRA: {e} (set lora.target_modules for this model type)") from e


LLMBuilder = Callable[[LLMConfig, LoRAConfig, bool], LLMAdapter]


def build_llm(cfg: LLMConfig, lora: LoRAConfig, meta: bool = False) -> LLMAdapter:
    """Load (or init) the LLM, freeze it, add LoRA; wrapped in the adapter for ``cfg.kind``."""
    model = load_llm(cfg, meta=meta)
    if cfg.freeze:
        model.requires_grad_(False)
    if lora.enabled:
        model = apply_lora(model, cfg.kind, lora)
    return LLM_ADAPTERS[cfg.kind](model, cfg)
