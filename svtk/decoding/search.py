"""Batched greedy and beam search over an incremental decoder, optionally constrained.

Written once for every LLM kind (``svtk.decoding.incremental``). A constraint is a
:class:`~svtk.decoding.automata.TokenAutomaton` plus one start state per item, so a batch can
mix tasks (a label set here, a slot grammar there, free text elsewhere); masking and advancing
are tensor ops on the state vector, never a loop over items.

Beam search keeps finished hypotheses in the beam with their score frozen (they extend only with
padding at no cost), ranks by summed log-probability, stops when every beam of every item has
ended, and picks the final hypothesis by ``score / length ** length_penalty`` (length counts the
end-of-sequence token). With ``beam=1`` it is greedy search.

Usage::

    res = greedy_search(dec, embeds, mask, eos_id=tok.eos_token_id, max_new_tokens=64,
                        constraint=Constraint(fsa, fsa.start_states(B)))
    texts = tok.batch_decode(res.sequences)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from svtk.decoding.automata import TokenAutomaton
from svtk.decoding.incremental import IncrementalDecoder

NEG_INF = float("-inf")


@dataclass
class Constraint:
    """An automaton and the state each item starts in (``starts (B,)``)."""

    automaton: TokenAutomaton
    starts: torch.Tensor  # (B,) long


@dataclass
class SearchResult:
    sequences: list[list[int]]  # per item, generated ids without end-of-sequence and padding
    scores: torch.Tensor  # (B,) summed log-probability of the chosen hypothesis (with eos)
    lengths: torch.Tensor  # (B,) tokens generated, counting eos
    finished: torch.Tensor  # (B,) bool: ended with eos (False: cut by max_new_tokens)
    steps: int  # decoder steps run (for benchmarks)


def _strip(row: torch.Tensor, length: int, eos_id: int) -> list[int]:
    ids = row[:length].tolist()
    if ids and ids[-1] == eos_id:
        ids = ids[:-1]
    return ids


def _prepare(constraint: Constraint | None, device, B: int):
    if constraint is None:
        return None, None
    fsa = constraint.automaton
    if fsa.device != device:
        fsa = fsa.to(device)
    return fsa, constraint.starts.to(device)


@torch.inference_mode()
def greedy_search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *,
                  eos_id: int, pad_id: int | None = None, max_new_tokens: int = 128,
                  constraint: Constraint | None = None) -> SearchResult:
    """Greedy decoding of a batch: ``embeds (B, T, D)``, ``mask (B, T)``."""
    pad_id = eos_id if pad_id is None else pad_id
    B, device = embeds.shape[0], embeds.device
    fsa, cstate = _prepare(constraint, device, B)
    state, logp = decoder.start(embeds, mask)  # (B, V)
    out = torch.full((B, max_new_tokens), pad_id, dtype=torch.long, device=device)
    scores = torch.zeros(B, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)
    steps = 0
    for t in range(max_new_tokens):
        if fsa is not None:
            logp = fsa.mask_(logp, cstate)  # logp is this step's own tensor
        best, tok = logp.max(dim=-1)  # (B,), (B,)
        live = ~finished
        tok = torch.where(live, tok, pad_id)
        scores += torch.where(live, best, 0.0)
        lengths += live
        out[:, t] = tok
        if fsa is not None:
            cstate = torch.where(live, fsa.advance(cstate, tok), cstate)
        finished |= tok == eos_id
        steps = t + 1
        if t + 1 == max_new_tokens or bool(finished.all()):
            break
        state, logp = decoder.step(state, tok)
    seqs = [_strip(out[i], int(lengths[i]), eos_id) for i in range(B)]
    return SearchResult(seqs, scores, lengths, finished, steps)


@torch.inference_mode()
def beam_search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *,
                beam: int, eos_id: int, pad_id: int | None = None, max_new_tokens: int = 128,
                length_penalty: float = 1.0, constraint: Constraint | None = None) -> SearchResult:
    """Beam search of a batch: ``embeds (B, T, D)``, ``mask (B, T)``; ``beam`` hypotheses each."""
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    pad_id = eos_id if pad_id is None else pad_id
    B, K, device = embeds.shape[0], beam, embeds.device
    fsa, cstate = _prepare(constraint, device, B)
    state, logp = decoder.start(embeds, mask)  # (B, V)
    V = logp.shape[-1]
    expand = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,)
    state, logp = decoder.reorder(state, expand), logp.index_select(0, expand)  # (B*K, V)
    if fsa is not None:
        cstate = cstate.index_select(0, expand)
    scores = torch.full((B, K), NEG_INF, device=device)
    scores[:, 0] = 0.0  # all beams start identical: only the first may expand at step 0
    hist = torch.full((B * K, max_new_tokens), pad_id, dtype=torch.long, device=device)
    lengths = torch.zeros(B * K, dtype=torch.long, device=device)
    finished = torch.zeros(B * K, dtype=torch.bool, device=device)
    pad_row = torch.full((V,), NEG_INF, device=device)
    pad_row[pad_id] = 0.0  # a finished beam extends only with padding, at no cost
    base = (torch.arange(B, device=device) * K)[:, None]  # (B, 1)
    steps = 0
    for t in range(max_new_tokens):
        if fsa is not None:
            logp = fsa.mask_(logp, cstate)
        logp = torch.where(finished[:, None], pad_row, logp)
        cand = (scores.view(B * K, 1) + logp).view(B, K * V)
        top, idx = cand.topk(K, dim=-1)  # (B, K)
        src = (base + torch.div(idx, V, rounding_mode="floor")).view(-1)  # (B*K,)
        tok = (idx % V).view(-1)  # (B*K,)
        was_finished = finished.index_select(0, src)
        dead = top.view(-1) == NEG_INF  # fewer allowed continuations than beams
        tok = torch.where(was_finished | dead, pad_id, tok)
        hist = hist.index_select(0, src)
        hist[:, t] = tok
        live = ~was_finished & ~dead
        lengths = lengths.index_select(0, src) + live
        finished = was_finished | dead | (tok == eos_id)
        scores = top
        if fsa is not None:
            cstate = cstate.index_select(0, src)
            cstate = torch.where(live, fsa.advance(cstate, tok), cstate)
        steps = t + 1
        if t + 1 == max_new_tokens or bool(finished.all()):
            break
        state = decoder.reorder(state, src)
        state, logp = decoder.step(state, tok)
    flat = scores.view(-1)
    norm = flat / lengths.clamp(min=1).float().pow(length_penalty)
    norm = torch.where(flat == NEG_INF, NEG_INF, norm).view(B, K)
    best = base.view(-1) + norm.argmax(dim=-1)  # (B,)
    seqs = [_strip(hist[i], int(lengths[i]), eos_id) for i in best.tolist()]
    ended = torch.tensor([bool(hist[i, lengths[i] - 1] == eos_id) if lengths[i] > 0 else False
                          for i in best.tolist()], device=device)
    return SearchResult(seqs, flat[best], lengths[best], ended, steps)


def search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *, beam: int = 1,
           **kwargs) -> SearchResult:
    """Greedy for ``beam == 1`` (cheaper bookkeeping), else beam search."""
    if beam == 1:
        kwargs.pop("length_penalty", None)
        return greedy_search(decoder, embeds, mask, **kwargs)
    return beam_search(decoder, embeds, mask, beam=beam, **kwargs)


@torch.inference_mode()
def score_sequences(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor,
                    sequences: list[list[int]], *, eos_id: int, add_eos: bool = True,
                    constraint: Constraint | None = None) -> torch.Tensor:
    """Summed log-probability (B,) of each ``sequence (+ [eos])`` under the model (teacher
    forcing), with the constraint's masking applied as in search. -inf if a token is forbidden."""
    B, device = embeds.shape[0], embeds.device
    fsa, cstate = _prepare(constraint, device, B)
    seqs = [list(s) + ([eos_id] if add_eos else []) for s in sequences]
    L = max(len(s) for s in seqs)
    tokens = torch.full((B, L), eos_id, dtype=torch.long, device=device)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    lens = torch.tensor([len(s) for s in seqs], device=device)
    state, logp = decoder.start(embeds, mask)
    total = torch.zeros(B, device=device)
    for t in range(L):
        if fsa is not None:
            logp = fsa.mask(logp, cstate)
            cstate = fsa.advance(cstate, tokens[:, t])
        lp = logp.gather(1, tokens[:, t : t + 1]).squeeze(1)
        total += torch.where(t < lens, lp, 0.0)
        if t + 1 < L:
            state, logp = decoder.step(state, tokens[:, t])
    return total
