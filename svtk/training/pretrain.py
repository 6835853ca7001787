"""Pre-training objectives of the mini recipe, trained by the same loop as the SpeechLM.

- ``ctc``: the svtk-native encoder (:class:`svtk.models.native.NativeEncoder`) with its CTC head,
  from scratch, on the transcripts of the ASR task cuts; from their stored fbank when the cuts
  carry it (``svtk data fbank``), else from the audio. Its ``save_pretrained`` directory
  (``exp/<tag>/<phase>/model/``) is what the SpeechLM's ``encoder.name_or_path`` points at,
  frozen, as SpeechVerse freezes WavLM.
- ``text-lm``: a small LLM (T5 or a decoder-only family, from an inline HF config) from scratch
  on the text side of the tasks: input = transcript tokens then prompt tokens (the SpeechLM's
  [audio, prompt] order with the transcript in place of the audio), output = the task target
  (``joint_input: prompt`` gives a joint-form item its prompt alone, as the SpeechLM sees it).
  Its directory becomes the SpeechLM's ``llm.name_or_path`` (frozen + LoRA), and the GT->LLM /
  ASR->LLM baselines feed it reference or CTC transcripts through :func:`text_prefix_ids`.

Model sections (YAML, under a phase's ``model:``)::

    objective: ctc
    model: {tokenizer: exp/mini/tokenizer, encoder: {d_model: 144, num_layers: 4}}

    objective: text-lm
    model: {tokenizer: exp/mini/tokenizer, kind: encoder-decoder,
            llm: {model_type: t5, d_model: 256, num_layers: 4, num_heads: 4, d_ff: 1024, d_kv: 64}}

Usage::

    model = build_model("ctc", {"tokenizer": "exp/mini/tokenizer", "encoder": {"d_model": 64}})
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from svtk.errors import UserError
from svtk.training.objectives import register_objective

log = logging.getLogger(__name__)


def _pad(seqs: list[torch.Tensor], value: float = 0) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    out = torch.full((len(seqs), max(int(lens.max()), 1), *seqs[0].shape[1:]), value,
                     dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lens


JOINT_INPUTS = ("transcript", "prompt")


def transcript(cut: Any) -> str:
    return " ".join(s.text for s in cut.supervisions if s.text).strip()


def text_prefix_ids(tokenizer: Any, transcript_text: str, prompt: str) -> list[int]:
    """The text LM's input: transcript tokens, then prompt tokens (no special tokens)."""
    return tokenizer.encode(transcript_text) + tokenizer.encode(prompt)


class _Batch(dict):
    def to(self, device: Any) -> _Batch:
        return _Batch({k: v.to(device) if isinstance(v, torch.Tensor) else v
                       for k, v in self.items()})


def _tokenizer(section: dict[str, Any]) -> Any:
    from svtk.models.tokenizer import Tokenizer

    if not section.get("tokenizer"):
        raise UserError("the model section needs 'tokenizer': a tokenizer directory "
                        "(svtk model tokenizer ...)")
    return Tokenizer.from_pretrained(section["tokenizer"])


class CTCModel(nn.Module):
    """NativeEncoder + CTC head over the tokenizer's units (blank = the pad id)."""

    def __init__(self, section: dict[str, Any]):
        super().__init__()
        from svtk.models.config import NativeEncoderConfig
        from svtk.models.native import NativeEncoder

        self.tokenizer = _tokenizer(section)
        enc = dict(section.get("encoder") or {})
        enc.update(vocab_size=self.tokenizer.vocab_size, blank_id=self.tokenizer.pad_id)
        self.encoder = NativeEncoder(NativeEncoderConfig(**enc))
        self._warned_mixed = False  # the mixed fbank/audio batch warning: once per model

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"encoder": [p for n, p in self.encoder.named_parameters()
                            if not n.startswith("fbank.")]}

    def _stored_fbank(self, cuts: list) -> bool:
        """Whether the batch reads stored fbank (``svtk data fbank``): every cut has it, made
        with this encoder's filterbank."""
        from svtk.data.fbank import FBANK_CONFIG_FIELD, FBANK_FIELD, fbank_config

        have = [FBANK_FIELD in (c.custom or {}) for c in cuts]
        if not all(have):
            if any(have) and not self._warned_mixed:
                log.warning("some cuts in a batch have stored fbank and some do not; batches "
                            "like this read the audio")
                self._warned_mixed = True
            return False
        want = fbank_config(self.encoder.config.num_mel_bins, self.encoder.config.sample_rate)
        for c in cuts:
            if c.custom.get(FBANK_CONFIG_FIELD) != want:
                raise UserError(f"cut {c.id} carries fbank {c.custom.get(FBANK_CONFIG_FIELD)} but "
                                f"the encoder computes {want}; re-run svtk data fbank")
        return True

    def collate(self, cuts: Any) -> _Batch:
        cuts = list(cuts)
        targets = []
        for c in cuts:
            ids = self.tokenizer.encode(transcript(c)) or [self.tokenizer.eos_id]
            targets.append(torch.tensor(ids, dtype=torch.long))
        t, tlens = _pad(targets, self.tokenizer.pad_id)
        batch = _Batch(targets=t, target_lens=tlens,
                       tasks=[(c.custom or {}).get("task", "asr") for c in cuts])
        if self._stored_fbank(cuts):
            from svtk.data.fbank import load_fbank

            batch["fbank"], batch["fbank_lens"] = _pad(
                [torch.from_numpy(load_fbank(c)) for c in cuts], 0.0)
            return batch
        sr = self.encoder.config.sample_rate
        audio = [torch.from_numpy((c.resample(sr) if c.sampling_rate != sr else c).load_audio()[0])
                 .float() for c in cuts]
        batch["audio"], batch["audio_lens"] = _pad(audio, 0.0)
        return batch

    def forward(self, batch: _Batch) -> dict[str, torch.Tensor]:
        if "fbank" in batch:
            out = self.encoder.forward_fbank(batch["fbank"], batch["fbank_lens"])
        else:
            out = self.encoder(batch["audio"], batch["audio_lens"])
        per_item = self.encoder.ctc_loss(out.hidden_states[-1], out.lengths, batch["targets"],
                                         batch["target_lens"], reduction="none")  # (B,)
        n = batch["target_lens"].to(per_item.device)
        return {"loss": per_item.sum() / n.sum().clamp(min=1),
                "loss_per_item": per_item / n.clamp(min=1), "num_tokens": n}

    def save_pretrained(self, out_dir: str | Path) -> None:
        self.encoder.save_pretrained(out_dir)
        self.tokenizer.save_pretrained(out_dir)


class TextLM(nn.Module):
    """A from-scratch HF LLM on (transcript + prompt) -> target, through svtk's LLM adapter."""

    def __init__(self, section: dict[str, Any]):
        super().__init__()
        from svtk.models.config import LLMConfig
        from svtk.models.llm import LLM_ADAPTERS, init_llm

        self.tokenizer = _tokenizer(section)
        cfg = LLMConfig(kind=section.get("kind", "encoder-decoder"), config=section.get("llm"),
                        packed=bool(section.get("packed", False)))
        self.llm = LLM_ADAPTERS[cfg.kind](init_llm(cfg, tokenizer=self.tokenizer), cfg)
        self.max_target_tokens = int(section.get("max_target_tokens", 256))
        # what a joint-form item (target `ASR: <transcript> | TAG: <answer> |`) is given:
        # "transcript" (transcript + prompt, as every other item) or "prompt" (the prompt alone,
        # as the SpeechLM has no transcript in its input): the answer must then be read from the
        # transcript the model itself writes, which is what joint decoding relies on
        self.joint_input = section.get("joint_input", "transcript")
        if self.joint_input not in JOINT_INPUTS:
            raise UserError(f"text-lm joint_input must be one of {', '.join(JOINT_INPUTS)}, "
                            f"got {self.joint_input!r}")

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"llm": list(self.llm.parameters())}

    def input_transcript(self, cut: Any) -> str:
        """The transcript in ``cut``'s input: none for a joint item if ``joint_input: prompt``."""
        if self.joint_input == "prompt" and (cut.custom or {}).get("joint"):
            return ""
        return transcript(cut)

    def collate(self, cuts: Any) -> _Batch:
        cuts = list(cuts)
        tok = self.tokenizer
        prefix, targets = [], []
        for c in cuts:
            custom = c.custom or {}
            ids = text_prefix_ids(tok, self.input_transcript(c), custom.get("prompt", "")) \
                or [tok.eos_id]
            prefix.append(torch.tensor(ids, dtype=torch.long))
            tgt = tok.encode(custom.get("target") or "")[: self.max_target_tokens] + [tok.eos_id]
            targets.append(torch.tensor(tgt, dtype=torch.long))
        p, plens = _pad(prefix, tok.pad_id)
        t, tlens = _pad(targets, tok.pad_id)
        return _Batch(prefix_ids=p, prefix_lens=plens, target_ids=t, target_lens=tlens,
                      tasks=[(c.custom or {}).get("task", "") for c in cuts])

    def forward(self, batch: _Batch) -> dict[str, torch.Tensor]:
        embeds = self.llm.embed(batch["prefix_ids"])  # (B, P, D)
        loss_sum, n = self.llm.target_loss(embeds, batch["prefix_lens"], batch["target_ids"],
                                           batch["target_lens"])  # (B,), (B,)
        return {"loss": loss_sum.sum() / n.sum().clamp(min=1),
                "loss_per_item": loss_sum / n.clamp(min=1), "num_tokens": n}

    def save_pretrained(self, out_dir: str | Path) -> None:
        self.llm.model.save_pretrained(str(out_dir))
        self.tokenizer.save_pretrained(out_dir)


@register_objective("ctc")
def build_ctc(section: dict[str, Any]) -> CTCModel:
    return CTCModel(section)


@register_objective("text-lm")
def build_text_lm(section: dict[str, Any]) -> TextLM:
    return TextLM(section)
