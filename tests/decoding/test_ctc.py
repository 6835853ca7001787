"""CTC prefix scores against brute force and torch's CTC loss; fusion with an LLM decoder."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from svtk.decoding.ctc import CTCFusedDecoder, CTCPrefixScorer
from svtk.decoding.search import beam_search, greedy_search
from svtk.testing.decoding import HashLogitsDecoder

BLANK, EOS = 0, 3


def _log_probs(B: int, T: int, V: int, seed: int = 0, eos_mass: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=g) * 2.0
    if not eos_mass:  # a CTC head trained on transcripts never emits the end-of-sequence id
        logits[..., EOS] = float("-inf")
    return logits.log_softmax(-1)


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], None
    for t in path:
        if t != prev and t != BLANK:
            out.append(t)
        prev = t
    return tuple(out)


def _brute(logp: torch.Tensor) -> tuple[dict, dict]:
    """Over every alignment of (T, V) log-probs: P(labels == y) and P(labels start with h)."""
    T, V = logp.shape
    whole: dict[tuple, float] = {}
    for path in itertools.product(range(V), repeat=T):
        p = math.exp(sum(float(logp[t, k]) for t, k in enumerate(path)))
        y = _collapse(path)
        whole[y] = whole.get(y, 0.0) + p
    prefix: dict[tuple, float] = {}
    for y, p in whole.items():
        for n in range(len(y) + 1):
            prefix[y[:n]] = prefix.get(y[:n], 0.0) + p
    return whole, prefix


def _walk(scorer: CTCPrefixScorer, depth: int):
    """(hypothesis, its summed deltas, the delta row) for every label sequence up to ``depth``
    over item 0, by advancing and reordering the scorer's state like a search does."""
    st = scorer.start()
    st = scorer.reorder(st, torch.tensor([0]))
    out = []

    def rec(st, hyp, total):
        st, row = scorer.score(st)
        out.append((hyp, total, row[0]))
        if len(hyp) == depth:
            return
        for c in range(1, scorer.ctc_vocab):
            if c == EOS:
                continue
            branch = scorer.reorder(st, torch.tensor([0]))
            rec(scorer.advance(branch, torch.tensor([c])), hyp + (c,), total + float(row[0, c]))

    rec(st, (), 0.0)
    return out


def test_prefix_and_whole_scores_match_brute_force():
    T, V = 4, 5
    logp = _log_probs(1, T, V, seed=3)
    whole, prefix = _brute(logp[0])
    scorer = CTCPrefixScorer(logp, torch.tensor([T]), blank_id=BLANK, eos_id=EOS, vocab_size=V + 2)
    for hyp, total, row in _walk(scorer, depth=3):
        if hyp not in prefix:  # more labels than the frames can hold (with repeats' blanks)
            assert total == float("-inf")
            continue
        assert total == pytest.approx(math.log(prefix[hyp]), abs=1e-4)
        for c in range(1, V):
            if c != EOS and hyp + (c,) in prefix:
                assert total + float(row[c]) == pytest.approx(math.log(prefix[hyp + (c,)]), abs=1e-4)
        if hyp in whole:  # end of sequence: the probability of exactly this transcript
            assert total + float(row[EOS]) == pytest.approx(math.log(whole[hyp]), abs=1e-4)
        assert row[BLANK] == float("-inf") and torch.isinf(row[V:]).all()


def test_next_token_scores_sum_to_one():
    """psi(g) = P(g) + sum_c psi(g + c): the deltas of a row (eos = P(g)) are a distribution."""
    logp = _log_probs(2, 9, 6, seed=1)
    scorer = CTCPrefixScorer(logp, torch.tensor([9, 6]), blank_id=BLANK, eos_id=EOS, vocab_size=8)
    st = scorer.start()
    for tok in ([1, 2], [1, 4], [2, 4]):
        st, row = scorer.score(st)
        assert torch.logsumexp(row, dim=-1) == pytest.approx(torch.zeros(2), abs=1e-4)
        st = scorer.advance(st, torch.tensor(tok))


@pytest.mark.parametrize("target", [[1, 2, 4], [1, 1, 2], [5, 5, 5], [2]])
def test_summed_scores_telescope_to_the_ctc_loss(target):
    T, V = 12, 6
    logp = _log_probs(1, T, V, seed=7)
    scorer = CTCPrefixScorer(logp, torch.tensor([T]), blank_id=BLANK, eos_id=EOS, vocab_size=V)
    st, total = scorer.start(), 0.0
    for c in target:
        st, row = scorer.score(st)
        total += float(row[0, c])
        st = scorer.advance(st, torch.tensor([c]))
    st, row = scorer.score(st)
    total += float(row[0, EOS])
    nll = F.ctc_loss(logp.transpose(0, 1), torch.tensor([target]), torch.tensor([T]),
                     torch.tensor([len(target)]), blank=BLANK, reduction="sum")
    assert total == pytest.approx(-float(nll), abs=1e-3)


def test_padded_item_scores_as_alone():
    logp = _log_probs(2, 10, 6, seed=2)
    lens = torch.tensor([10, 6])
    batch = CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS, vocab_size=6)
    alone = CTCPrefixScorer(logp[1:, :6], lens[1:], blank_id=BLANK, eos_id=EOS, vocab_size=6)
    sb, sa = batch.start(), alone.start()
    for c in (4, 4, 2):
        sb, rb = batch.score(sb)
        sa, ra = alone.score(sa)
        torch.testing.assert_close(rb[1], ra[0])
        sb, sa = batch.advance(sb, torch.tensor([1, c])), alone.advance(sa, torch.tensor([c]))


def test_a_prefix_longer_than_the_audio_is_impossible():
    logp = _log_probs(1, 2, 5, seed=4)
    scorer = CTCPrefixScorer(logp, torch.tensor([2]), blank_id=BLANK, eos_id=EOS, vocab_size=5)
    st = scorer.start()
    for c in (1, 2):
        st, row = scorer.score(st)
        st = scorer.advance(st, torch.tensor([c]))
    st, row = scorer.score(st)
    assert torch.isinf(row[0, [1, 2, 4]]).all() and torch.isfinite(row[0, EOS])


def _search(decoder, beam: int, B: int = 3, max_new_tokens: int = 12):
    embeds, mask = torch.zeros(B, 2, 4), torch.ones(B, 2, dtype=torch.long)
    if beam == 1:
        return greedy_search(decoder, embeds, mask, eos_id=EOS, pad_id=BLANK,
                             max_new_tokens=max_new_tokens)
    return beam_search(decoder, embeds, mask, beam=beam, eos_id=EOS, pad_id=BLANK,
                       max_new_tokens=max_new_tokens, early_stop=False)


@pytest.mark.parametrize("beam", [1, 3])
def test_weight_zero_is_the_llm_exactly(beam):
    V = 7
    logp = _log_probs(3, 9, 6, seed=5)
    scorer = CTCPrefixScorer(logp, torch.tensor([9, 7, 5]), blank_id=BLANK, eos_id=EOS, vocab_size=V)
    plain = _search(HashLogitsDecoder(V, seed=1), beam)
    fused = _search(CTCFusedDecoder(HashLogitsDecoder(V, seed=1), scorer, torch.zeros(3)), beam)
    assert fused.sequences == plain.sequences
    torch.testing.assert_close(fused.scores, plain.scores)


@pytest.mark.parametrize("beam", [1, 3])
def test_weight_one_scores_are_ctc_log_likelihoods(beam):
    """Only the CTC term: a finished hypothesis scores log P_ctc(y) (the deltas telescope);
    a row of weight 0 in the same batch decodes as the LLM alone."""
    V, T = 7, 9
    logp = _log_probs(3, T, 6, seed=6)
    lens = torch.tensor([9, 7, 5])
    scorer = CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS, vocab_size=V)
    res = _search(CTCFusedDecoder(HashLogitsDecoder(V, seed=2), scorer,
                                  torch.tensor([1.0, 1.0, 0.0])), beam)
    for i in range(2):
        assert res.finished[i]
        y = res.sequences[i] or [EOS]  # an empty transcript: compare with all blanks
        if res.sequences[i]:
            nll = F.ctc_loss(logp[i:i + 1, : lens[i]].transpose(0, 1), torch.tensor([y]),
                             lens[i:i + 1], torch.tensor([len(y)]), blank=BLANK, reduction="sum")
            expected = -float(nll)
        else:
            expected = float(logp[i, : lens[i], BLANK].sum())
        assert float(res.scores[i]) == pytest.approx(expected, abs=1e-3)
    alone = _search(HashLogitsDecoder(V, seed=2), beam)
    assert res.sequences[2] == alone.sequences[2]


def test_joint_rows_fuse_only_their_transcript():
    """``HEAD <transcript> NEUTRAL END ...``: the LLM alone before and after the transcript;
    inside it the fused score, the end token scoring the whole transcript; the neutral piece
    (sentencepiece's bare ``▁`` before ``|``) is not read by CTC and scores as the transcript's
    end, which the end token right after it then does not pay again."""
    from svtk.decoding.ctc import TranscriptSpan

    V, w = 10, 0.5
    head, end, neutral = (5, 6), 7, 8
    logp = _log_probs(2, 8, 6, seed=8)
    lens = torch.tensor([8, 8])
    span = TranscriptSpan((head,), (end,), (neutral,))
    fused = CTCFusedDecoder(HashLogitsDecoder(V, seed=3),
                            CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS, vocab_size=V),
                            torch.tensor([w, w]), torch.tensor([True, True]), span)
    llm = HashLogitsDecoder(V, seed=3)
    ref = CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS, vocab_size=V)
    embeds, mask = torch.zeros(2, 2, 4), torch.ones(2, 2, dtype=torch.long)

    def ctc_row(prefix, after_neutral=False):  # the CTC deltas of item 0 after ``prefix``
        st = ref.reorder(ref.start(), torch.tensor([0]))
        for c in prefix:
            st, _ = ref.score(st)
            st = ref.advance(st, torch.tensor([c]))
        row = ref.score(st)[1][0]
        row[end] = 0.0 if after_neutral else row[EOS]
        row[neutral] = row[EOS]
        return row

    # item 0 writes the joint form; item 1 starts with another token and never fuses
    seqs = [[5, 6, 1, 2, neutral, end, 4, 1], [6, 1, 2, end, 4, 1, 1, 1]]
    inside = {2: (), 3: (1,), 4: (1, 2), 5: (1, 2)}  # step -> transcript so far (item 0)
    after_neutral = {5}
    st, lp = fused.start(embeds, mask)
    lst, lr = llm.start(embeds, mask)
    for t in range(len(seqs[0])):
        torch.testing.assert_close(lp[1], lr[1])
        if t in inside:
            exp = (1 - w) * lr[0] + w * ctc_row(inside[t], t in after_neutral)
            torch.testing.assert_close(lp[0], exp)
        else:
            torch.testing.assert_close(lp[0], lr[0])
        tok = torch.tensor([seqs[0][t], seqs[1][t]])
        st, lp = fused.step(st, tok)
        lst, lr = llm.step(lst, tok)


def test_pre_beam_scores_its_candidates_exactly_and_leaves_out_the_rest():
    V = 9
    logp = _log_probs(2, 8, V, seed=11)
    scorer = CTCPrefixScorer(logp, torch.tensor([8, 6]), blank_id=BLANK, eos_id=EOS, vocab_size=V)
    st = scorer.start()
    st, exact = scorer.score(st)
    st = scorer.advance(st, torch.tensor([5, 5]))  # "5" so far; a candidate 5 is a repeat
    _, exact = scorer.score(st)
    cand = torch.tensor([[5, 2, 7], [1, 5, 8]])
    _, part = scorer.score(st, cand)
    for i in range(2):
        kept = set(cand[i].tolist()) | {EOS}
        for tok in range(V):
            if tok in kept:
                assert float(part[i, tok]) == pytest.approx(float(exact[i, tok]), abs=1e-5)
            else:
                assert part[i, tok] == float("-inf")


@pytest.mark.parametrize("beam", [1, 3])
def test_pre_beam_search_scores_equal_exact_rescoring(beam):
    """With a pre-beam the CTC state follows the chosen candidate's column: every output's
    score equals the exact fused model's score of that output (teacher-forced)."""
    from svtk.decoding.search import score_sequences

    V, T = 12, 10
    logp = _log_probs(3, T, V, seed=12)
    lens = torch.tensor([10, 8, 6])

    def fused(pre_beam):
        scorer = CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS, vocab_size=V)
        return CTCFusedDecoder(HashLogitsDecoder(V, seed=4), scorer, torch.full((3,), 0.5),
                               pre_beam=pre_beam)

    res = _search(fused(4), beam)
    assert all(res.finished)
    embeds, mask = torch.zeros(3, 2, 4), torch.ones(3, 2, dtype=torch.long)
    rescored = score_sequences(fused(0), embeds, mask, res.sequences, eos_id=EOS)
    torch.testing.assert_close(res.scores, rescored, atol=1e-4, rtol=0)
    # a pre-beam as wide as the CTC vocabulary is exact scoring
    wide, exact = _search(fused(V), beam), _search(fused(0), beam)
    assert wide.sequences == exact.sequences


def test_pre_beam_keeps_ctc_alone_exact():
    V = 8
    logp = _log_probs(2, 7, V, seed=13)
    lens = torch.tensor([7, 5])
    runs = [_search(CTCFusedDecoder(HashLogitsDecoder(V, seed=5),
                                    CTCPrefixScorer(logp, lens, blank_id=BLANK, eos_id=EOS,
                                                    vocab_size=V),
                                    torch.ones(2), pre_beam=k), 1, B=2) for k in (0, 2)]
    assert runs[0].sequences == runs[1].sequences
    torch.testing.assert_close(runs[0].scores, runs[1].scores)


def test_pre_beam_keeps_span_pieces_as_candidates_of_plain_rows():
    """The separator's pieces end a joint row's transcript (scored anyway); in a plain ASR row
    of the same batch they are transcript pieces and stay pre-beam candidates."""
    from svtk.decoding.ctc import TranscriptSpan

    V = 10
    embeds, mask = torch.zeros(2, 2, 4), torch.ones(2, 2, dtype=torch.long)
    _, lp = HashLogitsDecoder(V, seed=7).start(embeds, mask)
    lp[:, [BLANK, EOS]] = float("-inf")
    best = int(lp[0].argmax())  # the LLM's first choice for item 0
    span = TranscriptSpan(heads=((best,),), ends=(best,), neutral=())
    logp = _log_probs(2, 8, V, seed=9)
    fused = CTCFusedDecoder(HashLogitsDecoder(V, seed=7),
                            CTCPrefixScorer(logp, torch.tensor([8, 8]), blank_id=BLANK,
                                            eos_id=EOS, vocab_size=V),
                            torch.tensor([0.5, 0.5]), torch.tensor([False, False]), span,
                            pre_beam=2)
    _, out = fused.start(embeds, mask)
    assert torch.isfinite(out[0, best])


def test_ctc_prefix_search_finds_the_most_probable_labelling():
    """A beam wider than every prefix (3 labels, 3 frames: 40 prefixes) is exact: the output is
    the labelling of highest CTC probability over every alignment (brute force); the greedy
    prefix search's output is never more probable."""
    from svtk.decoding.ctc import ctc_prefix_search

    V, T = 5, 3  # ids: blank 0, labels 1, 2, 4, eos 3
    for seed in range(6):
        logp = _log_probs(1, T, V, seed=20 + seed)
        whole, _ = _brute(logp[0])
        best = max(whole, key=whole.get)
        kw = dict(blank_id=BLANK, eos_id=EOS, length_penalty=0.0)
        exact = ctc_prefix_search(logp, torch.tensor([T]), beam=64, **kw)[0]
        assert tuple(exact) == best
        greedy = ctc_prefix_search(logp, torch.tensor([T]), beam=1, **kw)[0]
        assert whole[tuple(greedy)] <= whole[best] + 1e-9
