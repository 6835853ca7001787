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


def _eos_trie(seqs):
    b = AutomatonBuilder(V, eos_id=EOS)
    start, final = b.new_state(), b.new_state()
    b.add_edge(final, EOS, final)
    for leaf in b.add_sequences(start, seqs):
        b.add_edge(leaf, EOS, final)
    return b.build(start), final


def _tail(fsa, prefix):
    s = fsa.walk(prefix)
    return fsa.tails[s, : fsa.tail_len[s]].tolist()


def test_forced_tails_of_a_trie():
    fsa, final = _eos_trie([[5, 6], [5, 6, 7], [8, 9, 10]])
    assert _tail(fsa, []) == []  # 5 or 8
    assert _tail(fsa, [5]) == []  # 6 is forced, but then eos or 7: not forced to the end
    assert _tail(fsa, [5, 6]) == []  # a label that is a prefix of another
    assert _tail(fsa, [5, 6, 7]) == [EOS]
    assert _tail(fsa, [8]) == [9, 10, EOS]
    assert _tail(fsa, [8, 9]) == [10, EOS]
    assert _tail(fsa, [8, 9, 10, EOS]) == [EOS]  # the end state loops on eos
    assert fsa.max_tail == 3
    single, _ = _eos_trie([[3, 4]])
    assert _tail(single, []) == [3, 4, EOS]  # one label: nothing to decide


def test_no_tails_without_eos_through_free_states_or_around_cycles():
    fsa, _ = _trie([[8, 9, 10]])  # built without eos_id
    assert fsa.eos_id is None and fsa.max_tail == 0 and int(fsa.tail_len.sum()) == 0
    b = AutomatonBuilder(V, eos_id=EOS)
    s, loop_a, loop_b, free, final = (b.new_state() for _ in range(5))
    b.add_edge(final, EOS, final)
    b.add_edge(s, 2, loop_a)
    b.add_edge(loop_a, 3, loop_b)  # forced cycle a -> b -> a never reaches eos
    b.add_edge(loop_b, 4, loop_a)
    b.add_edge(s, 5, free)
    b.set_free(free, forbidden=[EOS, 6])
    b.add_edge(free, 6, final)
    fsa = b.build(s)
    assert _tail(fsa, [2]) == [] and _tail(fsa, [2, 3]) == []
    assert _tail(fsa, [5]) == [] and _tail(fsa, [5, 7, 6]) == [EOS]
    # a free state allowing a single token is forced too
    b = AutomatonBuilder(V, eos_id=EOS)
    s, final = b.new_state(), b.new_state()
    b.set_free(s, forbidden=[t for t in range(V) if t != 7], default=final)
    b.add_edge(final, EOS, final)
    assert _tail(b.build(s), []) == [7, EOS]


def test_union_keeps_tails_and_drops_them_on_conflicting_eos():
    a, _ = _eos_trie([[2, 3]])
    c, _ = _eos_trie([[4], [4, 5, 6]])
    u, starts = TokenAutomaton.union([a, c, free_automaton(V)])
    assert u.eos_id == EOS and u.max_tail == 3
    assert u.tails[starts[0], : u.tail_len[starts[0]]].tolist() == [2, 3, EOS]
    s = u.walk([4, 5], starts[1])
    assert u.tails[s, : u.tail_len[s]].tolist() == [6, EOS]
    assert int(u.tail_len[starts[2]]) == 0
    b = AutomatonBuilder(V, eos_id=0)
    s0 = b.new_state()
    b.add_edge(s0, 0, s0)
    other, _ = TokenAutomaton.union([a, b.build(s0)])
    assert other.eos_id is None and int(other.tail_len.sum()) == 0


def _most(fsa, tokens, state=None):
    s = fsa.walk(tokens, state)
    return int(fsa.max_remaining[s])


def test_longest_remaining_length_of_tries_free_states_and_cycles():
    from svtk.decoding.automata import UNBOUNDED

    fsa, _ = _eos_trie([[5, 6], [5, 6, 7], [8, 9, 10, 11]])
    assert _most(fsa, []) == 5  # 8 9 10 11 eos
    assert _most(fsa, [5]) == 3 and _most(fsa, [5, 6]) == 2 and _most(fsa, [5, 6, 7]) == 1
    assert _most(fsa, [8, 9]) == 3
    assert _most(fsa, [5, 6, EOS]) == 1  # the end state: eos again
    plain, _ = _trie([[5, 6]])  # no eos_id: the end is unknown
    assert int(plain.max_remaining.min()) == UNBOUNDED
    b = AutomatonBuilder(V, eos_id=EOS)
    s, loop_a, loop_b, free, final, short = (b.new_state() for _ in range(6))
    b.add_edge(final, EOS, final)
    b.add_edge(s, 2, loop_a)
    b.add_edge(loop_a, 3, loop_b)
    b.add_edge(loop_b, 4, loop_a)
    b.add_edge(loop_b, EOS, final)  # a cycle that may end: still any length
    b.add_edge(s, 5, free)
    b.set_free(free, forbidden=[EOS, 6])
    b.add_edge(free, 6, final)
    b.add_edge(s, 7, short)
    b.add_edge(short, EOS, final)
    fsa = b.build(s)
    assert _most(fsa, [2]) == UNBOUNDED and _most(fsa, [5]) == UNBOUNDED
    assert _most(fsa, []) == UNBOUNDED  # reaches both
    assert _most(fsa, [7]) == 1 and _most(fsa, [5, 6]) == 1
    u, starts = TokenAutomaton.union([_eos_trie([[2, 3]])[0], free_automaton(V)])
    assert int(u.max_remaining[starts[0]]) == 3 and int(u.max_remaining[starts[1]]) == UNBOUNDED
    moved = u.to("cpu")
    assert torch.equal(moved.max_remaining, u.max_remaining)


def _random_automaton(g: torch.Generator, vocab: int, n_states: int) -> TokenAutomaton:
    """States of every kind: closed with 1..vocab-1 edges, free with and without forbidden
    tokens, free with nothing forbidden."""
    b = AutomatonBuilder(vocab, eos_id=EOS)
    states = [b.new_state() for _ in range(n_states)]
    for i, s in enumerate(states):
        kind = i % 3
        if kind == 0:  # closed: a random number of edges
            k = int(torch.randint(1, vocab, (1,), generator=g))
            for tok in torch.randperm(vocab, generator=g)[:k].tolist():
                b.add_edge(s, tok, states[int(torch.randint(0, n_states, (1,), generator=g))])
        else:
            k = 0 if kind == 1 and i % 2 else int(torch.randint(0, vocab - 1, (1,), generator=g))
            b.set_free(s, forbidden=torch.randperm(vocab, generator=g)[:k].tolist())
    return b.build(states[0])


@pytest.mark.parametrize("sparse_max", [4096, 0])  # list masking, and the dense fallback
def test_list_masking_equals_the_dense_mask(monkeypatch, sparse_max):
    import svtk.decoding.automata as automata

    monkeypatch.setattr(automata, "SPARSE_MAX", sparse_max)
    g = torch.Generator().manual_seed(0)
    vocab = 40
    parts = [_random_automaton(g, vocab, n) for n in (7, 12, 5)] + [free_automaton(vocab)]
    u, _ = TokenAutomaton.union(parts)
    assert (u.mask_idx is None) == (sparse_max == 0)
    for fsa in parts + [u]:
        states = torch.randint(0, fsa.num_states, (64,), generator=g)
        scores = torch.randn(64, vocab, generator=g)
        dense = scores.masked_fill(fsa.forbidden[fsa.row_of[states]], float("-inf"))
        assert torch.equal(fsa.mask(scores, states), dense)
        assert torch.equal(fsa.mask_(scores.clone(), states), dense)
