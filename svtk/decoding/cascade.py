"""The cascade baselines of SpeechVerse Table 2: GT->LLM and ASR->LLM.

Both feed the text LLM of the ``text-lm`` pre-training phase a transcript in place of the
audio, on the prefix that phase trained it on (:func:`svtk.training.pretrain.text_prefix_ids`:
transcript tokens, then prompt tokens), and decode it with the e2e system's driver
(:func:`svtk.decoding.driver.decode_cuts`: same batching, prompt choice, constrained and joint
decoding, greedy/beam search):

- ``gt-llm``: the cut's reference transcript (its supervision text, as text-lm training read
  it). ASR cuts are skipped: their "hypothesis" would be the reference.
- ``asr-llm``: the CTC transcript of the cut's audio by the ``ctc`` phase's encoder (its
  best path; or CTC prefix beam search, optionally with a token n-gram LM:
  :func:`svtk.decoding.ctc.ctc_prefix_search`), computed in the decode batches (and once per audio span: task cuts of one utterance share
  it). Each record carries it as ``asr_hyp``; the ASR cuts' hypotheses *are* the CTC
  transcripts (the ASR row of ASR->LLM is the ASR system's WER).

``decode_info.json`` gets ``"system": "gt->llm" | "asr->llm"`` and the model dirs used, so
``svtk score`` / ``svtk report`` put the rows beside the e2e ones. The model dirs are found in
the experiment dir by the objective of the phase that wrote them (``<phase>/model/`` of the
phase whose ``phases.<phase>.objective`` is ``text-lm`` / ``ctc`` in its ``config.yaml``), or
given explicitly.

Usage::

    cascade_split("asr-llm", "exp/mini", "data/tasks/test.jsonl.gz",
                  "exp/mini/decode/asr-llm_greedy_train/test", DecodeConfig(constrained=True))
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from svtk.errors import UserError

log = logging.getLogger(__name__)

SYSTEMS = {"e2e": "e2e", "gt-llm": "gt->llm", "asr-llm": "asr->llm"}  # CLI name -> report name
CASCADES = ("gt-llm", "asr-llm")
OBJECTIVES = {"text_lm": "text-lm", "ctc": "ctc"}  # what each cascade part was trained with
MODEL_SUBDIR = "model"  # svtk.training.loop.FINAL_DIR: the phase's save_pretrained dir
# objective -> the SpeechLM model-config section built on that pre-trained model
COMPONENTS = {"text-lm": "llm", "ctc": "encoder"}
ASR_TASK = "asr"

Transcriber = Callable[[Sequence[Any]], list[str]]


def find_phase_model(exp_dir: str | Path, objective: str) -> Path:
    """The pre-trained model of ``objective`` for the cascade of experiment ``exp_dir``.

    ``<exp_dir>/<phase>/model`` of the one trained phase with that objective; else the component
    the experiment's SpeechLM was built on (its config's ``llm`` / ``encoder`` ``name_or_path``),
    which is the same pre-trained model when pre-training ran in another experiment dir.
    """
    import yaml

    exp = Path(exp_dir)
    found = []
    for cfg_path in sorted(exp.glob("*/config.yaml")):
        phase = cfg_path.parent.name
        data = yaml.safe_load(cfg_path.read_text()) or {}
        spec = ((data.get("phases") or {}).get(phase) or {}) if isinstance(data, dict) else {}
        if spec.get("objective") == objective and (cfg_path.parent / MODEL_SUBDIR).is_dir():
            found.append(cfg_path.parent / MODEL_SUBDIR)
    if len(found) == 1:
        return found[0]
    if not found:
        from svtk.decoding.loading import model_section, resolve_model_dir

        component = COMPONENTS[objective]
        try:
            section = model_section(resolve_model_dir(exp) / "config.yaml")
        except UserError:
            section = {}
        path = (section.get(component) or {}).get("name_or_path")
        if path and Path(path).is_dir():
            return Path(path)
    which = "none" if not found else ", ".join(str(p) for p in found)
    raise UserError(f"{exp}: need exactly one trained phase with objective '{objective}' "
                    f"(a <phase>/{MODEL_SUBDIR}/ dir) or a SpeechLM built on one, found {which}; "
                    "train it first or name the model dir explicitly")


def reference_transcripts(cuts: Sequence[Any]) -> list[str]:
    """The transcripts text-lm training read: each cut's supervision texts."""
    from svtk.training.pretrain import transcript

    return [transcript(c) for c in cuts]


class CTCTranscriber:
    """CTC transcripts of cuts' audio, batched; each audio span is transcribed once. The best
    path (``beam=1`` and no LM), else CTC prefix beam search with the n-gram ``lm`` (an
    :class:`~svtk.decoding.ngram.NgramLM` over the tokenizer's ids) at ``lm_weight``."""

    def __init__(self, encoder, tokenizer, device: str | torch.device = "cpu", beam: int = 1,
                 lm: Any = None, lm_weight: float = 0.0):
        if beam < 1:
            raise ValueError(f"beam must be >= 1, got {beam}")
        self.encoder = encoder.to(device).eval()
        self.tokenizer = tokenizer  # svtk.models.tokenizer.Tokenizer of the CTC units
        self.device = torch.device(device)
        self.beam = beam
        self.lm = lm if lm_weight > 0 else None
        self.lm_weight = lm_weight
        self.cache: dict[tuple, str] = {}

    @classmethod
    def from_dir(cls, model_dir: str | Path, device: str | torch.device = "cpu", beam: int = 1,
                 lm: str | Path | None = None, lm_weight: float = 0.0) -> CTCTranscriber:
        """From the ``ctc`` phase's ``model/`` dir (encoder and tokenizer saved together);
        ``lm``: an ARPA file over that tokenizer's pieces."""
        from svtk.models.native import NativeEncoder
        from svtk.models.tokenizer import Tokenizer

        encoder = NativeEncoder.from_pretrained(model_dir)
        if encoder.ctc_head is None:
            raise UserError(f"{model_dir}: this encoder has no CTC head; the ASR->LLM baseline "
                            "needs the ctc phase's model")
        tok = Tokenizer.from_pretrained(model_dir)
        ngram = None
        if lm and lm_weight > 0:
            from svtk.decoding.ngram import NgramLM

            ngram = NgramLM.read_arpa(lm, tok, tok.eos_id)
        return cls(encoder, tok, device, beam=beam, lm=ngram, lm_weight=lm_weight)

    @staticmethod
    def key(cut) -> tuple:
        rec = cut.recording.id if getattr(cut, "recording", None) is not None else cut.id
        return (rec, round(float(cut.start), 4), round(float(cut.duration), 4), cut.channel)

    def __call__(self, cuts: Sequence[Any]) -> list[str]:
        todo = {self.key(c): c for c in cuts if self.key(c) not in self.cache}
        if todo:
            texts = self.transcribe(list(todo.values()))
            self.cache.update(zip(todo, texts, strict=True))
        return [self.cache[self.key(c)] for c in cuts]

    @torch.inference_mode()
    def transcribe(self, cuts: Sequence[Any]) -> list[str]:
        """One batch through the encoder, best path per item."""
        sr = self.encoder.config.sample_rate
        audio = [torch.from_numpy((c if c.sampling_rate == sr else c.resample(sr)).load_audio()[0])
                 for c in cuts]
        lens = torch.tensor([len(a) for a in audio], dtype=torch.long)
        batch = torch.zeros(len(audio), int(lens.max()))  # (B, S)
        for i, a in enumerate(audio):
            batch[i, : len(a)] = a.float()
        out = self.encoder(batch.to(self.device), lens.to(self.device))
        if self.beam == 1 and self.lm is None:
            ids = self.encoder.ctc_greedy(out.hidden_states[-1], out.lengths)
        else:
            from svtk.decoding.ctc import ctc_prefix_search

            logp = self.encoder.ctc_logits(out.hidden_states[-1]).float().log_softmax(-1)
            ids = ctc_prefix_search(logp, out.lengths, blank_id=self.encoder.config.blank_id,
                                    eos_id=self.tokenizer.eos_id, beam=self.beam, lm=self.lm,
                                    lm_weight=self.lm_weight)
        return [self.tokenizer.decode(x) for x in ids]


class TextPrefixLM(nn.Module):
    """A text LLM behind the SpeechLM decoding contract: ``collate``/``prefix``/``tokenizer``/
    ``llm_kind``/``llm.model``, with a transcript (from ``transcribe``) in place of the audio."""

    def __init__(self, llm, tokenizer, transcribe: Transcriber):
        super().__init__()
        self.llm = llm  # svtk.models.llm.LLMAdapter over the HF model
        self.llm_kind = llm.kind
        self.tokenizer = tokenizer  # svtk Tokenizer: encodes exactly as text-lm training
        self.transcribe = transcribe
        self.transcripts: dict[str, str] = {}  # cut id -> transcript used, until its record is out

    @classmethod
    def from_dir(cls, model_dir: str | Path, transcribe: Transcriber) -> TextPrefixLM:
        """From the ``text-lm`` phase's ``model/`` dir (HF model and tokenizer saved together)."""
        from transformers import AutoConfig

        from svtk.models.config import LLMConfig
        from svtk.models.llm import LLM_ADAPTERS, load_llm
        from svtk.models.tokenizer import Tokenizer

        kind = ("encoder-decoder" if AutoConfig.from_pretrained(str(model_dir)).is_encoder_decoder
                else "decoder-only")
        cfg = LLMConfig(kind=kind, name_or_path=str(model_dir))
        return cls(LLM_ADAPTERS[kind](load_llm(cfg), cfg), Tokenizer.from_pretrained(model_dir),
                   transcribe)

    def prefix_ids(self, transcript: str, prompt: str) -> list[int]:
        """text-lm training's prefix (:func:`svtk.training.pretrain.TextLM.collate`)."""
        from svtk.training.pretrain import text_prefix_ids

        return text_prefix_ids(self.tokenizer, transcript, prompt) or [self.tokenizer.eos_id]

    def collate(self, cuts) -> dict[str, Any]:
        cuts = list(cuts)
        texts = self.transcribe(cuts)
        self.transcripts.update({c.id: t for c, t in zip(cuts, texts, strict=True)})
        ids = [self.prefix_ids(t, (c.custom or {}).get("prompt", ""))
               for c, t in zip(cuts, texts, strict=True)]
        return {"ids": ids}

    def prefix(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings (B, T, D) and mask (B, T); LEFT-padded for decoder-only LLMs."""
        ids = batch["ids"]
        width = max(len(x) for x in ids)
        left = self.llm_kind == "decoder-only"
        tokens = torch.full((len(ids), width), self.tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros(len(ids), width, dtype=torch.long)
        for i, x in enumerate(ids):
            span = slice(width - len(x), width) if left else slice(0, len(x))
            tokens[i, span], mask[i, span] = torch.tensor(x, dtype=torch.long), 1
        device = self.llm.model.get_input_embeddings().weight.device
        return self.llm.embed(tokens.to(device)), mask.to(device)  # (B, T, D), (B, T)


def cascade_records(system: str, lm: TextPrefixLM, cuts, opts) -> Iterator[dict[str, Any]]:
    """hyps.jsonl records of a cascade system over ``cuts`` (see the module docstring)."""
    from svtk.decoding.driver import TaskIn, batches, decode_cuts, make_record

    if system not in CASCADES:
        raise UserError(f"unknown cascade system {system!r} (known: {', '.join(CASCADES)})")
    if opts.tasks:
        cuts = cuts.filter(TaskIn(frozenset(t.lower() for t in opts.tasks)))
    asr_cuts = cuts.filter(TaskIn(frozenset([ASR_TASK])))
    if system == "asr-llm":  # the ASR row: the CTC transcript is the hypothesis
        for batch in batches(asr_cuts, opts):
            for cut, text in zip(batch, lm.transcribe(batch), strict=True):
                yield {**make_record(cut, text, opts), "asr_hyp": text}
    else:
        skipped = sum(1 for _ in asr_cuts)
        if skipped:
            log.info("gt-llm: %d ASR cuts skipped (the reference transcript is the input)", skipped)
    for rec in decode_cuts(lm, cuts.filter(TaskIn(frozenset([ASR_TASK]), keep=False)), opts):
        text = lm.transcripts.pop(rec["id"])
        yield {**rec, "asr_hyp": text} if system == "asr-llm" else rec


def load_cascade(system: str, exp_dir: str | Path, text_lm: str | Path | None = None,
                 ctc_encoder: str | Path | None = None, device: str = "cpu", *,
                 asr_beam: int = 1, lm: str | Path | None = None, lm_weight: float = 0.0
                 ) -> tuple[TextPrefixLM, dict[str, Any]]:
    """The cascade's text LLM (with its transcript source) and the decode_info fields naming it.
    ``asr_beam``, ``lm``, ``lm_weight``: how ``asr-llm`` transcribes (:class:`CTCTranscriber`)."""
    if system not in CASCADES:
        raise UserError(f"unknown cascade system {system!r} (known: {', '.join(CASCADES)})")
    lm_dir = Path(text_lm) if text_lm else find_phase_model(exp_dir, OBJECTIVES["text_lm"])
    info: dict[str, Any] = {"system": SYSTEMS[system], "text_lm": str(lm_dir)}
    if system == "asr-llm":
        ctc_dir = Path(ctc_encoder) if ctc_encoder else find_phase_model(exp_dir, OBJECTIVES["ctc"])
        transcribe: Transcriber = CTCTranscriber.from_dir(ctc_dir, device, beam=asr_beam, lm=lm,
                                                          lm_weight=lm_weight)
        info["ctc_encoder"] = str(ctc_dir)
        if asr_beam > 1 or lm_weight > 0:  # the report's lm_weight column: the transcripts' LM
            info.update(asr_beam=asr_beam, lm=str(lm) if lm_weight > 0 else None,
                        lm_weight=lm_weight)
    elif lm_weight > 0 or asr_beam > 1:
        raise UserError("an ASR beam and LM apply to asr-llm's transcripts; gt-llm reads the "
                        "reference transcripts")
    else:
        transcribe = reference_transcripts
    return TextPrefixLM.from_dir(lm_dir, transcribe).to(device).eval(), info


def cascade_split(system: str, exp_dir: str | Path, cuts_path: str | Path, out_dir: str | Path,
                  opts, *, text_lm: str | Path | None = None, ctc_encoder: str | Path | None = None,
                  device: str = "cpu", split: str | None = None, force: bool = False,
                  loaded: tuple | None = None) -> Path:
    """Decode a split with a cascade system into ``out_dir/hyps.jsonl`` + ``decode_info.json``;
    ``loaded``: what :func:`load_cascade` returned, to decode several splits with one load."""
    from svtk.decoding.driver import decode_split

    lm, info = loaded or load_cascade(system, exp_dir, text_lm, ctc_encoder, device)
    weights = [Path(info[k]) for k in ("text_lm", "ctc_encoder", "lm") if info.get(k)]
    return decode_split(lm, cuts_path, out_dir, opts, split=split, force=force,
                        records=lambda cuts: cascade_records(system, lm, cuts, opts),
                        info=info, inputs=weights)
