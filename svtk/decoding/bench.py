"""Decoding benchmark on CPU: cost of constraints, versus transformers, and of batching.

Builds a small LLM from a config (random weights; speed does not depend on them) with a
realistic vocabulary width, a BPE tokenizer, and a closed label set of ``--labels`` intent-like
names, then times, at ``--batch`` utterances with a prefix of ``--prefix-len`` embeddings:

1. ``constrained greedy / plain greedy``: the per-step cost of the automaton (target <= 1.05):
   constrained greedy with jump-forward and compaction off (every item runs to its end of
   sequence) against plain greedy given the same number of decoder steps (3 x ``--reps``
   pairs: the headline ratio of a ~0.25 s run, which 5 pairs left ~10 % noisy). With them on
   (``constrained_fast_over_plain``) the constrained run is cheaper than plain decoding of the
   same length, since a label is finished as soon as its first pieces pick it;
2. ``HF generate(prefix_allowed_tokens_fn) / ours``: transformers' greedy ``generate`` with the
   same automaton behind a memoised ``prefix_allowed_tokens_fn`` (one dict lookup per item and
   step), against our constrained greedy (target >= 10), for the label set and for the joint
   grammar (free transcript, then a label); the outputs are checked to be identical. Ours runs
   as the decode driver does (jump-forward, compaction); ``*_steps`` are the decoder steps of
   each. Both pay the same prefill (``prefill_s``, paired against our label decode:
   ``prefill_share_of_ours``), so no decoder that reads the prefix can beat HF by more than
   ``labels_hf_over_prefill``, HF's time over the prefill alone. The constraint's own cost per
   step is also timed alone (``constraint_step_ms_*``);
3. ``batched / per-utterance throughput``: free greedy decoding of ``--batch`` utterances for
   ``--new-tokens`` steps in one batch versus one at a time (target >= 8);
4. ``beam_*``: HF ``generate(num_beams=--beam, prefix_allowed_tokens_fn)`` against our
   ``beam_search(beam=--beam)`` with the label automaton. Both are configured for canonical beam
   search as far as their options go (``length_penalty=0``: rank by summed log-probability;
   HF ``early_stopping="never"``), and ``beam_same_fraction`` says how many outputs agree. What
   still differs: HF keeps ``beam`` open hypotheses plus a separate pool of finished ones (it
   looks at 2 x beam candidates per step), ours keeps finished hypotheses in the beam with their
   score frozen and stops an item once its best finished hypothesis can no longer be beaten
   (exact early stop); and HF expands the prefix to
   ``B * beam`` rows *before* the prefill (``beam`` times the prefill work), while ours prefills
   ``B`` rows and repeats the KV cache rows afterwards;
5. ``ctc_*``: joint CTC/LLM decoding (:mod:`svtk.decoding.ctc`, every row at weight 0.5) against
   the LLM alone, free decoding of ``--new-tokens`` steps, greedy and beam ``--beam``, with a
   random CTC head of ``--ctc-frames`` frames over the first ``--ctc-vocab`` ids. Exact prefix
   scores cover the whole CTC vocabulary, so their cost per step grows with frames x vocabulary
   x rows: egs/mini's tokenizer has ~500 pieces, an LLM's own ~32k-152k. ``ctc_*_pre{K}_*``: the
   same with a pre-beam of K candidates per row (the driver's automatic K for that beam), over
   ``--ctc-vocab`` ids and (``ctc_*_fullvocab_pre{K}_*``) over the LLM's whole vocabulary;
6. ``lm3_*``: shallow fusion of a token 3-gram (:mod:`svtk.decoding.ngram`, interpolated
   Kneser-Ney on 5000 random Zipf-distributed sentences over the vocabulary, every row at weight
   0.5) against the LLM alone, greedy and beam ``--beam``: the per-row context lookups and the
   dense next-token rows, built anew in each run (``lm3_*_train_s``: estimating the model);
7. ``mixed_*``: a batch of half free items (ASR-like, ``--new-tokens`` steps, eos never chosen
   by the random model) and half label items, ours with jump-forward + compaction against ours
   without them (``mixed_plain_over_fast``: what the label rows leaving the batch saves) and
   against HF with a per-item ``prefix_allowed_tokens_fn`` (a free item's list is the whole
   vocabulary, which is that interface's cost).

Each time is the median of ``--reps`` runs (``*_min_s``: the fastest); the two sides of every
ratio are run alternately and the ratio is the median of per-pair ratios, which holds up better
on a shared machine. Timings on a shared machine are still noisy.

Usage::

    python -m svtk.decoding.bench --llm llama --batch 32 --reps 5
    python -m svtk.decoding.bench --llm t5 --batch 32 --reps 5 --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

WORDS = ["play", "music", "set", "alarm", "weather", "query", "news", "radio", "email", "send",
         "calendar", "remove", "takeaway", "order", "lights", "off", "on", "volume", "up",
         "down", "transport", "ticket", "taxi", "recommendation", "events", "iot", "cleaning",
         "hue", "wemo", "podcasts", "audiobook", "factoid", "definition", "currency", "stock"]


def intent_labels(n: int) -> list[str]:
    """``n`` distinct SLURP-like intent names (scenario_action), some sharing prefixes."""
    out: list[str] = []
    i = 0
    while len(out) < n:
        a, b = WORDS[i % len(WORDS)], WORDS[(i * 7 + 3) % len(WORDS)]
        lab = f"{a}_{b}" if i < len(WORDS) * 2 else f"{a}_{b}_{i}"
        if lab not in out:
            out.append(lab)
        i += 1
    return out


def _paired(fa, fb, reps: int) -> dict:
    """Time ``fa`` and ``fb`` alternately ``reps`` times (after one warm-up each), so load from
    other processes hits both alike; the ratio is the median of per-pair ``t_b / t_a``."""
    fa(), fb()
    ta, tb = [], []
    for _ in range(reps):
        for fn, acc in ((fa, ta), (fb, tb)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    return {"a_s": round(statistics.median(ta), 4), "b_s": round(statistics.median(tb), 4),
            "a_min_s": round(min(ta), 4), "b_min_s": round(min(tb), 4),
            "ratio": round(statistics.median(b / a for a, b in zip(ta, tb, strict=True)), 3)}


def build(llm: str, vocab: int, hidden: int, layers: int, labels: list[str], workdir: Path):
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = [" ".join(labels), " ".join(w.replace("_", " ") for w in labels)] * 3
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(str(workdir / "tok"))
    tokenizer = AutoTokenizer.from_pretrained(str(workdir / "tok"))
    torch.manual_seed(0)
    common = dict(vocab_size=vocab, pad_token_id=0, eos_token_id=1, tie_word_embeddings=False)
    if llm == "t5":
        cfg = tf.T5Config(d_model=hidden, d_kv=hidden // 4, d_ff=4 * hidden, num_layers=layers,
                          num_decoder_layers=layers, num_heads=4, decoder_start_token_id=0, **common)
        cls = tf.AutoModelForSeq2SeqLM
    else:
        cfg_cls = {"llama": tf.LlamaConfig, "qwen2": tf.Qwen2Config}[llm]
        cfg = cfg_cls(hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                      **common)
        cls = tf.AutoModelForCausalLM
    cls.from_config(cfg).save_pretrained(str(workdir / "llm"))
    model = cls.from_pretrained(str(workdir / "llm")).eval()
    return tokenizer, model


class _PrefixFn:
    """The best a ``prefix_allowed_tokens_fn`` can do with the same automaton: the state of each
    generated prefix is memoised (one transition per call), the allowed list precomputed per
    state. What remains is the cost of transformers' per-item, per-step Python interface.
    ``starts[batch_id]`` is each item's start state (a mixed batch), default the automaton's."""

    def __init__(self, fsa, skip: int, starts: list[int] | None = None):
        import torch

        self.fsa, self.skip, self.starts = fsa, skip, starts
        allowed = ~fsa.forbidden  # (R, V)
        by_row = [allowed[r].nonzero().flatten().tolist() for r in range(allowed.shape[0])]
        self.lists = [by_row[int(r)] for r in fsa.row_of]
        self.state_of: dict[tuple[int, ...], int] = {}
        self.torch = torch

    def __call__(self, batch_id, ids):
        start = self.fsa.start if self.starts is None else self.starts[batch_id]
        key = (start,) + tuple(ids[self.skip:].tolist())
        return self.lists[self._state(key)]

    def _state(self, key: tuple[int, ...]) -> int:
        if len(key) == 1:
            return key[0]
        s = self.state_of.get(key)
        if s is None:  # in generation the parent prefix was seen one step earlier
            prev = self._state(key[:-1])
            s = int(self.fsa.advance(self.torch.tensor([prev]), self.torch.tensor([key[-1]]))[0])
            self.state_of[key] = s
        return s


def _vs_hf(model, tok, dec, embeds, mask, fsa, max_new: int, reps: int, enc_dec: bool,
           starts: list[int] | None = None, beam: int = 1, ours_kw: dict | None = None) -> dict:
    """transformers' ``generate`` with ``prefix_allowed_tokens_fn`` versus ours, same automaton:
    greedy (``beam`` 1) or canonical beam search (length penalty 0)."""
    import torch

    from svtk.decoding.search import Constraint, search

    eos, padid = tok.eos_token_id, tok.pad_token_id
    B = embeds.shape[0]
    cons = Constraint(fsa, fsa.start_states(B) if starts is None else torch.tensor(starts))
    skip = 1 if enc_dec else 0  # generate's ids hold the decoder start token for T5
    fn = _PrefixFn(fsa, skip, starts)
    hf_kw = dict(num_beams=beam)
    if beam > 1:
        hf_kw.update(length_penalty=0.0, early_stopping="never")
    okw = dict(beam=beam, **({"length_penalty": 0.0} if beam > 1 else {}), **(ours_kw or {}))

    def hf():
        return model.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=max_new,
                              do_sample=False, eos_token_id=eos, pad_token_id=padid,
                              prefix_allowed_tokens_fn=fn, **hf_kw)

    def ours():
        return search(dec, embeds, mask, max_new_tokens=max_new, constraint=cons, eos_id=eos,
                      pad_id=padid, **okw)

    with torch.inference_mode():
        res = ours()
        out = hf()
        timing = _paired(ours, hf, reps)
    hf_ids = []  # generated ids up to end of sequence (a random model may emit pad as text)
    for row in out:
        ids = row[skip:].tolist()
        hf_ids.append(ids[: ids.index(eos)] if eos in ids else ids)
    agree = sum(a == b for a, b in zip(hf_ids, res.sequences, strict=True)) / B
    return {"hf_s": timing["b_s"], "ours_s": timing["a_s"], "ratio": timing["ratio"],
            "hf_min_s": timing["b_min_s"], "ours_min_s": timing["a_min_s"],
            "same": hf_ids == res.sequences, "agree": round(agree, 3), "steps": res.steps,
            "hf_steps": out.shape[1] - skip}


def _constraint_step_cost(fsa, B: int, reps: int, prefix: list[int]) -> dict:
    """Milliseconds per decoding step spent on the constraint alone, on (B, V) scores, with
    every item after the tokens ``prefix``: ours masks in place (the search masks each step's
    own scores) and advances the states; HF's processor finds each item's allowed list and
    returns the masked scores. The choice of the token (an argmax, ~1 ms here, the same for
    both and for unconstrained decoding) is left out."""
    import torch
    from transformers.generation.logits_process import PrefixConstrainedLogitsProcessor

    V = fsa.vocab_size
    scores = torch.randn(B, V)
    states = torch.full((B,), fsa.walk(prefix), dtype=torch.long)
    ids = torch.tensor([prefix] * B)
    work = scores.clone()
    tokens = fsa.mask(scores, states).argmax(-1)

    def ours():
        fsa.mask_(work, states)
        return fsa.advance(states, tokens)

    proc = PrefixConstrainedLogitsProcessor(_PrefixFn(fsa, 0), num_beams=1)

    def hf():
        return proc(ids, scores)

    t = _paired(ours, hf, reps)
    return {"ours_ms": round(t["a_s"] * 1e3, 3), "hf_ms": round(t["b_s"] * 1e3, 3),
            "ratio": t["ratio"]}


def _ctc_cost(dec, embeds, mask, *, steps: int, beam: int, frames: int, ctc_vocab: int,
              reps: int, eos: int, pad: int, pre_beam: int = 0) -> dict:
    """Joint CTC/LLM decoding at weight 0.5 against the LLM alone, the same number of steps
    (``pre_beam`` K: CTC scores each row's K best next tokens; 0: every token)."""
    import torch

    from svtk.decoding.ctc import CTCFusedDecoder, CTCPrefixScorer
    from svtk.decoding.search import search

    B = embeds.shape[0]
    g = torch.Generator().manual_seed(1)
    logp = torch.randn(B, frames, min(ctc_vocab, dec.vocab_size), generator=g).log_softmax(-1)
    lens = torch.full((B,), frames)
    kw = dict(beam=beam, max_new_tokens=steps, eos_id=eos, pad_id=pad,
              **({"length_penalty": 0.0, "early_stop": False} if beam > 1 else {}))

    def fused():
        scorer = CTCPrefixScorer(logp, lens, blank_id=pad, eos_id=eos, vocab_size=dec.vocab_size)
        return search(CTCFusedDecoder(dec, scorer, torch.full((B,), 0.5), pre_beam=pre_beam),
                      embeds, mask, **kw)

    with torch.inference_mode():
        a, b = search(dec, embeds, mask, **kw), fused()
        t = _paired(lambda: search(dec, embeds, mask, **kw), fused, reps)
    return {"plain_s": t["a_s"], "fused_s": t["b_s"], "ratio": t["ratio"],
            "plain_steps": a.steps, "fused_steps": b.steps,
            "ms_per_step": round((t["b_s"] - t["a_s"]) / max(b.steps, 1) * 1e3, 2)}


def _lm_cost(dec, embeds, mask, *, steps: int, beam: int, reps: int, eos: int, pad: int,
             order: int = 3, sentences: int = 5000) -> dict:
    """Shallow fusion of a token n-gram (``order``, interpolated Kneser-Ney on ``sentences``
    random Zipf-distributed sentences over the vocabulary) at weight 0.5 against the LLM alone,
    the same number of steps: what the per-row context lookups and dense rows cost."""
    import random

    import torch

    from svtk.decoding.ngram import NgramFusedDecoder, train_kneser_ney
    from svtk.decoding.search import search

    B, V = embeds.shape[0], dec.vocab_size
    rng = random.Random(0)
    words = [i for i in range(V) if i not in (eos, pad)]
    weights = [1.0 / (r + 1) for r in range(len(words))]
    text = [rng.choices(words, weights, k=rng.randint(4, 16)) for _ in range(sentences)]
    t0 = time.perf_counter()
    lm = train_kneser_ney(text, order, words, eos)
    train_s = time.perf_counter() - t0
    kw = dict(beam=beam, max_new_tokens=steps, eos_id=eos, pad_id=pad,
              **({"length_penalty": 0.0, "early_stop": False} if beam > 1 else {}))

    class NoEnd(NgramFusedDecoder):  # as the random LLM never ends: the same steps both sides
        def _fuse(self, st, logp):
            st, out = super()._fuse(st, logp)
            out[:, eos] = float("-inf")
            return st, out

    def fused():
        lm._rows.clear()  # every run builds its rows anew, as a new decode does
        return search(NoEnd(dec, lm, torch.full((B,), 0.5)), embeds, mask, **kw)

    with torch.inference_mode():
        a, b = search(dec, embeds, mask, **kw), fused()
        t = _paired(lambda: search(dec, embeds, mask, **kw), fused, reps)
    return {"plain_s": t["a_s"], "fused_s": t["b_s"], "ratio": t["ratio"],
            "plain_steps": a.steps, "fused_steps": b.steps, "train_s": round(train_s, 2),
            "ngrams": "/".join(map(str, lm.num_ngrams)),
            "ms_per_step": round((t["b_s"] - t["a_s"]) / max(b.steps, 1) * 1e3, 2)}


def run(args) -> dict:
    import torch

    from svtk.decoding.automata import TokenAutomaton, free_automaton
    from svtk.decoding.driver import CTC_EXACT_VOCAB, DecodeConfig, ctc_pre_beam
    from svtk.decoding.grammars import build_grammar, encode, start_forms
    from svtk.decoding.incremental import make_decoder
    from svtk.decoding.search import Constraint, greedy_search

    labels = intent_labels(args.labels)
    with tempfile.TemporaryDirectory() as d:
        tok, model = build(args.llm, args.vocab, args.hidden, args.layers, labels, Path(d))
    dec = make_decoder(None, model)
    enc_dec = dec.llm_kind == "encoder-decoder"
    B, T, D = args.batch, args.prefix_len, model.get_input_embeddings().weight.shape[1]
    g = torch.Generator().manual_seed(0)
    embeds = torch.randn(B, T, D, generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    for i in range(B):  # ragged prefixes, padded on the side each kind expects
        pad = int(torch.randint(0, T // 4, (1,), generator=g))
        sl = slice(T - pad, T) if enc_dec else slice(0, pad)
        embeds[i, sl], mask[i, sl] = 0, 0
    eos, padid = tok.eos_token_id, tok.pad_token_id
    t0 = time.perf_counter()
    fsa = build_grammar("labels", tok, dec.vocab_size, labels=labels)
    compile_s = time.perf_counter() - t0
    cons = Constraint(fsa, fsa.start_states(B))
    kw = dict(eos_id=eos, pad_id=padid)

    slow = dict(jump_forward=False, compact_below=0.0)  # every item decodes to its own eos
    steps = greedy_search(dec, embeds, mask, max_new_tokens=64, constraint=cons, **slow, **kw).steps
    cvp = _paired(lambda: greedy_search(dec, embeds, mask, max_new_tokens=steps, **kw),
                  lambda: greedy_search(dec, embeds, mask, max_new_tokens=64, constraint=cons,
                                        **slow, **kw),
                  3 * args.reps)
    fvp = _paired(lambda: greedy_search(dec, embeds, mask, max_new_tokens=steps, **kw),
                  lambda: greedy_search(dec, embeds, mask, max_new_tokens=64, constraint=cons, **kw),
                  args.reps)

    hf_labels = _vs_hf(model, tok, dec, embeds, mask, fsa, 64, args.reps, enc_dec)

    def prefill():
        with torch.inference_mode():
            return dec.start(embeds, mask)

    pvo = _paired(lambda: greedy_search(dec, embeds, mask, max_new_tokens=64, constraint=cons, **kw),
                  prefill, args.reps)
    joint = build_grammar("joint", tok, dec.vocab_size, task="ic", labels=labels)
    hf_joint = _vs_hf(model, tok, dec, embeds, mask, joint, args.joint_tokens, args.reps, enc_dec)
    micro = {name: _constraint_step_cost(a, B, args.reps * 20, prefix)  # inside a label / transcript
             for name, a, prefix in (("labels", fsa, start_forms(tok, labels[0])[0][:1]),
                                     ("joint", joint, encode(tok, "ASR: play the")))}

    # batched versus one utterance at a time, free decoding for a fixed number of tokens
    n = args.new_tokens
    def one_by_one():
        for i in range(B):
            m = mask[i : i + 1].bool()[0]
            greedy_search(dec, embeds[i : i + 1, m], mask[i : i + 1, m], max_new_tokens=n, **kw)

    bvs = _paired(lambda: greedy_search(dec, embeds, mask, max_new_tokens=n, **kw), one_by_one,
                  max(1, args.reps // 2))
    hf_beam = _vs_hf(model, tok, dec, embeds, mask, fsa, 64, max(1, args.reps // 2), enc_dec,
                     beam=args.beam)

    ctc = {}  # joint CTC/LLM: exact, and with the driver's automatic pre-beam for a big head
    for b in (1, args.beam):
        name = "greedy" if b == 1 else f"beam{b}"
        k = ctc_pre_beam(DecodeConfig(beam=b), CTC_EXACT_VOCAB + 1)
        for key, width, pre in ((name, args.ctc_vocab, 0), (f"{name}_pre{k}", args.ctc_vocab, k),
                                (f"{name}_fullvocab_pre{k}", dec.vocab_size, k)):
            ctc[key] = _ctc_cost(dec, embeds, mask, steps=n, beam=b, frames=args.ctc_frames,
                                 ctc_vocab=width, reps=max(1, args.reps // 2), eos=eos,
                                 pad=padid, pre_beam=pre)

    lm = {("greedy" if b == 1 else f"beam{b}"): _lm_cost(  # n-gram shallow fusion
        dec, embeds, mask, steps=n, beam=b, reps=max(1, args.reps // 2), eos=eos, pad=padid)
        for b in (1, args.beam)}

    # mixed batch: half free ASR-like items, half labels
    free = free_automaton(dec.vocab_size)
    mixed, (lab_start, free_start) = TokenAutomaton.union([fsa, free])
    starts = [lab_start if i % 2 else free_start for i in range(B)]
    hf_mixed = _vs_hf(model, tok, dec, embeds, mask, mixed, n, max(1, args.reps // 2), enc_dec,
                      starts=starts)
    mcons = Constraint(mixed, torch.tensor(starts))
    mvs = _paired(lambda: greedy_search(dec, embeds, mask, max_new_tokens=n, constraint=mcons, **kw),
                  lambda: greedy_search(dec, embeds, mask, max_new_tokens=n, constraint=mcons,
                                        **slow, **kw),
                  max(1, args.reps // 2))
    return {
        "llm": args.llm, "vocab": args.vocab, "hidden": args.hidden, "layers": args.layers,
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "batch": B, "prefix_len": T, "labels": len(labels), "automaton_states": fsa.num_states,
        "automaton_compile_s": round(compile_s, 3), "reps": args.reps,
        "threads": torch.get_num_threads(), "constrained_steps": steps,
        "plain_greedy_s": cvp["a_s"], "constrained_greedy_s": cvp["b_s"],
        "plain_greedy_min_s": cvp["a_min_s"], "constrained_greedy_min_s": cvp["b_min_s"],
        "constrained_over_plain": cvp["ratio"],
        "constrained_fast_s": fvp["b_s"], "constrained_fast_over_plain": fvp["ratio"],
        "labels_hf_prefix_allowed_s": hf_labels["hf_s"], "labels_ours_s": hf_labels["ours_s"],
        "labels_hf_min_s": hf_labels["hf_min_s"], "labels_ours_min_s": hf_labels["ours_min_s"],
        "labels_hf_over_ours": hf_labels["ratio"], "labels_hf_same_output": hf_labels["same"],
        "labels_hf_steps": hf_labels["hf_steps"], "labels_ours_steps": hf_labels["steps"],
        "prefill_s": pvo["b_s"], "prefill_share_of_ours": pvo["ratio"],
        "labels_hf_over_prefill": round(hf_labels["hf_s"] / pvo["b_s"], 3),
        "joint_steps": hf_joint["steps"],
        "joint_hf_prefix_allowed_s": hf_joint["hf_s"], "joint_ours_s": hf_joint["ours_s"],
        "joint_hf_min_s": hf_joint["hf_min_s"], "joint_ours_min_s": hf_joint["ours_min_s"],
        "joint_hf_over_ours": hf_joint["ratio"], "joint_hf_same_output": hf_joint["same"],
        "joint_hf_steps": hf_joint["hf_steps"],
        "constraint_step_ms_ours_labels": micro["labels"]["ours_ms"],
        "constraint_step_ms_hf_labels": micro["labels"]["hf_ms"],
        "constraint_step_hf_over_ours_labels": micro["labels"]["ratio"],
        "constraint_step_ms_ours_joint": micro["joint"]["ours_ms"],
        "constraint_step_ms_hf_joint": micro["joint"]["hf_ms"],
        "constraint_step_hf_over_ours_joint": micro["joint"]["ratio"],
        "batched_s": bvs["a_s"], "per_utterance_s": bvs["b_s"],
        "batched_over_per_utterance_throughput": bvs["ratio"],
        "new_tokens": n,
        "beam": args.beam, "beam_hf_prefix_allowed_s": hf_beam["hf_s"],
        "beam_ours_s": hf_beam["ours_s"], "beam_hf_over_ours": hf_beam["ratio"],
        "beam_same_fraction": hf_beam["agree"], "beam_ours_steps": hf_beam["steps"],
        "beam_hf_steps": hf_beam["hf_steps"],
        "ctc_frames": args.ctc_frames, "ctc_vocab": min(args.ctc_vocab, dec.vocab_size),
        **{f"ctc_{name}_{k}": v for name, res in ctc.items() for k, v in res.items()},
        **{f"lm3_{name}_{k}": v for name, res in lm.items() for k, v in res.items()},
        "mixed_fast_s": mvs["a_s"], "mixed_plain_s": mvs["b_s"],
        "mixed_plain_over_fast": mvs["ratio"],
        "mixed_hf_prefix_allowed_s": hf_mixed["hf_s"], "mixed_hf_over_ours": hf_mixed["ratio"],
        "mixed_hf_same_output": hf_mixed["same"],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llm", default="llama", choices=["llama", "qwen2", "t5"])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--prefix-len", type=int, default=60, help="audio + prompt embeddings")
    p.add_argument("--vocab", type=int, default=32000, help="logit width (Llama-2/T5 size)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--labels", type=int, default=60, help="closed label set size (SLURP: 60)")
    p.add_argument("--new-tokens", type=int, default=24, help="free decoding length")
    p.add_argument("--joint-tokens", type=int, default=24, help="joint decoding length limit")
    p.add_argument("--beam", type=int, default=4, help="beam size of the beam-search comparison")
    p.add_argument("--ctc-frames", type=int, default=50, help="CTC frames (4 s at the mini encoder's 12.5 Hz)")
    p.add_argument("--ctc-vocab", type=int, default=1000, help="CTC head width (egs/mini: ~1k)")
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    res = run(args)
    for k, v in res.items():
        print(f"{k:40s} {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
