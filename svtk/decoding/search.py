"""Batched greedy and beam search over an incremental decoder, optionally constrained.

Written once for every LLM kind (``svtk.decoding.incremental``). A constraint is a
:class:`~svtk.decoding.automata.TokenAutomaton` plus one start state per item, so a batch can
mix tasks (a label set here, a slot grammar there, free text elsewhere); masking and advancing
are tensor ops on the state vector, never a loop over items.

Beam search keeps finished hypotheses in the beam with their score frozen (they extend only with
padding at no cost), ranks by summed log-probability, and picks the final hypothesis by
``score / length ** length_penalty`` (length counts the end-of-sequence token). With ``beam=1``
it is greedy search. An item stops when every beam has ended, or earlier when the result can no
longer change (*exact early stop*): its best finished hypothesis F outranks every open one (so
F stays in the beam) and beats the best normalised score any open one could still reach (its
score so far, which can only fall, over the longest length it may still reach: the length cap,
or fewer where the constraint's automaton ends sooner, ``max_remaining``). ``early_stop=False``
runs every item until all its beams end (the reference the tests compare with).

Two shortcuts leave the outputs unchanged and save decoder work:

- *jump-forward* (greedy): an item whose automaton state has a forced tail (every remaining
  step allows one token, up to end of sequence; see :mod:`svtk.decoding.automata`) ends at once
  with the tail appended. In a label set, the model runs only until the pieces so far pick one
  label, often just the prefill;
- *compaction* (greedy and beam): when the items still decoding fall below ``compact_below``
  of the rows in the decoder state, the state keeps only their rows (``decoder.reorder`` with a
  subset), so in a mixed batch the long free-text items do not drag finished ones along.

Usage::

    res = greedy_search(dec, embeds, mask, eos_id=tok.eos_token_id, max_new_tokens=64,
                        constraint=Constraint(fsa, fsa.start_states(B)))
    texts = tok.batch_decode(res.sequences)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from svtk.decoding.automata import UNBOUNDED, TokenAutomaton
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
    # (B,) summed log-probability of the chosen hypothesis (with eos), under the constraint's
    # masking without renormalisation. Tokens appended by greedy jump-forward (a forced tail)
    # add 0: they are certain under the constraint and the model is not run for them, so such
    # a score is the sum over the tokens the model chose, not the model's score of the whole
    # sequence (``score_sequences`` gives that).
    scores: torch.Tensor
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


def _cap_(logp: torch.Tensor, t: int, caps: torch.Tensor | None, eos_id: int) -> torch.Tensor:
    """In place: rows whose length cap ``caps (N,)`` (most tokens, eos included) is reached at
    step ``t`` may only end; a row whose constraint forbids eos there is left alone (it ends by
    its grammar or at max_new_tokens)."""
    if caps is None:
        return logp
    stop = (caps <= t + 1) & (logp[:, eos_id] > NEG_INF)  # (N,)
    if bool(stop.any()):
        keep = logp[:, eos_id].clone()
        logp.masked_fill_(stop[:, None], NEG_INF)
        logp[:, eos_id] = torch.where(stop, keep, logp[:, eos_id])
    return logp


@torch.inference_mode()
def greedy_search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *,
                  eos_id: int, pad_id: int | None = None, max_new_tokens: int = 128,
                  constraint: Constraint | None = None, jump_forward: bool = True,
                  compact_below: float = 0.75,
                  max_lengths: torch.Tensor | None = None) -> SearchResult:
    """Greedy decoding of a batch: ``embeds (B, T, D)``, ``mask (B, T)``.

    ``max_lengths (B,)``: the most tokens (end-of-sequence included) each item may generate,
    like ESPnet's ``maxlenratio`` (see ``DecodeConfig.max_len_ratio``): at its cap an item can
    only end, where its constraint allows the end. Forced tails are not cut by it.

    ``jump_forward``: an item whose automaton state has a forced tail (see
    :mod:`svtk.decoding.automata`) ends at once with the tail appended, without decoder steps
    for it (needs ``constraint.automaton.eos_id == eos_id``). ``compact_below``: when the
    fraction of rows still decoding drops below this, the decoder state keeps only those rows
    (``decoder.reorder`` with a subset), so later steps run on fewer rows; 0 never compacts.
    Neither changes the output sequences; jump-forward changes ``scores`` (see SearchResult).
    """
    pad_id = eos_id if pad_id is None else pad_id
    B, device = embeds.shape[0], embeds.device
    fsa, cstate = _prepare(constraint, device, B)
    caps = None if max_lengths is None else max_lengths.to(device)
    jump = fsa is not None and jump_forward and fsa.eos_id == eos_id and fsa.max_tail > 0
    L = fsa.max_tail if jump else 0
    out = torch.full((B, max_new_tokens + L), pad_id, dtype=torch.long, device=device)
    scores = torch.zeros(B, device=device)
    lengths = torch.zeros(B, dtype=torch.long, device=device)
    finished = torch.zeros(B, dtype=torch.bool, device=device)  # ended with eos
    done = torch.zeros(B, dtype=torch.bool, device=device)  # ended, or cut by max_new_tokens
    rows = torch.arange(B, device=device)  # (N,) item of each row of the decoder state

    def forced(rows: torch.Tensor, cst: torch.Tensor, col: int) -> None:
        """Finish the items of ``rows`` whose state ``cst`` has a forced tail, which is written
        from column ``col`` on (cut at max_new_tokens like any other output)."""
        tl = fsa.tail_len[cst]  # (N,)
        hit = (tl > 0) & ~done[rows]
        tail = torch.where(hit[:, None] & (fsa.tails[cst] >= 0), fsa.tails[cst], pad_id)
        out[rows, col : col + L] = torch.where(hit[:, None], tail, out[rows, col : col + L])
        room = max_new_tokens - col
        lengths.index_add_(0, rows, torch.where(hit, tl.clamp(max=room), 0))
        finished[rows] = finished[rows] | (hit & (tl <= room))
        done[rows] = done[rows] | hit

    if jump:
        forced(rows, cstate, 0)
        if bool(done.all()):  # every item forced from the start: no need for the model
            seqs = [_strip(out[i], int(lengths[i]), eos_id) for i in range(B)]
            return SearchResult(seqs, scores, lengths, finished, 0)
    state, logp = decoder.start(embeds, mask)  # (B, V)
    steps = 0
    for t in range(max_new_tokens):
        if fsa is not None:
            logp = fsa.mask_(logp, cstate)  # logp is this step's own tensor
        _cap_(logp, t, None if caps is None else caps[rows], eos_id)
        best, tok = logp.max(dim=-1)  # (N,), (N,)
        live = ~done[rows]  # (N,)
        tok = torch.where(live, tok, pad_id)
        scores.index_add_(0, rows, torch.where(live, best, 0.0))
        lengths.index_add_(0, rows, live.long())
        out[rows, t] = torch.where(live, tok, out[rows, t])  # keep forced tails written there
        ended = live & (tok == eos_id)
        finished[rows] = finished[rows] | ended
        done[rows] = done[rows] | ended
        steps = t + 1
        if fsa is not None:
            cstate = torch.where(live, fsa.advance(cstate, tok), cstate)
            if jump and t + 1 < max_new_tokens:
                forced(rows, cstate, t + 1)
        if t + 1 == max_new_tokens:
            break
        keep = (~done[rows]).nonzero().flatten()  # (N',)
        n = keep.numel()
        if n == 0:
            break
        if n < compact_below * rows.numel():
            state = decoder.reorder(state, keep)
            rows, tok = rows[keep], tok[keep]
            if fsa is not None:
                cstate = cstate[keep]
        state, logp = decoder.step(state, tok)
    seqs = [_strip(out[i], int(lengths[i]), eos_id) for i in range(B)]
    return SearchResult(seqs, scores, lengths, finished, steps)


@torch.inference_mode()
def beam_search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *,
                beam: int, eos_id: int, pad_id: int | None = None, max_new_tokens: int = 128,
                length_penalty: float = 1.0, constraint: Constraint | None = None,
                compact_below: float = 0.75, early_stop: bool = True,
                max_lengths: torch.Tensor | None = None) -> SearchResult:
    """Beam search of a batch: ``embeds (B, T, D)``, ``mask (B, T)``; ``beam`` hypotheses each.
    ``max_lengths (B,)``: per-item length caps, as in :func:`greedy_search`.

    ``compact_below``: when the fraction of items with a beam still open drops below this, the
    finished items' results are stored and their rows leave the decoder state (folded into the
    per-step beam reorder, so it costs nothing extra); 0 never compacts. Outputs are unchanged.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    pad_id = eos_id if pad_id is None else pad_id
    B, K, device = embeds.shape[0], beam, embeds.device
    fsa, cstate = _prepare(constraint, device, B)
    caps = None if max_lengths is None else max_lengths.to(device)
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
    items = torch.arange(B, device=device)  # (n,) the items still in the state
    beams = torch.arange(K, device=device)
    seqs: list[list[int] | None] = [None] * B
    out_scores = torch.zeros(B, device=device)
    out_lengths = torch.zeros(B, dtype=torch.long, device=device)
    out_ended = torch.zeros(B, dtype=torch.bool, device=device)

    def normalised(sc: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """``score / length ** length_penalty``, -inf kept (the final ranking of hypotheses)."""
        return torch.where(sc == NEG_INF, NEG_INF,
                           sc / lens.clamp(min=1).float().pow(length_penalty))

    def pick(sel: torch.Tensor, ended_only: bool) -> None:
        """Store the final hypothesis of the active items ``sel`` (local indices); from the
        finished beams only if ``ended_only`` (the item stopped: open beams can no longer win)."""
        rows = (sel[:, None] * K + beams).view(-1)  # (m*K,)
        flat = scores.index_select(0, sel).view(-1)
        norm = normalised(flat, lengths.index_select(0, rows))
        if ended_only:
            norm = torch.where(finished.index_select(0, rows), norm, NEG_INF)
        norm = norm.view(-1, K)
        j = norm.argmax(dim=-1)  # (m,)
        best = rows.view(-1, K).gather(1, j[:, None]).squeeze(1)  # (m,) rows of hist
        dst = items.index_select(0, sel)
        out_scores[dst] = flat.view(-1, K).gather(1, j[:, None]).squeeze(1)
        out_lengths[dst] = lengths[best]
        last = hist[best, (lengths[best] - 1).clamp(min=0)]
        out_ended[dst] = (lengths[best] > 0) & (last == eos_id)
        for d, r in zip(dst.tolist(), best.tolist(), strict=True):
            seqs[d] = _strip(hist[r], int(lengths[r]), eos_id)

    def settled(n: int) -> torch.Tensor:
        """(n,) True where an item's result can no longer change (see the module docstring)."""
        fin = finished.view(n, K)
        if not early_stop:
            return fin.all(dim=-1)
        sc = scores  # (n, K) summed log-probabilities, sorted best first
        lens = lengths.view(n, K)
        norm = torch.where(fin, normalised(sc, lens), NEG_INF)
        best, j = norm.max(dim=-1)  # (n,) best finished hypothesis F
        f_score = sc.gather(1, j[:, None]).squeeze(1)
        open_sc = torch.where(fin, NEG_INF, sc)
        if length_penalty > 0:  # the longest reachable length gives an open beam its best chance
            most = torch.full_like(lens, max_new_tokens)
            if fsa is None and caps is not None:  # (a constraint may forbid eos at a cap)
                most = torch.minimum(most, caps.index_select(0, items)[:, None])
            if fsa is not None and fsa.eos_id == eos_id:
                rem = fsa.max_remaining.index_select(0, cstate).clamp(max=UNBOUNDED - max_new_tokens)
                most = torch.minimum(most, lens + rem.view(n, K))
            reach = open_sc / most.clamp(min=1).float().pow(length_penalty)
        elif length_penalty < 0:  # the shortest: one more token
            reach = open_sc / (lens + 1).float().pow(length_penalty)
        else:
            reach = open_sc
        reach = torch.where(fin, NEG_INF, reach)
        early = (best > reach.max(dim=-1).values) & (f_score > open_sc.max(dim=-1).values)
        return fin.all(dim=-1) | early

    steps = 0
    for t in range(max_new_tokens):
        n = items.numel()
        base = (torch.arange(n, device=device) * K)[:, None]  # (n, 1)
        if fsa is not None:
            logp = fsa.mask_(logp, cstate)
        if caps is not None:
            _cap_(logp, t, caps.index_select(0, items).repeat_interleave(K), eos_id)
        logp = torch.where(finished[:, None], pad_row, logp)
        cand = (scores.view(n * K, 1) + logp).view(n, K * V)
        top, idx = cand.topk(K, dim=-1)  # (n, K)
        src = (base + torch.div(idx, V, rounding_mode="floor")).view(-1)  # (n*K,)
        tok = (idx % V).view(-1)  # (n*K,)
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
        if t + 1 == max_new_tokens:
            break
        open_items = ~settled(n)  # (n,)
        m = int(open_items.sum())
        if m == 0:
            break
        if m < compact_below * n:
            pick((~open_items).nonzero().flatten(), ended_only=True)
            keep = open_items.nonzero().flatten()  # (m,)
            rows = (keep[:, None] * K + beams).view(-1)  # (m*K,)
            items, scores = items.index_select(0, keep), scores.index_select(0, keep)
            hist, lengths = hist.index_select(0, rows), lengths.index_select(0, rows)
            finished, tok, src = finished.index_select(0, rows), tok.index_select(0, rows), src[rows]
            if fsa is not None:
                cstate = cstate.index_select(0, rows)
        state = decoder.reorder(state, src)
        state, logp = decoder.step(state, tok)
    n = items.numel()
    # cut by max_new_tokens: every item as the full search would pick, open beams included
    done = settled(n) if steps < max_new_tokens else torch.zeros(n, dtype=torch.bool, device=device)
    if bool(done.any()):
        pick(done.nonzero().flatten(), ended_only=True)
    if not bool(done.all()):
        pick((~done).nonzero().flatten(), ended_only=False)
    return SearchResult(seqs, out_scores, out_lengths, out_ended, steps)


def search(decoder: IncrementalDecoder, embeds: torch.Tensor, mask: torch.Tensor, *, beam: int = 1,
           **kwargs) -> SearchResult:
    """Greedy for ``beam == 1`` (cheaper bookkeeping; takes no ``length_penalty`` or
    ``early_stop``), else beam search (which takes no ``jump_forward``: its scores need every
    token's log-probability)."""
    if beam == 1:
        kwargs.pop("length_penalty", None)
        kwargs.pop("early_stop", None)
        return greedy_search(decoder, embeds, mask, **kwargs)
    kwargs.pop("jump_forward", None)
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
