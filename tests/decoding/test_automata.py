"""TokenAutomaton: builder, vectorised masking and transitions, union, grammar errors."""

from __future__ import annotations

import pytest
import torch

from svtk.decoding.automata import AutomatonBuilder, AutomatonError, TokenAutomaton, free_automaton

V, EOS = 12, 1


def _trie(seqs):
    b = AutomatonBuilder(V)
    start, final = b.new_state(), b.new_state()
    b.add_edge(final, EOS, final)
    for leaf in b.add_sequences(start, seqs):
        b.add_edge(leaf, EOS, final)
    return b.build(start), final


def test_trie_accepts_exactly_its_sequences():
    fsa, final = _trie([[5, 6], [5, 6, 7], [8]])
    assert fsa.walk([5, 6, EOS]) == final  # a label that is a prefix of another
    assert fsa.walk([5, 6, 7, EOS]) == final
    assert fsa.walk([8, EOS]) == final
    assert fsa.walk([5, EOS]) is None
    assert fsa.walk([6]) is None
    allowed = fsa.allowed(fsa.start_states(1))[0]
    assert allowed.nonzero().flatten().tolist() == [5, 8]


def test_mask_and_advance_are_vectorised_and_match_walk():
    fsa, final = _trie([[2, 3], [2, 4], [9]])
    states = torch.tensor([fsa.start, fsa.walk([2]), fsa.walk([9]), final])
    scores = torch.zeros(4, V)
    masked = fsa.mask(scores, states)
    assert torch.isfinite(masked).sum(1).tolist() == [2, 2, 1, 1]
    nxt = fsa.advance(states, torch.tensor([2, 4, EOS, EOS]))
    assert nxt.tolist() == [fsa.walk([2]), fsa.walk([2, 4]), final, final]


def test_free_state_with_exits_and_forbidden_tokens():
    b = AutomatonBuilder(V)
    s, after, final = b.new_state(), b.new_state(), b.new_state()
    b.set_free(s, forbidden=[EOS, 10, 11])  # 10, 11 contain the separator, 11 starts the exit
    b.add_edge(s, 11, after)
    b.add_edge(after, EOS, final)
    b.add_edge(final, EOS, final)
    fsa = b.build(s)
    assert fsa.walk([3, 4, 5, 3]) == s
    assert fsa.walk([3, 10]) is None
    assert fsa.walk([3, EOS]) is None
    assert fsa.walk([3, 11, EOS]) == final


def test_alias_merges_behaviour_and_detects_ambiguity():
    b = AutomatonBuilder(V)
    s, free = b.new_state(), b.new_state()
    b.set_free(free, forbidden=[EOS])
    (leaf,) = b.add_sequences(s, [[4, 5]])
    b.alias(leaf, free)
    fsa = b.build(s)
    assert fsa.walk([4, 5, 7, 7]) == free
    b = AutomatonBuilder(V)
    s, t = b.new_state(), b.new_state()
    b.add_edge(t, 3, t)
    (leaf,) = b.add_sequences(s, [[4]])
    b.add_edge(leaf, 3, s)
    b.alias(leaf, t)
    with pytest.raises(AutomatonError, match="ambiguous"):
        b.build(s)


def test_dead_end_is_an_error():
    b = AutomatonBuilder(V)
    s = b.new_state()
    b.add_sequences(s, [[3]])
    with pytest.raises(AutomatonError, match="allows no token"):
        b.build(s)


def test_union_keeps_each_part_separate():
    a, fa = _trie([[2, 3]])
    c, fc = _trie([[4]])
    free = free_automaton(V)
    u, starts = TokenAutomaton.union([a, c, free])
    assert u.walk([2, 3, EOS], starts[0]) is not None
    assert u.walk([4], starts[0]) is None
    assert u.walk([4, EOS], starts[1]) is not None
    assert u.walk([2], starts[1]) is None
    assert u.walk([7, 7, 2, EOS], starts[2]) == starts[2]
    states = torch.tensor(starts)
    assert torch.isfinite(u.mask(torch.zeros(3, V), states)).sum(1).tolist() == [1, 1, V]
