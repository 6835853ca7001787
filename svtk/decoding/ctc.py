"""Joint CTC/LLM decoding: the frozen encoder's CTC head rescores the LLM's next tokens.

Hybrid CTC/attention decoding (Watanabe et al. 2017; ESPnet's ``ctc_weight``) for ASR items
and for the transcript part of joint outputs (``ASR: <transcript> | TAG: ... |``, see
:class:`TranscriptSpan`): each next token ``c`` of a hypothesis ``g`` scores

    (1 - w) * log p_LLM(c | g) + w * (log psi(g + c) - log psi(g))

where ``psi(h)`` is the CTC *prefix* probability of ``h`` (all frame alignments whose labels
start with ``h``), and for end of sequence ``psi(g + eos)`` is the probability of ``g`` as the
whole transcript. The CTC term vetoes what the audio cannot support, so a small LLM can no
longer run on, drop words or fall back on a sentence it learned by heart; the LLM keeps the
word choices the frame-wise CTC head gets wrong.

It needs a CTC head over the LLM's own token ids (svtk's native encoder pre-trained with
``--phase encoder_ctc`` on the recipe tokenizer: blank = the pad id). ``psi(g + c)`` needs
only g's forward variables: a sum over the frame where ``c`` is first emitted, one vectorised
reduction over (frames, rows, tokens) per step; the frame-by-frame forward recursion runs only
for the token each row appends (:meth:`CTCPrefixScorer.advance`), over (frames, rows). Every
token of the CTC vocabulary is scored (exact), or with a *pre-beam* of K (ESPnet's partial
scoring) each row's K best next tokens by the LLM, the others left out of that step (score
-inf); the end of the transcript is always scored. Exact scoring costs frames x rows x
vocabulary per step: fine for a recipe tokenizer (egs/mini: ~500 pieces, where a pre-beam of 8
cost 3 points of WER, the LLM ranking the right word low), heavy for an LLM's own 32k-152k.
Rows of weight 1 (CTC alone) are always scored exactly.

:class:`CTCFusedDecoder` wraps any :class:`~svtk.decoding.incremental.IncrementalDecoder`, so
greedy and beam search, constraints, compaction and length caps work unchanged on fused scores.
Rows of weight 0 (the other tasks of a mixed batch) keep the LLM's log-probabilities exactly.

Usage::

    scorer = CTCPrefixScorer(ctc_logp, ctc_lens, blank_id=0, eos_id=2, vocab_size=dec.vocab_size)
    fused = CTCFusedDecoder(dec, scorer, weights)   # weights (B,): 0.3 for ASR items, else 0
    res = greedy_search(fused, embeds, mask, eos_id=2)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from svtk.decoding.incremental import IncrementalDecoder

NEG_INF = float("-inf")


@dataclass
class CTCState:
    """Per row (N rows): the prefix ``g`` so far, as CTC forward variables over the frames."""

    item: torch.Tensor  # (N,) the batch item (audio) of each row
    r_n: torch.Tensor  # (T, N) log prob of g with the frame t on its last label
    r_b: torch.Tensor  # (T, N) log prob of g with the frame t on blank
    psi: torch.Tensor  # (N,) log prefix probability of g
    last: torch.Tensor  # (N,) last label of g, -1 when g is empty
    length: torch.Tensor  # (N,) labels in g


# most (frames x rows x tokens) elements the prefix scores of one step hold at once: wider
# vocabularies are scored in chunks of tokens (64 MiB of float32)
SCORE_CHUNK = 1 << 24


def _logsumexp0_(x: torch.Tensor) -> torch.Tensor:
    """``torch.logsumexp(x, 0)``, overwriting ``x``, without its denormals: terms more than
    e^-80 below the largest are beyond float precision anyway, and exp() of them yields
    denormal floats that cost ~5x more on CPU (torch.logsumexp on a prefix-scoring step of
    49 x 32 x 1000 terms took 17 ms here, this 3 ms)."""
    if x.shape[0] == 0:  # no term: probability 0
        return torch.full(x.shape[1:], NEG_INF, device=x.device, dtype=x.dtype)
    m = x.amax(0)
    shift = torch.where(torch.isfinite(m), m, 0.0)
    total = x.sub_(shift).clamp_(min=-80.0).exp_().sum(0)
    return total.log_().add_(shift).masked_fill_(m == NEG_INF, NEG_INF)


class CTCPrefixScorer:
    """CTC prefix scores of every next token, for a batch of hypotheses.

    ``log_probs (B, T, V_ctc)``: the CTC head's log-softmax per frame; ``lengths (B,)`` valid
    frames. ``vocab_size``: the LLM's logit width (ids the CTC head lacks score -inf, the blank
    too). ``eos_id`` scores the end of the transcript.

    Scoring a step costs one sum over frames per (row, token): ``psi(g + c)`` needs only the
    forward variables of ``g`` (the frame where ``g`` ends, then ``c`` first emitted), so the
    frame-by-frame recursion runs in :meth:`advance`, for the token each row appends.
    """

    def __init__(self, log_probs: torch.Tensor, lengths: torch.Tensor, *, blank_id: int,
                 eos_id: int, vocab_size: int):
        B, T, V = log_probs.shape
        if not 0 <= blank_id < V:
            raise ValueError(f"blank id {blank_id} outside the CTC vocabulary of {V}")
        if not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos id {eos_id} outside the vocabulary of {vocab_size}")
        self.blank, self.eos, self.vocab_size, self.ctc_vocab = blank_id, eos_id, vocab_size, V
        lengths = lengths.to(log_probs.device).clamp(max=T)
        valid = torch.arange(T, device=log_probs.device)[None, :] < lengths[:, None]  # (B, T)
        # frames past an item's end contribute nothing: -inf there kills every path through them
        x = log_probs.float().masked_fill(~valid[..., None], NEG_INF).transpose(0, 1)  # (T, B, V)
        self.x = x.contiguous()
        self.x_blank = x[:, :, blank_id].contiguous()  # (T, B)
        self.lengths = lengths
        self.T = T

    def _rows(self, item: torch.Tensor) -> torch.Tensor:
        """``x`` of each row's item, (T, N, V_ctc); no copy while rows are the items in order."""
        B = self.x.shape[1]
        if item.numel() == B and bool((item == torch.arange(B, device=item.device)).all()):
            return self.x
        return self.x.index_select(1, item)

    def start(self) -> CTCState:
        """The empty prefix of every item: blank all the way."""
        B, dev = self.x.shape[1], self.x.device
        r_b = torch.cumsum(self.x_blank, dim=0)  # (T, B); -inf from an item's end on
        return CTCState(item=torch.arange(B, device=dev),
                        r_n=torch.full_like(r_b, NEG_INF), r_b=r_b,
                        psi=torch.zeros(B, device=dev),
                        last=torch.full((B,), -1, dtype=torch.long, device=dev),
                        length=torch.zeros(B, dtype=torch.long, device=dev))

    def _psi(self, st: CTCState, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """``log psi(g + c)`` for the tokens of ``x (T, N, K)`` (their ids ``tokens (N, K)``):
        ``c`` first emitted at frame 0 (``g`` empty), or at a frame t after ``g`` ended by
        t - 1 (on blank only, when ``c`` repeats g's last label)."""
        T = self.T
        start = max(1, int(st.length.min()))  # g + c needs len(g) + 1 frames
        phi = torch.logaddexp(st.r_n, st.r_b)  # (T, N)
        psi = _logsumexp0_(phi[start - 1 : T - 1, :, None] + x[start:])  # (N, K)
        empty = st.length == 0
        if bool(empty.any()):  # or c on frame 0
            psi = torch.where(empty[:, None], torch.logaddexp(psi, x[0]), psi)
        repeat = tokens == st.last[:, None]  # (N, K); last is -1 for an empty g
        if bool(repeat.any()):  # only after a blank: r_b instead of phi, for that column
            rows = repeat.any(-1).nonzero().flatten()
            col = repeat[rows].float().argmax(-1)
            rep = _logsumexp0_(st.r_b[start - 1 : T - 1, rows] + x[start:, rows, col])
            psi[rows, col] = rep
        return psi

    def score(self, st: CTCState, candidates: torch.Tensor | None = None
              ) -> tuple[CTCState, torch.Tensor]:
        """``log psi(g + c) - log psi(g)`` for every row and token: (N, vocab_size).

        ``candidates (N, K)``: score only these token ids (below the CTC vocabulary, no blank;
        the pre-beam), every other token but the end of sequence gets -inf. None: every token.
        """
        T, N = self.T, st.item.numel()
        out = torch.full((N, self.vocab_size), NEG_INF, device=self.x.device)
        if candidates is None:
            width = min(self.ctc_vocab, self.vocab_size)
            chunk = max(1, SCORE_CHUNK // max(1, T * N))
            xs = self._rows(st.item)  # (T, N, V_ctc)
            for lo in range(0, width, chunk):
                hi = min(width, lo + chunk)
                ids = torch.arange(lo, hi, device=xs.device)[None, :].expand(N, -1)
                out[:, lo:hi] = self._psi(st, xs[..., lo:hi], ids) - st.psi[:, None]
        else:
            x = self.x[:, st.item[:, None], candidates]  # (T, N, K)
            out.scatter_(1, candidates, self._psi(st, x, candidates) - st.psi[:, None])
        out[:, self.blank] = NEG_INF
        # g as the whole transcript: every frame of the audio used, ending on label or blank
        rows = torch.arange(N, device=out.device)
        end = (self.lengths.index_select(0, st.item) - 1).clamp(min=0)
        whole = torch.logaddexp(st.r_n[end, rows], st.r_b[end, rows])
        out[:, self.eos] = whole - st.psi
        return st, out

    def advance(self, st: CTCState, tokens: torch.Tensor,
                rows: torch.Tensor | None = None) -> CTCState:
        """Append ``tokens (N,)`` to each row's prefix, where ``rows (N,)`` (bool) allows: the
        forward variables of ``g + c`` over the frames. Rows that end (eos) or pad keep their
        state: search no longer extends them."""
        move = (tokens != self.eos) & (tokens != self.blank) & (tokens < self.ctc_vocab)
        if rows is not None:
            move = move & rows
        if not bool(move.any()):
            return st
        T = self.T
        c = tokens.clamp(0, self.ctc_vocab - 1)
        x = self.x[:, st.item, c]  # (T, N) the appended label's log-probs per frame
        xb = self.x_blank.index_select(1, st.item)  # (T, N)
        # phi[t]: g ended by frame t such that c may start at t + 1 (a repeat needs a blank)
        phi = torch.where((c == st.last)[None, :], st.r_b, torch.logaddexp(st.r_n, st.r_b))
        r_n = torch.full_like(st.r_n, NEG_INF)
        r_b = torch.full_like(st.r_b, NEG_INF)
        r_n[0] = torch.where(st.length == 0, x[0], NEG_INF)  # c on frame 0 (g empty only)
        start = max(1, int(st.length.min()))
        for t in range(start, T):
            r_n[t] = torch.logaddexp(r_n[t - 1], phi[t - 1]) + x[t]
            r_b[t] = torch.logaddexp(r_b[t - 1], r_n[t - 1]) + xb[t]
        psi = _logsumexp0_(torch.cat([r_n[:1], phi[start - 1 : T - 1] + x[start:]]))
        return CTCState(item=st.item, r_n=torch.where(move[None, :], r_n, st.r_n),
                        r_b=torch.where(move[None, :], r_b, st.r_b),
                        psi=torch.where(move, psi, st.psi),
                        last=torch.where(move, tokens, st.last),
                        length=st.length + move.long())

    @staticmethod
    def reorder(st: CTCState, index: torch.Tensor) -> CTCState:
        """Select/repeat rows."""
        return CTCState(item=st.item.index_select(0, index), r_n=st.r_n.index_select(1, index),
                        r_b=st.r_b.index_select(1, index), psi=st.psi.index_select(0, index),
                        last=st.last.index_select(0, index),
                        length=st.length.index_select(0, index))


@dataclass(frozen=True)
class TranscriptSpan:
    """Where the transcript lies in a joint output (``ASR: <transcript> | TAG: ... |``): after
    one of the token sequences ``heads`` (the forms of ``ASR:``), up to the first token of
    ``ends`` (the pieces holding the separator), which then scores as the transcript's end.
    ``neutral``: pieces that may come before the separator's piece without being transcript
    (sentencepiece writes `` |`` as ``▁`` + ``|``): CTC does not read them, and they score as
    the transcript's end (all they can begin is the separator, which then scores 0)."""

    heads: tuple[tuple[int, ...], ...]
    ends: tuple[int, ...]
    neutral: tuple[int, ...] = ()


PRE, IN, POST = 0, 1, 2  # a row before, inside or after its transcript


@dataclass
class _FusedState:
    llm: Any
    ctc: CTCState
    weight: torch.Tensor  # (N,)
    joint: torch.Tensor  # (N,) bool: the transcript is a span of the output, not all of it
    mode: torch.Tensor  # (N,) PRE / IN / POST
    matched: torch.Tensor  # (H, N) tokens of each head matched so far, -1 once it cannot match
    # (N,) bool: the last token was a neutral piece inside the transcript (the separator begun)
    sep: torch.Tensor


class CTCFusedDecoder(IncrementalDecoder):
    """An incremental decoder whose log-probabilities are fused with CTC prefix scores:
    ``(1 - w) * llm + w * ctc`` per row, ``w = weights[item]`` (0: the LLM's exactly).

    A row's whole output is its transcript, or with ``joint[item]`` only the ``span`` of it
    (rows before and after it score as the LLM alone; the span's end token scores the whole
    transcript, as end of sequence does for a plain one).

    ``pre_beam`` K > 0: CTC scores only each row's K best next tokens by the LLM (not counting
    the end of sequence, the blank and the span's end and neutral pieces, which are scored
    anyway); every other token is left out of the step. 0, or K at least the CTC vocabulary:
    every token (exact)."""

    def __init__(self, decoder: IncrementalDecoder, scorer: CTCPrefixScorer,
                 weights: torch.Tensor, joint: torch.Tensor | None = None,
                 span: TranscriptSpan | None = None, pre_beam: int = 0):
        # no super().__init__: the wrapped decoder owns the model
        if pre_beam < 0:
            raise ValueError(f"pre_beam must be >= 0, got {pre_beam}")
        self.pre_beam = pre_beam if 0 < pre_beam < scorer.ctc_vocab else 0
        self.decoder = decoder
        self.model = getattr(decoder, "model", None)
        self.vocab_size = decoder.vocab_size
        self.llm_kind = decoder.llm_kind
        self.scorer = scorer
        self.weights = weights.float()
        self.joint = torch.zeros_like(self.weights, dtype=torch.bool) if joint is None else joint
        if bool(self.joint.any()) and (span is None or not span.heads or not span.ends):
            raise ValueError("joint rows need a TranscriptSpan with heads and ends")
        self.span = span
        if span is not None:
            width = max(len(h) for h in span.heads)
            self.heads = torch.tensor([list(h) + [-1] * (width - len(h)) for h in span.heads])
            self.head_lens = torch.tensor([len(h) for h in span.heads])
            self.ends = torch.zeros(self.vocab_size, dtype=torch.bool)
            self.ends[list(span.ends)] = True
            self.neutral = torch.zeros(self.vocab_size, dtype=torch.bool)
            self.neutral[list(span.neutral)] = True
        if self.pre_beam:  # never pre-beam candidates: scored anyway, or never transcript
            width = min(scorer.ctc_vocab, self.vocab_size)  # ids both the LLM and CTC have
            self.skip = torch.zeros(width, dtype=torch.bool)
            self.skip[[t for t in (scorer.blank, scorer.eos) if t < width]] = True
            # in a joint row the span's end and neutral pieces score as the transcript's end;
            # in a plain one they are transcript pieces like any other
            self.span_skip = None if span is None else (self.ends | self.neutral)[:width]

    def _candidates(self, logp: torch.Tensor, joint: torch.Tensor) -> torch.Tensor:
        """Each row's ``pre_beam`` best next tokens by the LLM, among the CTC head's ids."""
        lp = logp[:, : self.skip.numel()]
        lp = lp.masked_fill(self.skip.to(lp.device)[None, :], NEG_INF)
        if self.span_skip is not None and bool(joint.any()):
            lp = lp.masked_fill(joint[:, None] & self.span_skip.to(lp.device)[None, :], NEG_INF)
        return lp.topk(min(self.pre_beam, lp.shape[1]), dim=-1).indices

    def _fuse(self, st: _FusedState, logp: torch.Tensor) -> tuple[_FusedState, torch.Tensor]:
        on = (st.weight > 0) & (st.mode == IN)
        if not bool(on.any()):
            return st, logp
        cand = None
        if self.pre_beam and bool((st.weight[on] < 1).all()):  # CTC alone: every token
            cand = self._candidates(logp, st.joint)
        st.ctc, ctc = self.scorer.score(st.ctc, cand)
        ctc = ctc.masked_fill(ctc.isnan(), NEG_INF)  # a row whose prefix the audio cannot hold
        if self.span is not None and bool(st.joint.any()):  # the separator ends the transcript
            whole = ctc[:, self.scorer.eos : self.scorer.eos + 1]
            ends = self.ends.to(ctc.device)[None, :] & st.joint[:, None]
            # after a neutral piece the transcript's end is paid already
            ctc = torch.where(ends, torch.where(st.sep[:, None], 0.0, whole), ctc)
            # a bare neutral piece only begins the separator: it scores as the transcript's end
            # (scored 0, it was free, and mid-transcript the LLM wrote it over and over)
            neutral = self.neutral.to(ctc.device)[None, :] & st.joint[:, None]
            ctc = torch.where(neutral, whole, ctc)
        w = st.weight[:, None]
        fused = torch.where(w < 1, (1 - w) * logp + w * ctc, ctc)  # w = 1: no 0 * -inf
        return st, torch.where(on[:, None], fused, logp)

    def start(self, embeds: torch.Tensor, mask: torch.Tensor):
        llm, logp = self.decoder.start(embeds, mask)
        dev = logp.device
        joint = self.joint.to(dev)
        H = 0 if self.span is None else len(self.span.heads)
        st = _FusedState(llm, self.scorer.start(), self.weights.to(dev), joint,
                         torch.where(joint, PRE, IN).long(),
                         torch.zeros(H, joint.numel(), dtype=torch.long, device=dev),
                         torch.zeros_like(joint))
        return self._fuse(st, logp)

    def _track(self, st: _FusedState, tokens: torch.Tensor):
        """Each row's mode and head matches after ``tokens``, which rows extend their
        transcript with it, and which begin the separator with a neutral piece."""
        mode, m = st.mode, st.matched
        extend = mode == IN
        sep = torch.zeros_like(extend)
        if self.span is not None and bool(st.joint.any()):
            tok = tokens.clamp(0, self.vocab_size - 1)
            ends = self.ends.to(tokens.device)[tok]
            ended = extend & st.joint & (ends | (tokens == self.scorer.eos))
            sep = extend & ~ended & st.joint & self.neutral.to(tokens.device)[tok]
            extend = extend & ~ended & ~sep
            heads, lens = self.heads.to(tokens.device), self.head_lens.to(tokens.device)
            want = heads.gather(1, m.clamp(min=0, max=heads.shape[1] - 1))  # (H, N)
            m = torch.where((m >= 0) & (m < lens[:, None]) & (want == tokens[None, :]), m + 1, -1)
            begun = (mode == PRE) & (m == lens[:, None]).any(0)
            mode = torch.where(ended, POST, torch.where(begun, IN, mode))
        return mode, extend, m, sep

    def step(self, state: _FusedState, tokens: torch.Tensor):
        llm, logp = self.decoder.step(state.llm, tokens)
        mode, extend, matched, sep = self._track(state, tokens)
        ctc = self.scorer.advance(state.ctc, tokens, extend)
        return self._fuse(_FusedState(llm, ctc, state.weight, state.joint, mode, matched, sep),
                          logp)

    def reorder(self, state: _FusedState, index: torch.Tensor) -> _FusedState:
        return _FusedState(self.decoder.reorder(state.llm, index),
                           self.scorer.reorder(state.ctc, index),
                           state.weight.index_select(0, index), state.joint.index_select(0, index),
                           state.mode.index_select(0, index),
                           state.matched.index_select(1, index),
                           state.sep.index_select(0, index))


class _NoLLM(IncrementalDecoder):
    """Zero log-probabilities over ``vocab_size`` ids: what :class:`CTCFusedDecoder` at weight 1
    wraps when no LLM takes part (the CTC head alone, or with an n-gram LM)."""

    llm_kind = "none"

    def __init__(self, vocab_size: int):  # no model: no super().__init__
        self.model = None
        self.vocab_size = vocab_size

    def start(self, embeds: torch.Tensor, mask: torch.Tensor):
        return None, torch.zeros(embeds.shape[0], self.vocab_size, device=embeds.device)

    def step(self, state: Any, tokens: torch.Tensor):
        return None, torch.zeros(tokens.shape[0], self.vocab_size, device=tokens.device)

    def reorder(self, state: Any, index: torch.Tensor) -> Any:
        return None


def ctc_prefix_search(log_probs: torch.Tensor, lengths: torch.Tensor, *, blank_id: int,
                      eos_id: int, beam: int = 4, lm: Any = None, lm_weight: float = 0.0,
                      length_penalty: float = 1.0) -> list[list[int]]:
    """CTC prefix beam search of a batch (``log_probs (B, T, V)``, ``lengths (B,)``), the CTC
    head alone or with an n-gram LM (:class:`svtk.decoding.ngram.NgramLM`, shallow fusion at
    ``lm_weight``): the label sequences, end of sequence left out. Through the same search and
    prefix scores as joint CTC/LLM decoding at CTC weight 1; ``beam=1`` is the greedy prefix
    search (not the best path of :meth:`NativeEncoder.ctc_greedy`). ``length_penalty``: the
    final pick by score / length ** it, as in ``svtk decode`` (whose default, 1, it keeps);
    0 ranks by probability alone."""
    from svtk.decoding.search import search

    B, _, V = log_probs.shape
    scorer = CTCPrefixScorer(log_probs, lengths, blank_id=blank_id, eos_id=eos_id, vocab_size=V)
    dec: IncrementalDecoder = CTCFusedDecoder(_NoLLM(V), scorer, torch.ones(B))
    if lm is not None and lm_weight > 0:
        from svtk.decoding.ngram import NgramFusedDecoder

        dec = NgramFusedDecoder(dec, lm, torch.full((B,), float(lm_weight)))
    embeds = log_probs.new_zeros(B, 1, 1)
    mask = torch.ones(B, 1, dtype=torch.long, device=log_probs.device)
    caps = lengths.to(log_probs.device) + 1  # CTC emits at most one label per frame
    res = search(dec, embeds, mask, beam=beam, eos_id=eos_id, pad_id=blank_id,
                 max_new_tokens=int(caps.max()), max_lengths=caps, length_penalty=length_penalty)
    return res.sequences
