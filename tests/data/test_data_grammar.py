"""The grammar: every template and slot value fills in English, German and French."""

from __future__ import annotations

import random

from svtk.data import grammar
from svtk.tasks import get_task


def test_every_template_and_value_fills_in_every_language():
    for domain in ("command", "opinion"):
        for i, t in enumerate(grammar.templates(domain)):
            names = list(dict.fromkeys(grammar.slot_names(t)))
            longest = max([len(grammar.SLOTS[n]) for n in names] or [1])
            for k in range(longest):  # every value of every slot at least once
                values = {n: grammar.SLOTS[n][k % len(grammar.SLOTS[n])] for n in names}
                s = grammar.fill(domain, i, values)
                assert "{" not in s.text and s.text == s.text.lower()
                for lang, tr in s.translations.items():
                    assert "{" not in tr and tr[0].isupper(), (lang, tr)
                for typ, value in s.slots:
                    assert value in s.text and typ in grammar.SLOT_TYPES


def test_labels_match_the_registry():
    assert set(grammar.INTENTS) == set(get_task("ic").labels)
    assert set(grammar.SLOT_TYPES) == set(get_task("sf").labels)
    assert set(grammar.SENTIMENTS) == set(get_task("asc").labels)
    assert {t.intent for t in grammar.COMMANDS} == set(grammar.INTENTS)
    assert {t.sentiment for t in grammar.OPINIONS} == set(grammar.SENTIMENTS)


def test_keywords_are_spoken_content_words():
    rng = random.Random(0)
    for _ in range(200):
        s = grammar.sample_sentence(rng, rng.choice(["command", "opinion"]))
        words = s.text.split()
        assert all(k in words and k not in grammar.STOPWORDS for k in s.keywords)


def test_slurp_text_is_read_into_sentences():
    from pathlib import Path

    import pytest

    from svtk.data.slurp import parse_annotation, slurp_sentences

    assert parse_annotation("wake me up at [time : five am] [date : Friday]") == [
        ("time", "five am"), ("date", "friday")]
    import os

    slurp = Path(os.environ.get("SVTK_SLURP_DIR") or
                 Path(__file__).resolve().parents[2].parent / "shared" / "data" / "slurp")
    if not (slurp / "devel.jsonl").exists():
        pytest.skip("SLURP text not found (../shared/data/slurp or $SVTK_SLURP_DIR)")
    out = slurp_sentences(slurp, 0, ["train", "dev", "test_seen", "test_unseen"])
    assert all(out[s] for s in out)
    train = {s.text for s in out["train"]}
    assert not train & {s.text for s in out["test_seen"]}
    assert any(s.slots for s in out["train"]) and all(s.intent for s in out["train"])


def test_french_and_german_forms_agree_with_their_words():
    by_en = {v.en: v for vals in grammar.SLOTS.values() for v in vals}

    def tr(domain, en_template, **values):
        i = next(k for k, t in enumerate(grammar.templates(domain)) if t.en == en_template)
        return grammar.fill(domain, i, {k: by_en[v] for k, v in values.items()}).translations

    assert tr("command", "play songs by {artist}", artist="adele")["fr"] == \
        "Joue des chansons d'Adele."
    assert tr("command", "play songs by {artist}", artist="the beatles") == {
        "de": "Spiel Lieder von den Beatles.", "fr": "Joue des chansons des Beatles."}
    assert tr("command", "i want to listen to {artist}", artist="the beatles") == {
        "de": "Ich möchte die Beatles hören.", "fr": "Je veux écouter les Beatles."}
    assert tr("command", "please phone {person}", person="doctor smith")["fr"] == \
        "Téléphone au docteur Smith, s'il te plaît."
    assert tr("opinion", "we talked about the {thing} on monday", thing="hotel")["fr"] == \
        "Nous avons parlé de l'hôtel lundi."
    assert tr("opinion", "my brother told me about the {thing}", thing="movie") == {
        "de": "Mein Bruder hat mir von dem Film erzählt.", "fr": "Mon frère m'a parlé du film."}
