"""Token n-gram language models for shallow fusion in ASR decoding (ESPnet's ``lm_weight``).

An :class:`NgramLM` is a backoff n-gram model over the LLM's token ids, read from and written to
the ARPA format that SRILM, KenLM and Kaldi use, its words being the tokenizer's pieces (so
``lmplz`` on sentencepiece-encoded text gives one too). :func:`train_kneser_ney` estimates one
with interpolated Kneser-Ney smoothing (Chen & Goodman 1998: one discount per order,
``D = n1 / (n1 + 2 n2)``; continuation counts below the highest order), written in backoff form:

    log p(w | c) = log p*(c w)                     if the n-gram c w is in the model
                 = log bow(c) + log p(w | c[1:])   otherwise

which for interpolated Kneser-Ney gives its probabilities exactly (every seen n-gram holds its
interpolated probability, ``bow(c)`` the mass left to the lower order).

:class:`NgramFusedDecoder` wraps any :class:`~svtk.decoding.incremental.IncrementalDecoder` (the
LLM's, or :class:`~svtk.decoding.ctc.CTCFusedDecoder`) and adds ``w * log p_LM`` to the next-token
scores of the rows that have a weight (ASR items), so that with CTC the score of a next token
is ESPnet's ``(1 - ctc_weight) * llm + ctc_weight * ctc + lm_weight * lm``. End of sequence
scores as ``</s>``; token ids the LM has no word for score as ``<unk>`` (or, without one, as
its least likely unigram).

Usage::

    lm = train_kneser_ney([[5, 9, 7], [5, 7]], order=3, vocab=range(3, 12), eos_id=2)
    lm.write_arpa("exp/lm/asr.3gram.arpa", tokenizer.convert_ids_to_tokens, eos_id=2)
    lm = NgramLM.read_arpa("exp/lm/asr.3gram.arpa", tokenizer, eos_id=2)
    fused = NgramFusedDecoder(decoder, lm, weights)   # weights (B,): 0.3 for ASR items, else 0
"""

from __future__ import annotations

import gzip
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from svtk.decoding.incremental import IncrementalDecoder

log = logging.getLogger(__name__)

BOS = -1  # the id of <s> in contexts: never a token the decoder emits
LN10 = math.log(10.0)
NEG_INF = float("-inf")
UNK_WORD, BOS_WORD, EOS_WORD = "<unk>", "<s>", "</s>"
ROW_CACHE = 1 << 16  # most dense next-token rows an NgramLM keeps (V floats each)


Context = tuple[int, ...]


class NgramLM:
    """A backoff n-gram model over token ids (natural-log probabilities).

    ``probs[k]`` maps a context of ``k`` ids to ``(next ids, log p)`` of the order-(k+1)
    n-grams that extend it; ``backoffs`` maps an n-gram (a tuple of ids) to its log backoff
    weight (absent: 0). ``unk``: log p of ids outside the model's words."""

    def __init__(self, order: int, probs: list[dict[Context, tuple[list[int], list[float]]]],
                 backoffs: dict[Context, float], unk: float | None = None):
        if order < 1 or len(probs) != order:
            raise ValueError(f"an order-{order} model needs {order} probability tables")
        self.order = order
        self.backoffs = backoffs
        self._probs = {ctx: (torch.tensor(ids, dtype=torch.long), torch.tensor(lp))
                       for table in probs for ctx, (ids, lp) in table.items()}
        uni = self._probs.get(())
        if uni is None or not len(uni[0]):
            raise ValueError("the model has no unigrams")
        self.unk = float(uni[1].min()) if unk is None else float(unk)
        self._rows: dict[tuple[int, Context], torch.Tensor] = {}

    @property
    def num_ngrams(self) -> list[int]:
        counts = [0] * self.order
        for ctx, (ids, _) in self._probs.items():
            counts[len(ctx)] += len(ids)
        return counts

    # -- queries -----------------------------------------------------------------------------
    def logprob(self, context: Sequence[int], token: int) -> float:
        """log p(token | context): the last ``order - 1`` ids of ``context`` (BOS for <s>)."""
        ctx = tuple(context)[max(len(context) - self.order + 1, 0):]
        bow = 0.0
        while True:
            entry = self._probs.get(ctx)
            if entry is not None:
                hit = (entry[0] == token).nonzero()
                if len(hit):
                    return bow + float(entry[1][hit[0, 0]])
            if not ctx:
                return bow + self.unk
            bow += self.backoffs.get(ctx, 0.0)
            ctx = ctx[1:]

    def row(self, context: Context, vocab_size: int) -> torch.Tensor:
        """log p(t | context) for every id t < ``vocab_size``: (V,) float32, cached."""
        ctx = context[max(len(context) - self.order + 1, 0):]
        key = (vocab_size, ctx)
        out = self._rows.get(key)
        if out is not None:
            return out
        if ctx:  # a new tensor: the lower order's row, scaled by the backoff weight
            out = self.row(ctx[1:], vocab_size) + self.backoffs.get(ctx, 0.0)
        else:
            out = torch.full((vocab_size,), self.unk)
        entry = self._probs.get(ctx)
        if entry is not None:
            ids, lp = entry
            keep = ids < vocab_size
            out[ids[keep]] = lp[keep]
        if len(self._rows) >= ROW_CACHE:
            self._rows.clear()
        self._rows[key] = out
        return out

    def rows(self, contexts: Sequence[Context], vocab_size: int) -> torch.Tensor:
        """(N, V) next-token log-probabilities of N contexts."""
        return torch.stack([self.row(c, vocab_size) for c in contexts])

    # -- ARPA --------------------------------------------------------------------------------
    @classmethod
    def read_arpa(cls, path: str | Path, tokenizer: Any, eos_id: int) -> NgramLM:
        """An ARPA file (plain or .gz) whose words are ``tokenizer``'s pieces (a transformers
        tokenizer, or svtk's ``Tokenizer``); ``</s>`` becomes ``eos_id``. N-grams with a piece
        the tokenizer lacks are dropped (they can never be decoded)."""
        hf = getattr(tokenizer, "hf", tokenizer)
        vocab = hf.get_vocab()
        special = {BOS_WORD: BOS, EOS_WORD: eos_id}
        opener = gzip.open if str(path).endswith(".gz") else open
        order, section = 0, 0
        probs: list[dict[Context, tuple[list[int], list[float]]]] = []
        backoffs: dict[Context, float] = {}
        unk = None
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                if line.startswith("ngram ") and section == 0:
                    order = max(order, int(line.split("=")[0].split()[1]))
                    continue
                if line.startswith("\\"):
                    if line.endswith("-grams:"):
                        section = int(line[1:].split("-")[0])
                        while len(probs) < section:
                            probs.append({})
                    continue
                if section == 0:
                    continue
                fields = line.split()
                words = fields[1 : 1 + section]
                if len(words) < section:
                    raise ValueError(f"{path}: malformed {section}-gram line: {line!r}")
                lp = float(fields[0]) * LN10
                if section == 1 and words[0] == UNK_WORD:
                    unk = lp
                    continue
                ids = [special[w] if w in special else vocab.get(w) for w in words]
                if any(i is None for i in ids):
                    continue
                if len(fields) > 1 + section:
                    backoffs[tuple(ids)] = float(fields[1 + section]) * LN10
                if ids[-1] == BOS:  # <s> is a context, never predicted (its p is -99)
                    continue
                entry = probs[section - 1].setdefault(tuple(ids[:-1]), ([], []))
                entry[0].append(ids[-1])
                entry[1].append(lp)
        if not order or len(probs) != order:
            raise ValueError(f"{path}: not an ARPA file (no \\data\\ header with ngram counts)")
        return cls(order, probs, backoffs, unk)

    def write_arpa(self, path: str | Path, piece_of: Callable[[list[int]], list[str]],
                   eos_id: int) -> Path:
        """Write the model as ARPA (``.gz``: gzipped): ``piece_of(ids)`` names the words."""
        path = Path(path)
        grams: list[list[Context]] = [[] for _ in range(self.order)]
        lps: dict[Context, float] = {}
        for ctx, (ids, lp) in self._probs.items():
            for i, p in zip(ids.tolist(), lp.tolist(), strict=True):
                grams[len(ctx)].append(ctx + (i,))
                lps[ctx + (i,)] = p
        for ngram in self.backoffs:  # <s> is an n-gram of probability -99 that has a backoff
            if ngram[-1] == BOS:
                grams[len(ngram) - 1].append(ngram)
                lps[ngram] = -99.0 * LN10
        ids = sorted({i for g in grams for ngram in g for i in ngram} - {BOS, eos_id})
        names = dict(zip(ids, piece_of(ids), strict=True))
        names.update({BOS: BOS_WORD, eos_id: EOS_WORD})
        lines: list[list[str]] = [[f"{self.unk / LN10:.6f}\t{UNK_WORD}"]] + [[] for _ in grams[1:]]
        for k, g in enumerate(grams):
            for ngram in sorted(g, key=lambda e: [names[i] for i in e]):
                bow = self.backoffs.get(ngram) if k + 1 < self.order else None
                tail = "" if bow is None else f"\t{max(bow / LN10, -99.0):.6f}"
                lines[k].append(f"{lps[ngram] / LN10:.6f}\t{' '.join(names[i] for i in ngram)}{tail}")
        path.parent.mkdir(parents=True, exist_ok=True)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "wt", encoding="utf-8") as f:
            f.write("\\data\\\n")
            f.writelines(f"ngram {k}={len(ls)}\n" for k, ls in enumerate(lines, 1))
            for k, ls in enumerate(lines, 1):
                f.write(f"\n\\{k}-grams:\n")
                f.writelines(line + "\n" for line in ls)
            f.write("\n\\end\\\n")
        return path


def train_kneser_ney(sentences: Iterable[Sequence[int]], order: int, vocab: Iterable[int],
                     eos_id: int) -> NgramLM:
    """Interpolated Kneser-Ney over token-id sentences (each gets <s> before, ``eos_id`` after).

    ``vocab``: every id the model should give probability to (the unigram level interpolates
    with the uniform distribution over them and ``eos_id``)."""
    if order < 1:
        raise ValueError(f"order must be >= 1, got {order}")
    raw: list[Counter] = [Counter() for _ in range(order)]  # raw[k]: (k+1)-gram counts
    for sent in sentences:
        seq = [BOS, *sent, eos_id]
        for k in range(order):
            for i in range(max(1, k), len(seq)):  # n-grams end at a real token, not at <s>
                raw[k][tuple(seq[i - k : i + 1])] += 1
    if not raw[0]:
        raise ValueError("no training sentences")
    counts: list[Counter] = [Counter() for _ in range(order)]
    counts[order - 1] = raw[order - 1]
    for k in range(order - 1):  # continuation counts: distinct words seen before the n-gram
        for ngram in raw[k + 1]:
            counts[k][ngram[1:]] += 1
        for ngram, c in raw[k].items():  # n-grams at the sentence start have no left word
            if ngram[0] == BOS:
                counts[k][ngram] = c
    words = sorted(set(vocab) | {eos_id})
    uniform = 1.0 / len(words)
    probs: list[dict[Context, tuple[list[int], list[float]]]] = [{} for _ in range(order)]
    backoffs: dict[Context, float] = {}
    lower: dict[Context, float] = {}  # probabilities (linear) of the orders below
    unk = NEG_INF
    for k in range(order):
        total: dict[Context, int] = defaultdict(int)
        types: dict[Context, int] = defaultdict(int)
        n = Counter(min(c, 3) for c in counts[k].values())
        discount = n[1] / (n[1] + 2 * n[2]) if n[1] else 0.5
        for ngram, c in counts[k].items():
            total[ngram[:-1]] += c
            types[ngram[:-1]] += 1
        gamma = {ctx: discount * types[ctx] / t for ctx, t in total.items()}
        this: dict[Context, float] = {}
        pending = dict(counts[k])
        if k == 0:  # every word gets its uniform share, seen or not
            pending.update({(w,): 0 for w in words if (w,) not in pending})
        for ngram, c in pending.items():
            ctx = ngram[:-1]
            below = uniform if k == 0 else _interpolated(lower, backoffs, ngram[1:])
            p = max(c - discount, 0.0) / total[ctx] + gamma[ctx] * below
            this[ngram] = p
            entry = probs[k].setdefault(ctx, ([], []))
            entry[0].append(ngram[-1])
            entry[1].append(math.log(p))
        for ctx, g in gamma.items():
            if ctx:
                backoffs[ctx] = math.log(g) if g > 0 else NEG_INF
        lower.update(this)
        if k == 0:  # a word outside ``vocab`` gets what an unseen one of it would
            unk = math.log(gamma[()] * uniform) if gamma[()] > 0 else math.log(uniform)
    return NgramLM(order, probs, backoffs, unk)


def _interpolated(probs: dict[Context, float], backoffs: dict[Context, float],
                  ngram: Context) -> float:
    """p(ngram[-1] | ngram[:-1]) in backoff form from the lower orders estimated so far."""
    scale = 1.0
    while ngram not in probs:
        if len(ngram) == 1:  # a word outside the vocabulary
            return 0.0
        scale *= math.exp(backoffs.get(ngram[:-1], 0.0))
        ngram = ngram[1:]
    return scale * probs[ngram]


# --------------------------------------------------------------------------------------------
# Shallow fusion
# --------------------------------------------------------------------------------------------


@dataclass
class _LMState:
    inner: Any  # the wrapped decoder's state
    contexts: list[Context]  # each row's last order - 1 ids (BOS at the start)
    weight: torch.Tensor  # (N,) each row's LM weight


class NgramFusedDecoder(IncrementalDecoder):
    """An incremental decoder whose next-token scores gain ``w * log p_LM`` per row
    (``w = weights[item]``; rows of weight 0 keep the wrapped decoder's scores exactly)."""

    def __init__(self, decoder: IncrementalDecoder, lm: NgramLM, weights: torch.Tensor):
        # no super().__init__: the wrapped decoder owns the model
        self.decoder = decoder
        self.model = getattr(decoder, "model", None)
        self.vocab_size = decoder.vocab_size
        self.llm_kind = decoder.llm_kind
        self.lm = lm
        self.weights = weights.float()

    def _fuse(self, st: _LMState, logp: torch.Tensor) -> tuple[_LMState, torch.Tensor]:
        on = (st.weight > 0).nonzero().flatten().tolist()
        if not on:
            return st, logp
        lm = self.lm.rows([st.contexts[i] for i in on], logp.shape[-1]).to(logp.device)
        out = logp.clone()
        out[on] += st.weight[on, None].to(logp.device) * lm
        return st, out

    def start(self, embeds: torch.Tensor, mask: torch.Tensor):
        inner, logp = self.decoder.start(embeds, mask)
        return self._fuse(_LMState(inner, [(BOS,)] * logp.shape[0], self.weights), logp)

    def step(self, state: _LMState, tokens: torch.Tensor):
        inner, logp = self.decoder.step(state.inner, tokens)
        keep = self.lm.order - 1
        contexts = [(c + (t,))[max(len(c) + 1 - keep, 0):] if keep else ()
                    for c, t in zip(state.contexts, tokens.tolist(), strict=True)]
        return self._fuse(_LMState(inner, contexts, state.weight), logp)

    def reorder(self, state: _LMState, index: torch.Tensor) -> _LMState:
        return _LMState(self.decoder.reorder(state.inner, index),
                        [state.contexts[i] for i in index.tolist()],
                        state.weight.index_select(0, index.to(state.weight.device)))


# --------------------------------------------------------------------------------------------
# Training from task cuts (svtk model train-lm)
# --------------------------------------------------------------------------------------------


def lm_sentences(cuts: Iterable, tokenizer: Any, tasks: Sequence[str] = ("asr",)) -> list[list[int]]:
    """Token ids of the targets of ``tasks`` cuts (joint ones left out), one per recording:
    what the decoder writes for those tasks. Cuts without a task count as ASR (their
    transcript)."""
    from svtk.training.pretrain import transcript

    seen: set[str] = set()
    out = []
    for cut in cuts:
        custom = cut.custom or {}
        task = custom.get("task", "asr")
        if task not in tasks or custom.get("joint"):
            continue
        key = f"{task}:{getattr(cut, 'recording_id', None) or cut.id}"
        if key in seen:
            continue
        seen.add(key)
        text = custom.get("target") if "task" in custom else transcript(cut)
        if text and text.strip():
            out.append(tokenizer.encode(text.strip()))
    return out


def train_lm_from_cuts(cuts_paths: Sequence[str | Path], tokenizer_dir: str | Path,
                       out: str | Path, order: int = 4, tasks: Sequence[str] = ("asr",),
                       force: bool = False) -> Path:
    """Stage wrapper: the targets of ``tasks`` in task cuts -> an interpolated Kneser-Ney
    token n-gram in ARPA (``out``; skips when done with the same inputs and settings)."""
    from lhotse import load_manifest_lazy

    from svtk.errors import UserError
    from svtk.models.tokenizer import Tokenizer
    from svtk.stage import Stage, atomic_path

    out = Path(out)
    stage = Stage(f"train-lm.{out.name}", out.parent,
                  config={"order": order, "tasks": list(tasks), "tokenizer": str(tokenizer_dir)},
                  inputs=[*map(str, cuts_paths), str(Path(tokenizer_dir) / "tokenizer.json")], force=force)
    if stage.is_done():
        return out
    tok = Tokenizer.from_pretrained(tokenizer_dir)
    sentences = []
    for p in cuts_paths:
        if not Path(p).is_file():
            raise UserError(f"cuts not found: {p}")
        sentences += lm_sentences(load_manifest_lazy(p), tok, tasks)
    if not sentences:
        raise UserError(f"no {'/'.join(tasks)} targets in {', '.join(map(str, cuts_paths))}")
    special = set(tok.hf.all_special_ids)
    vocab = [i for i in range(tok.vocab_size) if i not in special]
    lm = train_kneser_ney(sentences, order, vocab, tok.eos_id)
    with atomic_path(out) as tmp:
        lm.write_arpa(tmp, tok.hf.convert_ids_to_tokens, tok.eos_id)  # tmp keeps out's suffix
    stage.mark_done(outputs=[out], sentences=len(sentences), ngrams=lm.num_ngrams)
    log.info("trained an order-%d LM on %d sentences (%s n-grams): %s", order, len(sentences),
             "/".join(map(str, lm.num_ngrams)), out)
    return out
