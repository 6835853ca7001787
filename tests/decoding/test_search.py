"""Search over tiny HF LLMs built from configs (saved and reloaded through from_pretrained):
batched = per item, greedy = HF generate, beam 1 = greedy, beam >= greedy, scores are real."""

from __future__ import annotations

import pytest
import torch

from svtk.decoding.grammars import build_grammar
from svtk.decoding.incremental import make_decoder
from svtk.decoding.search import Constraint, beam_search, greedy_search, score_sequences
from svtk.testing.decoding import LABELS

LENS = [7, 4, 2, 6, 5]


@pytest.fixture(params=["llama", "qwen", "t5"])
def setup(request, llama, qwen, t5, bpe_tok, uni_tok):
    model = {"llama": llama, "qwen": qwen, "t5": t5}[request.param]
    tok = uni_tok if request.param == "t5" else bpe_tok
    dec = make_decoder(None, model)
    left = dec.llm_kind == "decoder-only"
    D = model.get_input_embeddings().weight.shape[1]
    g = torch.Generator().manual_seed(0)
    T = max(LENS)
    embeds = torch.zeros(len(LENS), T, D)
    mask = torch.zeros(len(LENS), T, dtype=torch.long)
    items = []
    for i, L in enumerate(LENS):
        x = torch.randn(L, D, generator=g)
        sl = slice(T - L, T) if left else slice(0, L)
        embeds[i, sl], mask[i, sl] = x, 1
        items.append(x)
    return model, tok, dec, embeds, mask, items


def _kw(tok, n=10):
    return dict(eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_new_tokens=n)


def test_batched_greedy_equals_per_item(setup):
    model, tok, dec, embeds, mask, items = setup
    batched = greedy_search(dec, embeds, mask, **_kw(tok))
    for i, x in enumerate(items):
        one = greedy_search(dec, x[None], torch.ones(1, x.shape[0], dtype=torch.long), **_kw(tok))
        assert one.sequences[0] == batched.sequences[i]
        assert one.scores[0].item() == pytest.approx(batched.scores[i].item(), abs=1e-3)


def test_greedy_equals_hf_generate(setup):
    model, tok, dec, embeds, mask, _ = setup
    ours = greedy_search(dec, embeds, mask, **_kw(tok, 8))
    hf = model.generate(inputs_embeds=embeds, attention_mask=mask, max_new_tokens=8,
                        do_sample=False, num_beams=1, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id)
    if dec.llm_kind == "encoder-decoder":
        hf = hf[:, 1:]  # drop the decoder start token
    for i, seq in enumerate(ours.sequences):
        row = hf[i].tolist()
        if tok.eos_token_id in row:
            row = row[: row.index(tok.eos_token_id)]
        assert seq == row[: len(seq)] and len(seq) == len(row)


def test_beam_one_is_greedy_and_scores_are_model_scores(setup):
    model, tok, dec, embeds, mask, _ = setup
    greedy = greedy_search(dec, embeds, mask, **_kw(tok))
    beam1 = beam_search(dec, embeds, mask, beam=1, **_kw(tok))
    assert beam1.sequences == greedy.sequences
    assert torch.allclose(beam1.scores, greedy.scores, atol=1e-4)
    finished = [s for s, f in zip(greedy.sequences, greedy.finished.tolist(), strict=True) if f]
    if finished:  # teacher-forced rescoring reproduces the search's own scores (eos included)
        idx = [i for i, f in enumerate(greedy.finished.tolist()) if f]
        rescored = score_sequences(dec, embeds[idx], mask[idx], finished, eos_id=tok.eos_token_id)
        assert torch.allclose(rescored, greedy.scores[idx], atol=1e-3)


def test_beam_finds_at_least_as_good_as_greedy_under_constraint(setup):
    model, tok, dec, embeds, mask, _ = setup
    fsa = build_grammar("labels", tok, dec.vocab_size, labels=LABELS)
    c = Constraint(fsa, fsa.start_states(embeds.shape[0]))
    greedy = greedy_search(dec, embeds, mask, constraint=c, **_kw(tok, 12))
    beam = beam_search(dec, embeds, mask, beam=len(LABELS) * 2, length_penalty=0.0,
                       constraint=c, **_kw(tok, 12))
    assert bool(beam.finished.all()) and bool(greedy.finished.all())
    # greedy's forced tails score 0 (jump-forward): compare with the model's own score of them
    greedy_model = score_sequences(dec, embeds, mask, greedy.sequences, eos_id=tok.eos_token_id,
                                   constraint=c)
    assert (greedy.scores >= greedy_model - 1e-4).all()
    assert (beam.scores >= greedy_model - 1e-4).all()
    # the returned score is the model's own (constrained) score of the returned sequence
    rescored = score_sequences(dec, embeds, mask, beam.sequences, eos_id=tok.eos_token_id,
                               constraint=c)
    assert torch.allclose(rescored, beam.scores, atol=1e-3)
    # with a beam wide enough to hold every label path, beam search is exact: it beats any label
    for lab in LABELS[:3]:
        ids = tok(lab, add_special_tokens=False)["input_ids"]
        forced = score_sequences(dec, embeds, mask, [ids] * embeds.shape[0],
                                 eos_id=tok.eos_token_id, constraint=c)
        assert (beam.scores >= forced - 1e-4).all()


def test_free_beam_search_scores_match_rescoring(setup):
    model, tok, dec, embeds, mask, _ = setup
    res = beam_search(dec, embeds, mask, beam=3, length_penalty=1.0, **_kw(tok, 6))
    for i, (seq, done) in enumerate(zip(res.sequences, res.finished.tolist(), strict=True)):
        s = score_sequences(dec, embeds[i : i + 1], mask[i : i + 1], [seq],
                            eos_id=tok.eos_token_id, add_eos=done)
        assert s.item() == pytest.approx(res.scores[i].item(), abs=1e-3)


class _Counting:
    """Wraps a decoder, counting the rows each step runs on."""

    def __init__(self, dec):
        self.dec, self.rows = dec, []
        self.llm_kind, self.vocab_size = dec.llm_kind, dec.vocab_size

    def start(self, embeds, mask):
        return self.dec.start(embeds, mask)

    def step(self, state, tokens):
        self.rows.append(tokens.shape[0])
        return self.dec.step(state, tokens)

    def reorder(self, state, index):
        return self.dec.reorder(state, index)


def test_compaction_and_jump_forward_keep_outputs(setup):
    """Label items end early (some by a forced tail) and leave the batch; free items go on
    with the KV cache rows of the survivors only (decoder-only and encoder-decoder)."""
    from svtk.decoding.automata import TokenAutomaton, free_automaton

    model, tok, dec, embeds, mask, _ = setup
    labels = build_grammar("labels", tok, dec.vocab_size, labels=LABELS)
    fsa, (lab, free) = TokenAutomaton.union([labels, free_automaton(dec.vocab_size)])
    B = embeds.shape[0]
    c = Constraint(fsa, torch.tensor([lab if i % 2 else free for i in range(B)]))
    ref = greedy_search(dec, embeds, mask, constraint=c, jump_forward=False, compact_below=0.0,
                        **_kw(tok, 12))
    counting = _Counting(dec)
    fast = greedy_search(counting, embeds, mask, constraint=c, compact_below=1.01, **_kw(tok, 12))
    assert fast.sequences == ref.sequences
    assert fast.finished.tolist() == ref.finished.tolist()
    assert fast.lengths.tolist() == ref.lengths.tolist()
    assert counting.rows[0] < B  # label items dropped out after the first token
    assert counting.rows == sorted(counting.rows, reverse=True)
    for i in range(0, B, 2):  # free items: the model's own scores, untouched by the constraint
        assert fast.scores[i].item() == pytest.approx(ref.scores[i].item(), abs=1e-4)
    plain = greedy_search(dec, embeds, mask, compact_below=1.01, **_kw(tok, 12))
    assert [plain.sequences[i] for i in range(0, B, 2)] == [ref.sequences[i] for i in range(0, B, 2)]


def test_beam_compaction_keeps_outputs(setup):
    from svtk.decoding.automata import TokenAutomaton, free_automaton

    model, tok, dec, embeds, mask, _ = setup
    labels = build_grammar("labels", tok, dec.vocab_size, labels=LABELS)
    fsa, (lab, free) = TokenAutomaton.union([labels, free_automaton(dec.vocab_size)])
    B = embeds.shape[0]
    c = Constraint(fsa, torch.tensor([lab if i % 2 else free for i in range(B)]))
    ref = beam_search(dec, embeds, mask, beam=3, constraint=c, compact_below=0.0, **_kw(tok, 12))
    counting = _Counting(dec)
    fast = beam_search(counting, embeds, mask, beam=3, constraint=c, compact_below=1.01,
                       **_kw(tok, 12))
    assert fast.sequences == ref.sequences
    assert fast.finished.tolist() == ref.finished.tolist()
    assert torch.allclose(fast.scores, ref.scores, atol=1e-4)
    assert counting.rows[-1] < 3 * B  # finished label items left the batch


@pytest.mark.parametrize("beam", [1, 3])
def test_length_caps_end_items_where_the_grammar_allows(setup, beam):
    """``max_lengths`` (ESPnet's maxlenratio): a free item at its cap ends with eos, its tokens
    before the cap as without caps (greedy); a label item whose grammar forbids eos at its cap
    goes on and still ends in a label."""
    from svtk.decoding.automata import TokenAutomaton, free_automaton
    from svtk.decoding.search import search

    model, tok, dec, embeds, mask, _ = setup
    labels = build_grammar("labels", tok, dec.vocab_size, labels=LABELS)
    fsa, (lab, free) = TokenAutomaton.union([labels, free_automaton(dec.vocab_size)])
    c = Constraint(fsa, torch.tensor([free, free, free, lab, free]))
    caps = torch.tensor([1, 3, 6, 1, 13])
    kw = dict(beam=beam, constraint=c, **_kw(tok, 12))
    ref = search(dec, embeds, mask, **kw)
    out = search(dec, embeds, mask, max_lengths=caps, **kw)
    eos = tok.eos_token_id
    capped = 0
    for i in (0, 1, 2):
        assert out.lengths[i] <= caps[i]
        if ref.lengths[i] > caps[i]:
            capped += 1
            assert out.finished[i] and out.lengths[i] == caps[i]
            if beam == 1:
                assert out.sequences[i] == ref.sequences[i][: int(caps[i]) - 1]
        elif beam == 1:
            assert out.sequences[i] == ref.sequences[i]
    assert capped >= 2  # random weights rarely end on their own: the caps did the work
    assert out.lengths[3] > 1 and fsa.walk(out.sequences[3] + [eos], state=lab) is not None
    if beam == 1:
        assert out.sequences[4] == ref.sequences[4]  # a cap past max_new_tokens changes nothing
