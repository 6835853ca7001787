"""Property: jump-forward (forced tails) and batch compaction never change what search emits.

A decoder whose log-probabilities are a pseudo-random function of (item, tokens so far) drives
greedy search over random mixed batches (label sets with labels that are prefixes of others,
joint grammars, slot grammars, free items) with both tokenizer kinds, with and without the
shortcuts; sequences, lengths and finished flags must be identical, also when max_new_tokens
cuts outputs (and forced tails) short. Beam search with and without compaction likewise, and
with and without its exact early stop, whatever the length penalty and length caps.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svtk.decoding.automata import AutomatonBuilder, TokenAutomaton, free_automaton
from svtk.decoding.grammars import build_grammar
from svtk.decoding.search import Constraint, beam_search, greedy_search
from svtk.testing.decoding import EXTRA_VOCAB, SLOT_TYPES, HashLogitsDecoder
from svtk.testing.strategies import label_sets

KINDS = ["labels", "joint", "slots", "free"]

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _grammar(kind, tok, V, labels, types):
    if kind == "labels":
        return build_grammar("labels", tok, V, labels=labels)
    if kind == "joint":
        return build_grammar("joint", tok, V, task="ic", labels=labels)
    if kind == "slots":
        return build_grammar("slots", tok, V, slot_types=types)
    return free_automaton(V)


def _greedy(tok, constraint, B, seed, max_new, **kw):
    dec = HashLogitsDecoder(len(tok) + EXTRA_VOCAB, seed=seed)
    res = greedy_search(dec, torch.zeros(B, 1, 1), torch.ones(B, 1, dtype=torch.long),
                        eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_new_tokens=max_new,
                        constraint=constraint, **kw)
    return res, dec.calls


@SETTINGS
@given(labels=label_sets(), types=st.lists(st.sampled_from(SLOT_TYPES), min_size=1, max_size=3,
                                           unique=True),
       kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=7),
       seed=st.integers(0, 2**16), max_new=st.integers(1, 30),
       compact=st.sampled_from([0.0, 0.5, 0.75, 1.01]))
def test_shortcuts_do_not_change_greedy_outputs(tok, labels, types, kinds, seed, max_new, compact):
    V = len(tok) + EXTRA_VOCAB
    parts = sorted(set(kinds), key=KINDS.index)
    fsa, starts = TokenAutomaton.union([_grammar(k, tok, V, labels, types) for k in parts])
    start_of = dict(zip(parts, starts, strict=True))
    B = len(kinds)
    c = Constraint(fsa, torch.tensor([start_of[k] for k in kinds]))
    ref, ref_calls = _greedy(tok, c, B, seed, max_new, jump_forward=False, compact_below=0.0)
    fast, fast_calls = _greedy(tok, c, B, seed, max_new, compact_below=compact)
    assert fast.sequences == ref.sequences
    assert fast.lengths.tolist() == ref.lengths.tolist()
    assert fast.finished.tolist() == ref.finished.tolist()
    assert fast.steps <= ref.steps and fast_calls <= ref_calls
    # forced tokens add 0 instead of their (negative) log-probability
    assert (fast.scores >= ref.scores - 1e-4).all()
    # compaction alone changes nothing, scores included
    comp, _ = _greedy(tok, c, B, seed, max_new, jump_forward=False, compact_below=compact)
    assert comp.sequences == ref.sequences and torch.allclose(comp.scores, ref.scores)


@SETTINGS
@given(labels=label_sets(), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
       beam=st.sampled_from([2, 3]), seed=st.integers(0, 2**16), max_new=st.integers(1, 25),
       compact=st.sampled_from([0.5, 0.75, 1.01]))
def test_beam_compaction_does_not_change_outputs(tok, labels, kinds, beam, seed, max_new, compact):
    V = len(tok) + EXTRA_VOCAB
    parts = sorted(set(kinds), key=KINDS.index)
    fsa, starts = TokenAutomaton.union([_grammar(k, tok, V, labels, SLOT_TYPES[:2]) for k in parts])
    start_of = dict(zip(parts, starts, strict=True))
    B = len(kinds)
    c = Constraint(fsa, torch.tensor([start_of[k] for k in kinds]))
    runs = []
    for cb in (0.0, compact):
        dec = HashLogitsDecoder(V, seed=seed)
        res = beam_search(dec, torch.zeros(B, 1, 1), torch.ones(B, 1, dtype=torch.long), beam=beam,
                          eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_new_tokens=max_new,
                          constraint=c, compact_below=cb)
        runs.append((res, dec.calls))
    (ref, ref_calls), (fast, fast_calls) = runs
    assert fast.sequences == ref.sequences
    assert fast.lengths.tolist() == ref.lengths.tolist()
    assert fast.finished.tolist() == ref.finished.tolist()
    assert torch.allclose(fast.scores, ref.scores)
    assert fast.steps == ref.steps and fast_calls <= ref_calls


def _beam(tok, c, B, beam, seed, max_new, **kw):
    dec = HashLogitsDecoder(len(tok) + EXTRA_VOCAB, seed=seed)
    res = beam_search(dec, torch.zeros(B, 1, 1), torch.ones(B, 1, dtype=torch.long), beam=beam,
                      eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_new_tokens=max_new,
                      constraint=c, **kw)
    return res, dec.calls


@SETTINGS
@given(labels=label_sets(), kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=5),
       beam=st.sampled_from([2, 3, 4]), seed=st.integers(0, 2**16), max_new=st.integers(1, 25),
       lp=st.sampled_from([0.0, 0.6, 1.0, 2.0, -0.5]), compact=st.sampled_from([0.0, 0.75]),
       caps=st.none() | st.lists(st.integers(1, 12), min_size=5, max_size=5),
       unconstrained=st.booleans())
def test_beam_early_stop_does_not_change_outputs(tok, labels, kinds, beam, seed, max_new, lp,
                                                 compact, caps, unconstrained):
    V = len(tok) + EXTRA_VOCAB
    parts = sorted(set(kinds), key=KINDS.index)
    fsa, starts = TokenAutomaton.union([_grammar(k, tok, V, labels, SLOT_TYPES[:2]) for k in parts])
    start_of = dict(zip(parts, starts, strict=True))
    B = len(kinds)
    c = None if unconstrained else Constraint(fsa, torch.tensor([start_of[k] for k in kinds]))
    kw = dict(length_penalty=lp, compact_below=compact,
              max_lengths=None if caps is None else torch.tensor(caps[:B]))
    for s in range(seed, seed + 8):  # a wrong bound changes ~1 output in 100 runs: try several
        ref, ref_calls = _beam(tok, c, B, beam, s, max_new, early_stop=False, **kw)
        fast, fast_calls = _beam(tok, c, B, beam, s, max_new, **kw)
        assert fast.sequences == ref.sequences
        assert fast.lengths.tolist() == ref.lengths.tolist()
        assert fast.finished.tolist() == ref.finished.tolist()
        assert torch.allclose(fast.scores, ref.scores)
        assert fast.steps <= ref.steps and fast_calls <= ref_calls


@pytest.mark.parametrize("lp", [0.0, 1.0])
def test_beam_early_stop_saves_steps_on_label_sets(tok, lp):
    """Label tries are short and end: once the best finished label outranks every open beam
    (and beats the best any could still reach), the item stops before its other beams end."""
    V = len(tok) + EXTRA_VOCAB
    labels = ["play_music", "play_radio", "weather_query", "set_alarm", "lights_off", "volume_up"]
    fsa = build_grammar("labels", tok, V, labels=labels)
    saved = 0
    for seed in range(8):
        c = Constraint(fsa, fsa.start_states(4))
        ref, ref_calls = _beam(tok, c, 4, 4, seed, 30, early_stop=False, length_penalty=lp)
        fast, fast_calls = _beam(tok, c, 4, 4, seed, 30, length_penalty=lp)
        assert fast.sequences == ref.sequences
        assert fast_calls <= ref_calls
        saved += ref_calls - fast_calls
    assert saved > 0


def test_one_label_needs_at_most_the_prefill(bpe_tok):
    V = len(bpe_tok) + EXTRA_VOCAB
    fsa = build_grammar("labels", bpe_tok, V, labels=["weather_query"])
    c = Constraint(fsa, fsa.start_states(3))
    res, calls = _greedy(bpe_tok, c, 3, 0, 20)
    assert res.steps == 1 and calls == 3  # the first piece picks a form (with a space or not)
    assert [bpe_tok.decode(s).strip() for s in res.sequences] == ["weather_query"] * 3
    ids = bpe_tok("weather_query", add_special_tokens=False)["input_ids"]
    b = AutomatonBuilder(V, eos_id=bpe_tok.eos_token_id)  # a single path: forced from the start
    s, end = b.new_state(), b.new_state()
    (leaf,) = b.add_sequences(s, [ids])
    b.add_edge(leaf, bpe_tok.eos_token_id, end)
    b.add_edge(end, bpe_tok.eos_token_id, end)
    one = b.build(s)
    c = Constraint(one, one.start_states(3))
    res, calls = _greedy(bpe_tok, c, 3, 0, 20)
    assert res.steps == 0 and calls == 0  # the model is not run at all
    assert res.sequences == [ids] * 3 and bool(res.finished.all())
    assert res.scores.tolist() == [0.0] * 3
    cut, _ = _greedy(bpe_tok, c, 3, 0, 1)  # the limit still cuts a forced output
    assert not bool(cut.finished.any()) and cut.lengths.tolist() == [1] * 3
    assert cut.sequences == [ids[:1]] * 3


def test_label_set_jumps_once_the_label_is_known(bpe_tok):
    V = len(bpe_tok) + EXTRA_VOCAB
    labels = ["play_music", "set_alarm", "weather_query"]  # first pieces differ
    fsa = build_grammar("labels", bpe_tok, V, labels=labels)
    c = Constraint(fsa, fsa.start_states(4))
    res, calls = _greedy(bpe_tok, c, 4, 5, 20)
    ref, ref_calls = _greedy(bpe_tok, c, 4, 5, 20, jump_forward=False)
    assert res.sequences == ref.sequences
    assert res.steps == 1 and calls == 4  # the prefill's logits pick the label
    assert ref.steps > 2 and ref_calls > calls
