"""Token automata built from a tokenizer: closed label sets, slot filling, joint decoding.

Text is tokenized the way the model sees it, which is where constrained decoding usually goes
wrong:

- at the start of the output a label is tokenized on its own (as the training target is), and
  also with a leading space (BPE tokenizers give ``play`` and `` play`` different pieces;
  sentencepiece adds ``▁`` either way), every form is a path of the trie;
- after free text, a literal is tokenized *in context*: ``encode(anchor + text)`` minus the
  anchor's pieces, so merges across the boundary and sentencepiece's ``▁`` come out as in a real
  target;
- labels that are prefixes of other labels end on inner trie nodes that also allow end of
  sequence; multi-token labels are ordinary trie paths;
- free text stops at a separator character: tokens containing it are forbidden in the free
  region except those that start the expected continuation, so the grammar cannot be escaped.
  Leading continuation pieces without the separator (sentencepiece's lone ``▁``) stay free text.

Grammars (``GRAMMARS`` registry, ``build_grammar(kind, tokenizer, vocab_size, **kw)``):

- ``labels``  ``<label> </s>``
- ``slots``   ``type: <free> ; type: <free> </s>`` (slot type constrained, value free), or
  ``none </s>`` (no slots: the word every svtk target uses for an empty list)
- ``joint``   ``ASR: <free> | TAG: <label or free or slots> | </s>``

Usage::

    fsa = build_grammar("labels", tokenizer, vocab_size, labels=["yes", "no"])
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from svtk.decoding.automata import AutomatonBuilder, TokenAutomaton
from svtk.tasks.formats import JOINT_ASR_TAG, JOINT_SEP, NONE, SLOT_KV, SLOT_SEP, joint_tag

log = logging.getLogger(__name__)

ANCHORS = ("x", "a", "0", ".")  # left contexts for in-context tokenization, tried in order


def encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_in_context(tokenizer, text: str) -> list[int]:
    """Pieces of ``text`` as they come out after some preceding text (not at the start)."""
    for anchor in ANCHORS:
        left = encode(tokenizer, anchor)
        full = encode(tokenizer, anchor + text)
        if full[: len(left)] == left:
            return full[len(left):]
    log.warning("could not tokenize %r in context; using its stand-alone pieces", text)
    return encode(tokenizer, text)


def start_forms(tokenizer, text: str) -> list[list[int]]:
    """The token sequences ``text`` may take at the start of an output (deduplicated)."""
    out: list[list[int]] = []
    for form in (encode(tokenizer, text), encode(tokenizer, " " + text)):
        if form and form not in out:
            out.append(form)
    return out


def special_ids(tokenizer, vocab_size: int) -> set[int]:
    """Ids free text never uses: special tokens and model-vocabulary padding past the tokenizer."""
    ids = {int(i) for i in getattr(tokenizer, "all_special_ids", []) if i is not None}
    ids.update(range(len(tokenizer), vocab_size))
    return {i for i in ids if 0 <= i < vocab_size}


def ids_containing(tokenizer, chars: str, vocab_size: int) -> set[int]:
    """Ids whose piece contains any of ``chars`` (byte-level and ``▁`` pieces keep ASCII)."""
    n = min(len(tokenizer), vocab_size)
    pieces = tokenizer.convert_ids_to_tokens(list(range(n)))
    return {i for i, p in enumerate(pieces) if p is not None and any(c in p for c in chars)}


def _eos(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise ValueError("constrained decoding needs a tokenizer with an end-of-sequence token")
    return int(tokenizer.eos_token_id)


def _strip_to_stop(seq: list[int], stop_ids: set[int]) -> list[int]:
    """Drop leading pieces without the stop character: they are still free text."""
    for i, tok in enumerate(seq):
        if tok in stop_ids:
            return seq[i:]
    raise ValueError("continuation after free text does not contain its separator")


class _Grammar:
    """Shared helpers while building one automaton."""

    def __init__(self, tokenizer, vocab_size: int):
        self.tok = tokenizer
        self.V = int(vocab_size)
        self.eos = _eos(tokenizer)
        self.b = AutomatonBuilder(self.V, eos_id=self.eos)
        self.special = special_ids(tokenizer, self.V)
        self.final = self.b.new_state()
        self.b.add_edge(self.final, self.eos, self.final)

    def end_at(self, nodes: Sequence[int]) -> None:
        for n in nodes:
            self.b.add_edge(n, self.eos, self.final)

    def free(self, stop_chars: str) -> tuple[int, set[int]]:
        """A free-text state in which no piece contains ``stop_chars`` unless it leaves."""
        s = self.b.new_state()
        stop = ids_containing(self.tok, stop_chars, self.V)
        self.b.set_free(s, self.special | stop)
        return s, stop

    def exits(self, free_state: int, stop_ids: set[int], texts: Sequence[str]) -> list[int]:
        """Continuations out of a free state, tokenized in context; returns their end nodes."""
        seqs = [_strip_to_stop(encode_in_context(self.tok, t), stop_ids) for t in texts]
        return self.b.add_sequences(free_state, seqs)

    def slots(self, entry_forms: Sequence[Sequence[int]], entry: int, slot_types: Sequence[str],
              stop_chars: str, tail: Sequence[str]) -> list[int]:
        """``type: <free> (; type: <free>)*`` from ``entry`` (``entry_forms`` are the start
        pieces of each ``type:``); returns the nodes reached by the ``tail`` continuations."""
        value, stop = self.free(SLOT_SEP + stop_chars)
        for node in self.b.add_sequences(entry, entry_forms):
            self.b.alias(node, value)
        nexts = [f"{SLOT_SEP} {t}{SLOT_KV}" for t in slot_types]
        for node in self.exits(value, stop, nexts):
            self.b.alias(node, value)
        return self.exits(value, stop, tail) if tail else [value]


def label_automaton(tokenizer, vocab_size: int, labels: Sequence[str]) -> TokenAutomaton:
    """The output is exactly one of ``labels``, then end of sequence."""
    if not labels:
        raise ValueError("label-constrained decoding needs at least one label")
    g = _Grammar(tokenizer, vocab_size)
    start = g.b.new_state()
    g.end_at(g.b.add_sequences(start, [f for lab in labels for f in start_forms(tokenizer, lab)]))
    return g.b.build(start)


def slot_automaton(tokenizer, vocab_size: int, slot_types: Sequence[str],
                   allow_empty: bool = True) -> TokenAutomaton:
    """``type: value; type: value`` with each type from ``slot_types`` and free values, or
    (``allow_empty``) ``none``, the empty list as svtk's targets write it (``format_slots``)."""
    if not slot_types:
        raise ValueError("slot-constrained decoding needs at least one slot type")
    g = _Grammar(tokenizer, vocab_size)
    start = g.b.new_state()
    if allow_empty:
        g.end_at(g.b.add_sequences(start, start_forms(tokenizer, NONE)))
    forms = [f for t in slot_types for f in start_forms(tokenizer, f"{t}{SLOT_KV}")]
    ends = g.slots(forms, start, slot_types, stop_chars="", tail=())
    g.end_at(ends)
    return g.b.build(start)


def joint_automaton(tokenizer, vocab_size: int, task: str, labels: Sequence[str] | None = None,
                    slot_types: Sequence[str] | None = None) -> TokenAutomaton:
    """``ASR: <free> | TAG: <output> |`` then end of sequence. The output is one of ``labels``,
    or slots over ``slot_types``, or free text when neither is given."""
    g = _Grammar(tokenizer, vocab_size)
    start = g.b.new_state()
    transcript, stop = g.free(JOINT_SEP)
    for node in g.b.add_sequences(start, start_forms(tokenizer, f"{JOINT_ASR_TAG}:")):
        g.b.alias(node, transcript)
    tag = joint_tag(task)
    if labels:
        g.end_at(g.exits(transcript, stop, [f" {JOINT_SEP} {tag}: {lab} {JOINT_SEP}" for lab in labels]))
    else:
        (head,) = g.exits(transcript, stop, [f" {JOINT_SEP} {tag}:"])
        if slot_types:
            forms = [encode_in_context(tokenizer, f" {t}{SLOT_KV}") for t in slot_types]
            ends = g.slots(forms, head, slot_types, JOINT_SEP, tail=[f" {JOINT_SEP}"])
            ends += g.b.add_sequences(head, [encode_in_context(tokenizer, f" {NONE} {JOINT_SEP}")])
        else:
            output, ostop = g.free(JOINT_SEP)
            g.b.alias(head, output)
            ends = g.exits(output, ostop, [f" {JOINT_SEP}"])
        g.end_at(ends)
    return g.b.build(start)


GRAMMARS: dict[str, Callable[..., TokenAutomaton]] = {
    "labels": label_automaton,
    "slots": slot_automaton,
    "joint": joint_automaton,
}


def build_grammar(kind: str, tokenizer, vocab_size: int, **kwargs) -> TokenAutomaton:
    """Compile the grammar registered as ``kind`` (see ``GRAMMARS``)."""
    try:
        fn = GRAMMARS[kind]
    except KeyError:
        raise ValueError(f"unknown grammar {kind!r} (known: {', '.join(GRAMMARS)})") from None
    return fn(tokenizer, vocab_size, **kwargs)
