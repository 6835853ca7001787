"""Property: whatever the model's scores, constrained search only emits what the grammar allows.

Random log-probabilities (any token may win) drive greedy and beam search over random label
sets with both tokenizer kinds; every finished output must decode to one of the labels, and every
emitted token must have been allowed.
"""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from svtk.decoding.automata import TokenAutomaton
from svtk.decoding.grammars import build_grammar
from svtk.decoding.search import Constraint, beam_search, greedy_search
from svtk.tasks import parse_joint
from svtk.testing.decoding import EXTRA_VOCAB, SLOT_TYPES, RandomLogitsDecoder
from svtk.testing.strategies import label_sets

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _run(tok, fsa, beam, seed, B=6, max_new=40):
    V = len(tok) + EXTRA_VOCAB
    dec = RandomLogitsDecoder(V, seed=seed)
    embeds, mask = torch.zeros(B, 1, 1), torch.ones(B, 1, dtype=torch.long)
    c = Constraint(fsa, fsa.start_states(B))
    kw = dict(eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_new_tokens=max_new, constraint=c)
    if beam == 1:
        return greedy_search(dec, embeds, mask, **kw)
    return beam_search(dec, embeds, mask, beam=beam, **kw)


@SETTINGS
@given(labels=label_sets(), beam=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_constrained_outputs_are_labels(tok, labels, beam, seed):
    fsa = build_grammar("labels", tok, len(tok) + EXTRA_VOCAB, labels=labels)
    res = _run(tok, fsa, beam, seed)
    assert bool(res.finished.all())  # label tries are finite: always ends within the limit
    for seq in res.sequences:
        assert tok.decode(seq).strip() in labels


@SETTINGS
@given(labels=label_sets(), beam=st.sampled_from([1, 3]), seed=st.integers(0, 2**16),
       task=st.sampled_from(["ic", "er", "kws"]))
def test_joint_outputs_follow_the_grammar(tok, labels, beam, seed, task):
    fsa = build_grammar("joint", tok, len(tok) + EXTRA_VOCAB, task=task, labels=labels)
    res = _run(tok, fsa, beam, seed, max_new=60)
    for seq, done in zip(res.sequences, res.finished.tolist(), strict=True):
        assert fsa.walk(seq) is not None  # every emitted token was allowed
        text = tok.decode(seq).strip()
        assert text.startswith("ASR:")
        if done:
            p = parse_joint(text)
            assert p.ok and p.task == task and p.output.strip() in labels, text


@SETTINGS
@given(types=st.lists(st.sampled_from(SLOT_TYPES), min_size=1, max_size=4, unique=True),
       beam=st.sampled_from([1, 3]), seed=st.integers(0, 2**16))
def test_slot_types_are_constrained(tok, types, beam, seed):
    fsa = build_grammar("slots", tok, len(tok) + EXTRA_VOCAB, slot_types=types)
    res = _run(tok, fsa, beam, seed, max_new=60)
    for seq, done in zip(res.sequences, res.finished.tolist(), strict=True):
        assert fsa.walk(seq) is not None
        text = tok.decode(seq).strip()
        if done and text != "none":  # "none": no slots
            for part in text.split(";"):
                slot_type, sep, _value = part.strip().partition(":")
                assert sep and slot_type.strip() in types, text


def test_mixed_batch_each_item_keeps_its_own_set(bpe_tok):
    V = len(bpe_tok) + EXTRA_VOCAB
    a = build_grammar("labels", bpe_tok, V, labels=["yes", "no"])
    b = build_grammar("labels", bpe_tok, V, labels=["happy", "neutral", "sad"])
    fsa, starts = TokenAutomaton.union([a, b])
    B = 8
    dec = RandomLogitsDecoder(V, seed=3)
    c = Constraint(fsa, torch.tensor([starts[i % 2] for i in range(B)]))
    res = beam_search(dec, torch.zeros(B, 1, 1), torch.ones(B, 1, dtype=torch.long), beam=3,
                      eos_id=bpe_tok.eos_token_id, max_new_tokens=20, constraint=c)
    for i, seq in enumerate(res.sequences):
        assert bpe_tok.decode(seq).strip() in (["yes", "no"], ["happy", "neutral", "sad"])[i % 2]
