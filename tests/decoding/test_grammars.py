"""Grammars over real tokenizers (byte-level BPE and sentencepiece-style unigram): the
automaton accepts the tokenized targets the model is trained on and nothing outside the set."""

from __future__ import annotations

import pytest

from svtk.decoding.grammars import build_grammar, encode, encode_in_context, start_forms
from svtk.tasks import format_joint
from svtk.tasks.formats import format_slots
from svtk.testing.decoding import EXTRA_VOCAB, LABELS, SLOT_TYPES


def _V(tok):
    return len(tok) + EXTRA_VOCAB


def _accepts(fsa, tok, text):
    return fsa.walk(encode(tok, text) + [tok.eos_token_id]) is not None


def test_labels_accept_each_label_and_reject_others(tok):
    fsa = build_grammar("labels", tok, _V(tok), labels=LABELS)
    for lab in LABELS:
        assert _accepts(fsa, tok, lab), lab
        assert fsa.walk(encode(tok, " " + lab) + [tok.eos_token_id]) is not None
    # "play" is a prefix of "play_music": both end, neither half-way string does
    assert not _accepts(fsa, tok, "play_mus")
    assert not _accepts(fsa, tok, "weather")
    assert not _accepts(fsa, tok, "play play")
    assert fsa.walk([tok.eos_token_id]) is None  # empty output is not a label


def test_start_forms_cover_leading_space(bpe_tok, uni_tok):
    assert len(start_forms(bpe_tok, "play")) == 2  # 'play' and 'Ġplay' differ in BPE
    assert len(start_forms(uni_tok, "play")) == 1  # '▁play' either way in sentencepiece


def test_in_context_tokenization_drops_sentencepiece_prefix(uni_tok):
    alone = uni_tok.convert_ids_to_tokens(encode(uni_tok, "; time:"))
    ctx = uni_tok.convert_ids_to_tokens(encode_in_context(uni_tok, "; time:"))
    assert alone[0] == "▁" and ctx[0] == ";"


def test_slots_accept_targets_and_constrain_types(tok):
    fsa = build_grammar("slots", tok, _V(tok), slot_types=SLOT_TYPES)
    assert _accepts(fsa, tok, "date: tomorrow; time: five pm")
    assert _accepts(fsa, tok, "time_zone: utc")
    assert _accepts(fsa, tok, "place_name: new york; date: the 3rd; time: 9:30")
    assert _accepts(fsa, tok, "none")  # no slots, as format_slots writes it
    assert not _accepts(fsa, tok, "")  # not an output any target has
    plain = build_grammar("slots", tok, _V(tok), slot_types=SLOT_TYPES, allow_empty=False)
    assert not _accepts(plain, tok, "none")
    assert not _accepts(fsa, tok, "colour: red")
    assert not _accepts(fsa, tok, "date: tomorrow; colour: red")


@pytest.mark.parametrize("task,out", [("ic", "set_alarm"), ("ic", "play"), ("er", "happy")])
def test_joint_labels(tok, task, out):
    fsa = build_grammar("joint", tok, _V(tok), task=task, labels=LABELS)
    assert _accepts(fsa, tok, format_joint("wake me up at seven", task, out))
    assert _accepts(fsa, tok, format_joint("", task, out))
    assert not _accepts(fsa, tok, format_joint("wake me up", task, "sleep"))
    assert not _accepts(fsa, tok, format_joint("wake me | up", task, out))
    assert not _accepts(fsa, tok, format_joint("wake me up", "sf", out))


def test_joint_free_and_slot_outputs(tok):
    free = build_grammar("joint", tok, _V(tok), task="kwe")
    assert _accepts(free, tok, format_joint("the weather in paris", "kwe", "weather, paris"))
    assert not _accepts(free, tok, "ASR: the weather in paris | KWE: weather")
    slots = build_grammar("joint", tok, _V(tok), task="sf", slot_types=SLOT_TYPES)
    assert _accepts(slots, tok, format_joint("meet at five", "sf", "time: five"))
    assert _accepts(slots, tok, format_joint("meet at five", "sf", "time: five; date: today"))
    assert not _accepts(slots, tok, format_joint("meet at five", "sf", "mood: five"))
    assert _accepts(slots, tok, format_joint("meet at five", "sf", format_slots([])))  # none
