"""Token n-gram LMs: Kneser-Ney against its textbook recursion, ARPA I/O, shallow fusion."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
import torch

from svtk.decoding.ngram import BOS, NgramFusedDecoder, NgramLM, train_kneser_ney
from svtk.decoding.search import beam_search, greedy_search, score_sequences
from svtk.testing.decoding import HashLogitsDecoder

EOS, V = 2, 16
VOCAB = list(range(3, V))


def _sentences(n: int = 150, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed)
    return [[rng.choice(VOCAB[:7]) for _ in range(rng.randint(1, 6))] for _ in range(n)]


def _contexts(n: int, seed: int = 1) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    out = [(BOS,), ()]
    for _ in range(n):
        ctx = tuple([BOS] + [rng.choice(VOCAB) for _ in range(rng.randint(0, 4))])
        out.append(ctx[rng.randint(0, len(ctx) - 1):])
    return out


def _textbook_kn(sentences, order, vocab, eos):
    """p(w | ctx) by the recursion of interpolated Kneser-Ney (Chen & Goodman 1998, one
    discount per order), written from the definitions and independent of svtk's tables."""
    raw = Counter()
    for s in sentences:
        seq = [BOS, *s, eos]
        for n in range(1, order + 1):
            for i in range(1, len(seq)):
                if i - n + 1 >= 0:
                    raw[tuple(seq[i - n + 1 : i + 1])] += 1

    def count(ngram):  # the count the order of ``ngram`` is estimated from
        if len(ngram) == order or ngram[0] == BOS:
            return raw[ngram]
        return len({g[0] for g in raw if len(g) == len(ngram) + 1 and g[1:] == ngram})

    by_order = {n: {g: count(g) for g in raw if len(g) == n} for n in range(1, order + 1)}
    discounts = {}
    for n, counts in by_order.items():
        n1 = sum(c == 1 for c in counts.values())
        n2 = sum(c == 2 for c in counts.values())
        discounts[n] = n1 / (n1 + 2 * n2) if n1 else 0.5
    words = sorted(set(vocab) | {eos})

    def p(w, ctx):
        n = len(ctx) + 1
        lower = 1.0 / len(words) if n == 1 else p(w, ctx[1:])
        ext = {g: c for g, c in by_order[n].items() if g[:-1] == ctx and c > 0}
        total = sum(ext.values())
        if not total:
            return lower
        d = discounts[n]
        return max(ext.get(ctx + (w,), 0) - d, 0) / total + d * len(ext) / total * lower

    return p


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_kneser_ney_is_the_textbook_recursion_and_sums_to_one(order):
    sents = _sentences()
    lm = train_kneser_ney(sents, order, VOCAB, EOS)
    textbook = _textbook_kn(sents, order, VOCAB, EOS)
    for ctx in _contexts(40):
        row = lm.row(ctx, V)
        assert float(row[VOCAB + [EOS]].exp().sum()) == pytest.approx(1.0, abs=1e-5)
        short = ctx[max(len(ctx) - order + 1, 0):]
        for w in (EOS, 3, 5, 15):
            assert math.exp(lm.logprob(ctx, w)) == pytest.approx(textbook(w, short), rel=1e-5)
            assert float(row[w]) == pytest.approx(lm.logprob(ctx, w), abs=1e-5)


def test_training_rejects_nothing_to_learn():
    with pytest.raises(ValueError, match="no training sentences"):
        train_kneser_ney([], 3, VOCAB, EOS)
    with pytest.raises(ValueError, match="order"):
        train_kneser_ney(_sentences(), 0, VOCAB, EOS)


class _Pieces:
    """A tokenizer's piece <-> id maps, as read_arpa / write_arpa use them."""

    def get_vocab(self):
        return {f"p{i}": i for i in VOCAB}

    def convert_ids_to_tokens(self, ids):
        return [f"p{i}" for i in ids]


@pytest.mark.parametrize("name", ["lm.arpa", "lm.arpa.gz"])
def test_arpa_round_trip(tmp_path, name):
    lm = train_kneser_ney(_sentences(), 3, VOCAB, EOS)
    tok = _Pieces()
    path = lm.write_arpa(tmp_path / name, tok.convert_ids_to_tokens, EOS)
    back = NgramLM.read_arpa(path, tok, EOS)
    assert back.order == 3 and back.num_ngrams == lm.num_ngrams
    assert back.unk == pytest.approx(lm.unk, abs=1e-5)
    for ctx in _contexts(30):
        torch.testing.assert_close(back.row(ctx, V), lm.row(ctx, V), atol=2e-5, rtol=0)


def test_arpa_of_another_toolkit(tmp_path):
    """A hand-written ARPA (as SRILM / KenLM write them): backoff queries by hand, <unk>,
    n-grams over pieces the tokenizer lacks dropped."""
    arpa = tmp_path / "other.arpa"
    arpa.write_text(
        "\\data\\\nngram 1=5\nngram 2=3\n\n"
        "\\1-grams:\n-1.0\t<unk>\n-0.5\t</s>\n-99\t<s>\t-0.25\n-0.3\tp3\t-0.1\n-0.7\tp4\n"
        "-0.2\tnot_a_piece\n\n"
        "\\2-grams:\n-0.2\t<s> p3\n-0.4\tp3 p4\n-0.1\tp3 not_a_piece\n\n\\end\\\n")
    lm = NgramLM.read_arpa(arpa, _Pieces(), EOS)
    ln10 = math.log(10)
    assert lm.order == 2
    assert lm.logprob((BOS,), 3) == pytest.approx(-0.2 * ln10)
    assert lm.logprob((BOS,), 4) == pytest.approx((-0.25 - 0.7) * ln10)  # bow(<s>) + p(p4)
    assert lm.logprob((3,), 4) == pytest.approx(-0.4 * ln10)
    assert lm.logprob((3,), EOS) == pytest.approx((-0.1 - 0.5) * ln10)
    assert lm.logprob((4,), 3) == pytest.approx(-0.3 * ln10)  # no backoff weight: 0
    assert lm.logprob((4,), 9) == pytest.approx(-1.0 * ln10)  # <unk>
    assert float(lm.row((BOS,), V)[9]) == pytest.approx(-0.25 * ln10 - 1.0 * ln10)
    bad = tmp_path / "bad.arpa"
    bad.write_text("hello\n")
    with pytest.raises(ValueError, match="ARPA"):
        NgramLM.read_arpa(bad, _Pieces(), EOS)


def _search(decoder, beam, B=3, max_new_tokens=10):
    embeds, mask = torch.zeros(B, 2, 4), torch.ones(B, 2, dtype=torch.long)
    if beam == 1:
        return greedy_search(decoder, embeds, mask, eos_id=EOS, pad_id=0,
                             max_new_tokens=max_new_tokens)
    return beam_search(decoder, embeds, mask, beam=beam, eos_id=EOS, pad_id=0,
                       max_new_tokens=max_new_tokens, early_stop=False)


@pytest.mark.parametrize("beam", [1, 3])
def test_fusion_adds_the_weighted_lm_to_weighted_rows_only(beam):
    lm = train_kneser_ney(_sentences(), 3, VOCAB, EOS)
    weights = torch.tensor([0.0, 0.5, 2.0])
    fused = NgramFusedDecoder(HashLogitsDecoder(V, seed=3), lm, weights)
    plain = _search(HashLogitsDecoder(V, seed=3), beam)
    res = _search(fused, beam)
    assert res.sequences[0] == plain.sequences[0]
    torch.testing.assert_close(res.scores[0], plain.scores[0])
    # every finished output's score is the decoder's plus w x the LM's (teacher-forced,
    # through the states the search reordered)
    embeds, mask = torch.zeros(3, 2, 4), torch.ones(3, 2, dtype=torch.long)
    llm = score_sequences(HashLogitsDecoder(V, seed=3), embeds, mask, res.sequences, eos_id=EOS)
    assert res.finished[1:].all()
    for i, seq in enumerate(res.sequences[1:], 1):
        ctx, lm_total = (BOS,), 0.0
        for t in [*seq, EOS]:
            lm_total += lm.logprob(ctx, t)
            ctx = (*ctx, t)
        assert float(res.scores[i]) == pytest.approx(float(llm[i]) + float(weights[i]) * lm_total,
                                                     abs=1e-3)


def test_a_heavy_lm_writes_its_own_most_likely_sentence():
    sents = [[5, 6, 7]] * 20 + [[8]] * 2
    lm = train_kneser_ney(sents, 3, VOCAB, EOS)
    res = _search(NgramFusedDecoder(HashLogitsDecoder(V, seed=1, scale=0.01), lm,
                                    torch.full((3,), 50.0)), 4)
    assert res.sequences == [[5, 6, 7]] * 3
