"""How the synthetic corpus draws its sentences: held-out splits by text, decks per template."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict

import pytest

from svtk.data import grammar
from svtk.data.synth import SPLITS, SentenceSource, plan
from svtk.testing.data import tiny_synth_config


def test_fillings_are_every_distinct_combination_of_slot_values():
    for domain in ("command", "opinion"):
        for i, t in enumerate(grammar.templates(domain)):
            names = list(dict.fromkeys(grammar.slot_names(t)))
            texts = [s.text for s in grammar.fillings(domain, i)]
            assert len(texts) == math.prod(len(grammar.SLOTS[n]) for n in names)
            assert len(set(texts)) == len(texts)
            assert all(s.template == i and s.domain == domain for s in grammar.fillings(domain, i))


def _draws(source: SentenceSource, split: str, n: int) -> list[grammar.Sentence]:
    return [source.draw(split) for _ in range(n)]


def test_no_filling_repeats_before_its_template_has_used_them_all():
    cfg = tiny_synth_config()
    source = SentenceSource(cfg, random.Random(0))
    for split in SPLITS:
        by_template: dict[tuple[str, int], list[str]] = defaultdict(list)
        for s in _draws(source, split, 400):
            by_template[s.domain, s.template].append(s.text)
        for (domain, index), texts in by_template.items():
            pool = len(source.pools[split, domain][index])
            for start in range(0, len(texts) - pool + 1, pool):  # each full pass: all distinct
                assert len(set(texts[start:start + pool])) == pool, (split, domain, index)
            assert set(texts) <= {x.text for x in source.pools[split, domain][index]}


def test_templates_are_drawn_uniformly_whatever_their_number_of_fillings():
    source = SentenceSource(tiny_synth_config(opinion_share=0.0), random.Random(0))
    counts = Counter(s.template for s in _draws(source, "train", 4800))
    n = len(source.pools["train", "command"])
    assert len(counts) == n
    expected = 4800 / n
    assert all(abs(c - expected) < 5 * math.sqrt(expected) for c in counts.values()), counts


def test_sentence_splits_set_the_held_out_share_of_sentences():
    def pool_sizes(**kw):
        source = SentenceSource(tiny_synth_config(**kw), random.Random(0))
        return Counter({split: sum(len(v) for v in by_t.values())
                        for (split, _), by_t in source.pools.items()})

    audio = {"train": 0.9, "dev": 0.025, "test_seen": 0.0375, "test_unseen": 0.0375}
    sentences = {"train": 0.7, "dev": 0.1, "test_seen": 0.1, "test_unseen": 0.1}
    a = pool_sizes(splits=audio)
    b = pool_sizes(splits=audio, sentence_splits=sentences)
    total = sum(a.values())
    assert sum(b.values()) == total
    for split in SPLITS:  # each split's share of the 1,264 sentences, within sampling noise
        share = sentences[split] / sum(sentences.values())
        assert abs(b[split] - share * total) < 4 * math.sqrt(share * total), (split, b)
    assert b["test_seen"] > 2 * a["test_seen"]
    # the audio shares still size the splits
    items = plan(tiny_synth_config(hours=0.5, splits=audio, sentence_splits=sentences))
    per_split = Counter(it.split for it in items)
    assert per_split["train"] > 15 * per_split["test_seen"]


def test_sentence_splits_must_name_the_same_splits():
    with pytest.raises(ValueError, match="sentence_splits"):
        tiny_synth_config(sentence_splits={"train": 0.9, "dev": 0.1})


def test_growing_a_test_split_leaves_train_and_dev_as_they_were():
    # with sentence_splits fixing which sentences each split holds, and train and dev planned
    # first, more test audio (the shares need not sum to 1) changes no training recording: a
    # recipe can enlarge its tests and keep its trained models
    base = {"train": 0.9, "dev": 0.025, "test_seen": 0.0375, "test_unseen": 0.0375}

    def plan_of(**splits):
        return plan(tiny_synth_config(hours=0.5, splits={**base, **splits}, sentence_splits=base))

    def by_split(items, split):
        return [(it.id, it.kind, [(s.voice, s.text, s.style) for s in it.segments], it.ns_kind,
                 it.ns_duration) for it in items if it.split == split]

    small, large = plan_of(), plan_of(test_seen=0.1, test_unseen=0.1)
    for split in ("train", "dev"):
        assert by_split(large, split) == by_split(small, split)
    assert len(by_split(large, "test_seen")) > 2 * len(by_split(small, "test_seen"))
