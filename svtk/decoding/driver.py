"""The decode driver: task cuts in, one hypothesis record per cut out (``hyps.jsonl``).

``decode_cuts(model, cuts, options)`` swaps in the chosen prompts, batches similar cuts (task,
prompt length, duration; by count, or by total duration with the count as a cap; records come
out in manifest order), builds the prefix with ``model.prefix(model.collate(cuts))``, and runs
batched greedy or beam search with a KV cache. With ``constrained`` each closed-set item is
restricted to its label set and slot-filling items to their slot types (free values); with
``joint`` non-ASR items decode and parse ``ASR: <transcript> | TASK: <output> |``. A batch can
mix tasks: every item carries its own automaton start state. Greedy search finishes an item as
soon as the constraint forces the rest of its output (jump-forward), and finished items leave
the batch (compaction); a record's ``score`` then sums the model's log-probabilities of the
tokens it chose, forced ones add 0.

The model is anything with the SpeechLM decoding contract: ``collate(cuts)``,
``prefix(batch) -> (embeds (B, T, D), mask (B, T))`` (LEFT-padded for decoder-only LLMs),
``tokenizer``, ``llm_kind`` and ``llm.model`` (the HF model, PEFT-wrapped or not).

``decode_split`` writes ``hyps.jsonl`` and ``decode_info.json`` into the output directory,
atomically and behind a stage marker. Each record::

    {"id", "task", "prompt", "hyp", "ref", "raw", "joint", "labels", "score", "finished"}
    (+ "hyp_asr", "ref_asr" when joint)

Usage::

    opts = DecodeConfig(beam=4, constrained=True)
    for rec in decode_cuts(model, cuts, opts):
        ...
    decode_split(model, "data/tasks/test.jsonl.gz", "exp/a/decode/beam4/test", opts)
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svtk.tasks.formats import parse_joint

log = logging.getLogger(__name__)

ASR_TASK = "asr"


@dataclass
class DecodeConfig:
    """``conf/decode/*.yaml``: how to decode a split."""

    beam: int = 1  # hypotheses kept per item; 1 is greedy search
    length_penalty: float = 1.0  # beam: final pick by score / length ** length_penalty
    max_new_tokens: int = 128  # generation stops here if no end of sequence came
    constrained: bool = False  # closed-set outputs restricted to the labels, SF slot types to its set
    joint: bool = False  # non-ASR tasks decode `ASR: ... | TASK: ... |` and are parsed
    prompts: str = "cut"  # cut (the cuts' own) | train | unseen (from the bank) | path to a YAML bank
    prompt_dir: str | None = None  # where the train/unseen banks live; default: svtk's conf/prompts
    batch_size: int = 32  # most cuts in a batch
    max_duration: float | None = None  # most seconds of audio in a batch (batch_size still caps it)
    slot_tasks: list[str] = field(default_factory=lambda: ["sf"])  # outputs `type: value; ...`
    tasks: list[str] | None = None  # decode only these tasks (None: all)
    # greedy: an item whose constraint forces the rest of its output (a label settled by its
    # first tokens) ends without more decoder steps; same outputs, but its "score" leaves out
    # the forced tokens (certain under the constraint)
    jump_forward: bool = True
    # drop finished items from the decoder's batch once fewer than this fraction still decode
    # (0: never); outputs are the same
    compact_below: float = 0.75
    # beam search: stop an item once no open hypothesis can beat its best finished one (exact:
    # same outputs; false runs every beam to its end)
    early_stop: bool = True
    # most output tokens (eos included) per second of audio, by task ("joint": joint items,
    # "*": every other task), like ESPnet's maxlenratio: cuts run-on outputs short (an item at
    # its cap can only end); tasks not named are capped by max_new_tokens alone
    max_len_ratio: dict[str, float] = field(default_factory=dict)
    # joint CTC/LLM decoding of ASR items and of the transcript part of joint items (ESPnet's
    # ctc_weight; svtk.decoding.ctc): each next token scores (1 - w) * LLM + w * CTC prefix
    # score of the encoder's CTC head; 0: LLM only
    ctc_weight: float = 0.0
    # CTC scores only each row's K best next tokens by the LLM (ESPnet's pre-beam); 0: every
    # token; None: every token for a CTC vocabulary of at most CTC_EXACT_VOCAB ids, else
    # max(CTC_MIN_PRE_BEAM, 1.5 x beam) (see ctc_pre_beam())
    ctc_pre_beam: int | None = None
    # shallow fusion of a token n-gram LM (ARPA over the tokenizer's pieces, ``svtk model
    # train-lm``; svtk.decoding.ngram) into ASR items: each next token gains lm_weight * log
    # p_LM (ESPnet's lm_weight); 0: no LM. Joint items' transcripts are not LM-scored
    lm: str | None = None
    lm_weight: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ctc_weight <= 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1], got {self.ctc_weight}")
        if self.lm_weight < 0:
            raise ValueError(f"lm_weight must be >= 0, got {self.lm_weight}")
        if self.lm_weight > 0 and not self.lm:
            raise ValueError("lm_weight > 0 needs an lm (an ARPA file: svtk model train-lm)")
        if self.ctc_pre_beam is not None and self.ctc_pre_beam < 0:
            raise ValueError(f"ctc_pre_beam must be >= 0, got {self.ctc_pre_beam}")
        if self.beam < 1:
            raise ValueError(f"beam must be >= 1, got {self.beam}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def _custom(cut) -> dict[str, Any]:
    return dict(cut.custom or {})


def _task(cut) -> str:
    return str(_custom(cut).get("task", "")).lower()


@dataclass(frozen=True)
class TaskIn:
    """A cut filter: the cut's task is (``keep``) or is not among ``tasks``. A class, not a
    lambda: lhotse warns that lambdas cannot be pickled for its lazy manifests."""

    tasks: frozenset[str]
    keep: bool = True

    def __call__(self, cut) -> bool:
        return (_task(cut) in self.tasks) == self.keep


def is_joint(cut, opts: DecodeConfig) -> bool:
    """Joint decoding applies to non-ASR tasks when asked for, or when the cut is a joint one."""
    return _task(cut) != ASR_TASK and (opts.joint or bool(_custom(cut).get("joint")))


class GrammarCache:
    """Compiles each distinct grammar once and joins the ones a batch needs."""

    def __init__(self, tokenizer, vocab_size: int):
        self.tokenizer = tokenizer
        self.vocab_size = vocab_size
        self._fsa: dict[tuple, Any] = {}
        self._unions: dict[tuple, tuple[Any, list[int]]] = {}

    def key_for(self, cut, opts: DecodeConfig) -> tuple | None:
        """What constrains ``cut`` (None: nothing)."""
        if not opts.constrained:
            return None
        task, labels = _task(cut), _custom(cut).get("labels")
        labels = tuple(labels) if labels else None
        joint = is_joint(cut, opts)
        if labels and task in opts.slot_tasks:
            return ("joint", task, None, labels) if joint else ("slots", labels)
        if labels:
            return ("joint", task, labels, None) if joint else ("labels", labels)
        # Free output (ST, KWE; slots of unknown types): nothing to constrain on its own, but a
        # joint output still follows `ASR: ... | TAG: ... |` (unconstrained, an egs/mini ST item
        # was answered `| ASC: negative |`).
        return ("joint", task, None, None) if joint else None

    def automaton(self, key: tuple):
        from svtk.decoding.automata import free_automaton
        from svtk.decoding.grammars import build_grammar

        if key not in self._fsa:
            if key == ("free",):
                fsa = free_automaton(self.vocab_size)
            elif key[0] == "labels":
                fsa = build_grammar("labels", self.tokenizer, self.vocab_size, labels=list(key[1]))
            elif key[0] == "slots":
                fsa = build_grammar("slots", self.tokenizer, self.vocab_size, slot_types=list(key[1]))
            else:
                _, task, labels, slots = key
                fsa = build_grammar("joint", self.tokenizer, self.vocab_size, task=task,
                                    labels=list(labels) if labels else None,
                                    slot_types=list(slots) if slots else None)
            self._fsa[key] = fsa
        return self._fsa[key]

    def constraint(self, keys: list[tuple | None], device):
        """The batch constraint for items with these keys; None when none is constrained."""
        import torch

        from svtk.decoding.automata import TokenAutomaton
        from svtk.decoding.search import Constraint

        if all(k is None for k in keys):
            return None
        keys = [("free",) if k is None else k for k in keys]
        distinct = tuple(sorted(set(keys), key=repr))
        if distinct not in self._unions:
            fsa, starts = TokenAutomaton.union([self.automaton(k) for k in distinct])
            self._unions[distinct] = (fsa.to(device), starts)
        fsa, starts = self._unions[distinct]
        start_of = dict(zip(distinct, starts, strict=True))
        return Constraint(fsa, torch.tensor([start_of[k] for k in keys], dtype=torch.long,
                                            device=device))


# Cuts that decode_cuts sorts into batches together; windows keep memory bounded on big manifests.
SORT_WINDOW = 2048
# most padded positions per real one in a batch whose items' prefix lengths are known (a left-
# padded prefix costs the LLM as much as a real one): 0.1 and 0.2 decoded egs/mini test_seen
# alike (10.6 / 10.7 s), 0.1 in smaller batches with less padding (6 % vs 10 %)
MAX_PADDING = 0.1


def similarity_key(cut, length: Callable[[Any], int] | None = None) -> tuple:
    """Task, prefix length, duration: items of a batch need little padding and end together.
    The prefix length is ``length(cut)`` (LLM positions) when given, else the prompt's
    characters."""
    n = length(cut) if length is not None else len(str(_custom(cut).get("prompt", "")))
    return _task(cut), n, cut.duration


def batches(items: Iterable, opts: DecodeConfig,
            duration: Callable[[Any], float] = lambda cut: cut.duration,
            length: Callable[[Any], int] | None = None) -> Iterator[list]:
    """``items`` in their order, cut into batches by count, or by total ``duration`` with the
    count as a cap (an item longer than ``max_duration`` is a batch of its own). With ``length``
    (an item's prefix positions), a batch also ends before an item that would give it more than
    ``MAX_PADDING`` padded positions per real one."""
    batch: list = []
    total, positions, longest = 0.0, 0, 0
    for item in items:
        d = duration(item)
        n = length(item) if length is not None else 0
        full = len(batch) >= opts.batch_size or (
            opts.max_duration is not None and total + d > opts.max_duration) or (
            length is not None
            and (len(batch) + 1) * max(longest, n) > (1 + MAX_PADDING) * (positions + n))
        if batch and full:
            yield batch
            batch, total, positions, longest = [], 0.0, 0, 0
        batch.append(item)
        total += d
        positions += n
        longest = max(longest, n)
    if batch:
        yield batch


def _windows(items: Iterable, size: int) -> Iterator[list]:
    buf: list = []
    for item in items:
        buf.append(item)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def ctc_weights(cuts: Sequence, opts: DecodeConfig) -> list[float] | None:
    """Per-cut CTC weight: ``opts.ctc_weight`` for ASR cuts and joint cuts (their transcript
    part), 0 for the rest (the CTC head transcribes; other outputs are not transcripts); None
    when no cut gets one."""
    if opts.ctc_weight <= 0:
        return None
    weights = [opts.ctc_weight if _task(c) == ASR_TASK or is_joint(c, opts) else 0.0
               for c in cuts]
    return weights if any(weights) else None


def lm_weights(cuts: Sequence, opts: DecodeConfig) -> list[float] | None:
    """Per-cut n-gram LM weight: ``opts.lm_weight`` for ASR cuts that are not joint, else 0;
    None when no cut gets one."""
    if opts.lm_weight <= 0:
        return None
    weights = [opts.lm_weight if _task(c) == ASR_TASK and not is_joint(c, opts) else 0.0
               for c in cuts]
    return weights if any(weights) else None


CTC_EXACT_VOCAB = 8192  # automatic pre-beam: every token scored up to this CTC vocabulary
CTC_MIN_PRE_BEAM = 8


def ctc_pre_beam(opts: DecodeConfig, ctc_vocab: int) -> int:
    """The pre-beam of joint CTC/LLM decoding (0: every token; see DecodeConfig)."""
    if opts.ctc_pre_beam is not None:
        return opts.ctc_pre_beam
    if ctc_vocab <= CTC_EXACT_VOCAB:
        return 0
    return max(CTC_MIN_PRE_BEAM, math.ceil(1.5 * opts.beam))


def transcript_span(tokenizer, vocab_size: int):
    """Where the transcript of a joint output lies, for CTC scoring (``svtk.decoding.ctc``)."""
    from svtk.decoding.ctc import TranscriptSpan
    from svtk.decoding.grammars import (
        _strip_to_stop,
        encode_in_context,
        ids_containing,
        start_forms,
    )
    from svtk.tasks.formats import JOINT_ASR_TAG, JOINT_SEP

    heads = tuple(tuple(f) for f in start_forms(tokenizer, f"{JOINT_ASR_TAG}:"))
    ends = ids_containing(tokenizer, JOINT_SEP, vocab_size)
    sep = encode_in_context(tokenizer, f" {JOINT_SEP}")  # e.g. ['▁', '|'] or ['Ġ|']
    # the pieces before the separator's own: free text to the joint grammar, neutral to CTC
    neutral = sep[: len(sep) - len(_strip_to_stop(sep, ends))]
    return TranscriptSpan(heads, tuple(sorted(ends)), tuple(neutral))


def make_record(cut, raw: str, opts: DecodeConfig, score: float | None = None,
                finished: bool | None = None) -> dict[str, Any]:
    """One ``hyps.jsonl`` record (see the module docstring)."""
    c = _custom(cut)
    joint = is_joint(cut, opts)
    rec: dict[str, Any] = {
        "id": cut.id,
        "task": _task(cut),
        "prompt": c.get("prompt", ""),
        "hyp": raw,
        "ref": c.get("target", ""),
        "raw": raw,
        "joint": joint,
        "labels": list(c["labels"]) if c.get("labels") else None,
    }
    if joint:
        hyp = parse_joint(raw, rec["task"])
        rec["hyp_asr"], rec["hyp"] = hyp.parts()
        rec["parsed"] = hyp.ok
        ref = parse_joint(rec["ref"] or "", rec["task"])
        if ref.ok:
            rec["ref_asr"], rec["ref"] = ref.parts()
        else:
            sups = getattr(cut, "supervisions", None) or []
            rec["ref_asr"] = " ".join((s.text or "") for s in sups).strip()
    if score is not None:
        rec["score"] = round(float(score), 4)
    if finished is not None:
        rec["finished"] = bool(finished)
    return rec


def length_caps(cuts: Sequence, opts: DecodeConfig) -> list[int] | None:
    """Per-cut most output tokens (eos included) from ``opts.max_len_ratio`` and the cut's
    duration, at least 1; None when no ratio applies to any cut. A cut without a ratio gets
    ``max_new_tokens + 1``: never reached, max_new_tokens cuts it off as before."""
    if not opts.max_len_ratio:
        return None
    caps, any_cap = [], False
    for cut in cuts:
        key = "joint" if is_joint(cut, opts) else _task(cut)
        ratio = opts.max_len_ratio.get(key, opts.max_len_ratio.get("*"))
        if ratio is None:
            caps.append(opts.max_new_tokens + 1)
            continue
        any_cap = True
        caps.append(max(1, math.ceil(ratio * cut.duration)))
    return caps if any_cap else None


def decode_cuts(model, cuts: Iterable, opts: DecodeConfig) -> Iterator[dict[str, Any]]:
    """Decode ``cuts`` with ``model``; yields one record per cut, batch by batch."""
    import torch
    from lhotse import CutSet
    from lhotse.utils import fastcopy

    from svtk.decoding.incremental import make_decoder
    from svtk.decoding.prompts import PromptChooser
    from svtk.decoding.search import search

    tok = hf_tokenizer(model.tokenizer)
    if tok.eos_token_id is None:
        raise ValueError("decoding needs a tokenizer with an end-of-sequence token")
    eos = int(tok.eos_token_id)
    pad = int(tok.pad_token_id) if tok.pad_token_id is not None else eos
    decoder = make_decoder(model.llm_kind, model.llm.model)
    ctc_blank = span = None
    if opts.ctc_weight > 0:
        if getattr(model, "prefix_and_ctc", None) is None:
            raise ValueError("ctc_weight > 0 needs a model with prefix_and_ctc() (a SpeechLM)")
        ctc_blank = model.ctc_blank_id
        span = transcript_span(tok, decoder.vocab_size)  # the transcript in joint outputs
    lm = None
    if opts.lm_weight > 0:
        from svtk.decoding.ngram import NgramLM

        lm = NgramLM.read_arpa(opts.lm, tok, eos)
        log.info("n-gram LM %s: order %d, %s n-grams, weight %g", opts.lm, lm.order,
                 "/".join(map(str, lm.num_ngrams)), opts.lm_weight)
    grammars = GrammarCache(tok, decoder.vocab_size)
    chooser = PromptChooser.from_option(opts.prompts, opts.prompt_dir)
    if not isinstance(cuts, CutSet):
        cuts = CutSet.from_cuts(cuts)
    if opts.tasks:
        cuts = cuts.filter(TaskIn(frozenset(t.lower() for t in opts.tasks)))
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        def with_prompt(cut):
            prompt = chooser.prompt_for(cut, joint=is_joint(cut, opts))
            return cut if prompt is None else fastcopy(cut, custom={**_custom(cut), "prompt": prompt})

        def decode_batch(prepared: list) -> list[dict[str, Any]]:
            with torch.inference_mode():
                batch = model.collate(CutSet.from_cuts(prepared))
                weights = ctc_weights(prepared, opts)
                dec = decoder
                if weights is None:
                    embeds, mask = model.prefix(batch)
                else:
                    from svtk.decoding.ctc import CTCFusedDecoder, CTCPrefixScorer

                    embeds, mask, ctc, ctc_lens = model.prefix_and_ctc(batch)
                    scorer = CTCPrefixScorer(ctc, ctc_lens, blank_id=ctc_blank, eos_id=eos,
                                             vocab_size=decoder.vocab_size)
                    joint = torch.tensor([is_joint(c, opts) for c in prepared])
                    dec = CTCFusedDecoder(decoder, scorer, torch.tensor(weights), joint, span,
                                          pre_beam=ctc_pre_beam(opts, scorer.ctc_vocab))
                lm_w = None if lm is None else lm_weights(prepared, opts)
                if lm_w is not None:
                    from svtk.decoding.ngram import NgramFusedDecoder

                    dec = NgramFusedDecoder(dec, lm, torch.tensor(lm_w))
                constraint = grammars.constraint([grammars.key_for(c, opts) for c in prepared],
                                                 embeds.device)
                caps = length_caps(prepared, opts)
                res = search(dec, embeds, mask, beam=opts.beam, eos_id=eos, pad_id=pad,
                             max_new_tokens=opts.max_new_tokens, length_penalty=opts.length_penalty,
                             constraint=constraint, jump_forward=opts.jump_forward,
                             compact_below=opts.compact_below, early_stop=opts.early_stop,
                             max_lengths=None if caps is None else torch.tensor(caps))
            texts = tok.batch_decode(res.sequences, skip_special_tokens=True)
            return [make_record(cut, text.strip(), opts, score, done)
                    for cut, text, score, done in zip(prepared, texts, res.scores.tolist(),
                                                      res.finished.tolist(), strict=True)]

        # batches of similar cuts (SORT_WINDOW at a time): egs/mini test_seen in 11.3 s, not 14.1
        # (1 thread, batches in manifest order; same hypotheses); records keep manifest order.
        # Where the model can tell a cut's prefix length (audio tokens + prompt tokens), cuts
        # are sorted by it and batches kept to MAX_PADDING: an unconstrained decode of egs/mini
        # test_seen (1647 cuts, 2026-12-03) in 10.6 s, not 14.3 (38 % of the prefill positions
        # were padding, now 6 %), the same hypotheses
        length = getattr(model, "prefix_length", None)
        for window in _windows(map(with_prompt, cuts), SORT_WINDOW):
            records: dict[int, dict[str, Any]] = {}
            # (index, cut, sort key): the key's [1] is the prefix length, computed once
            items = [(i, c, similarity_key(c, length)) for i, c in enumerate(window)]
            items.sort(key=lambda item: item[2])
            for batch in batches(items, opts, duration=lambda item: item[1].duration,
                                 length=None if length is None else lambda item: item[2][1]):
                idx, prepared, _ = zip(*batch, strict=True)
                records.update(zip(idx, decode_batch(list(prepared)), strict=True))
            yield from (records[i] for i in range(len(window)))
    finally:
        if was_training:
            model.train()


def decode_info(opts: DecodeConfig, split: str, checkpoint: str | None) -> dict[str, Any]:
    """``decode_info.json``: what the report needs to label a decode."""
    return {"prompts": opts.prompts, "constrained": opts.constrained, "joint": opts.joint,
            "beam": opts.beam, "max_len_ratio": opts.max_len_ratio or None,
            "ctc_weight": opts.ctc_weight, "ctc_pre_beam": opts.ctc_pre_beam,
            "lm": opts.lm if opts.lm_weight else None, "lm_weight": opts.lm_weight,
            "tasks": opts.tasks, "split": split,
            "checkpoint": checkpoint}


def hf_tokenizer(tokenizer):
    """The transformers tokenizer that search and grammars use: svtk's ``Tokenizer`` wraps one
    as ``.hf``; a transformers tokenizer is returned as it is."""
    return getattr(tokenizer, "hf", tokenizer)


def decode_split(model, cuts_path: str | Path, out_dir: str | Path, opts: DecodeConfig, *,
                 split: str | None = None, checkpoint: str | Path | None = None,
                 force: bool = False, records: Callable[[Any], Iterable[dict]] | None = None,
                 info: dict[str, Any] | None = None, inputs: Sequence[str | Path] = ()) -> Path:
    """Decode a cut manifest into ``out_dir/hyps.jsonl`` (+ ``decode_info.json``); skips when
    already done with the same options and inputs. Returns the hyps path.

    ``records(cuts)`` replaces ``decode_cuts(model, cuts, opts)`` as the source of records (the
    cascade baselines); ``info`` adds fields to ``decode_info.json`` (and to the stage's config,
    so a change redoes the decode); ``inputs`` are more files the hypotheses depend on."""
    from lhotse import CutSet

    from svtk.config import to_dict
    from svtk.logging import progress
    from svtk.stage import Stage, atomic_path, atomic_write_json, dataclass_defaults

    out_dir, cuts_path = Path(out_dir), Path(cuts_path)
    split = split or cuts_path.name.split(".")[0]
    hyps = out_dir / "hyps.jsonl"
    inputs = [cuts_path] + ([Path(checkpoint)] if checkpoint else []) + [Path(p) for p in inputs]
    if opts.lm_weight and opts.lm:  # another LM file, other hypotheses
        inputs.append(Path(opts.lm))
    config = {**to_dict(opts), **info} if info else opts
    stage = Stage("decode", out_dir, config=config, inputs=inputs, force=force,
                  defaults=dataclass_defaults(opts))
    if stage.is_done():
        return hyps
    out_dir.mkdir(parents=True, exist_ok=True)
    cuts = CutSet.from_file(cuts_path)
    n = counts = 0
    per_task: dict[str, int] = {}
    with atomic_path(hyps) as tmp, open(tmp, "w") as f:
        source = records(cuts) if records is not None else decode_cuts(model, cuts, opts)
        for rec in progress(source, description=f"decoding {split}", unit="utt"):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            counts += int(not rec.get("finished", True))
            per_task[rec["task"]] = per_task.get(rec["task"], 0) + 1
    if counts:
        log.warning("%d of %d hypotheses hit max_new_tokens=%d before end of sequence",
                    counts, n, opts.max_new_tokens)
    atomic_write_json(out_dir / "decode_info.json",
                      {**decode_info(opts, split, str(checkpoint) if checkpoint else None),
                       **(info or {})})
    stage.mark_done(outputs=[hyps, out_dir / "decode_info.json"], num_hyps=n, per_task=per_task)
    log.info("wrote %d hypotheses to %s", n, hyps)
    return hyps


def decode_tag(opts: DecodeConfig) -> str:
    """A directory name that says how a split was decoded, e.g. ``beam4_unseen_constrained_joint``."""
    search = f"beam{opts.beam}" if opts.beam > 1 else "greedy"
    prompts = opts.prompts if opts.prompts in ("cut", "train", "unseen") else Path(opts.prompts).stem
    parts = [search, prompts] + (["constrained"] if opts.constrained else []) + (
        ["joint"] if opts.joint else []) + ([f"ctc{opts.ctc_weight:g}"] if opts.ctc_weight else [])
    if opts.ctc_weight and opts.ctc_pre_beam is not None:
        parts.append(f"pre{opts.ctc_pre_beam}")
    if opts.lm_weight:
        parts.append(f"lm{opts.lm_weight:g}")
    return "_".join(parts)
