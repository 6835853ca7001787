"""Prompt banks: sizes, no overlap between train and unseen, placeholders, label listing."""

from __future__ import annotations

import random
import re

import pytest

from svtk.errors import UserError
from svtk.tasks import get_task, joint_prompt, load_prompts, task_names
from svtk.tasks.prompts import placeholders, read_bank_file


@pytest.mark.parametrize("name", task_names())
def test_bank_sizes_and_disjointness(name):
    bank = load_prompts(name)
    assert len(bank.train) >= 15 and len(bank.unseen) >= 3
    assert not set(bank.train) & set(bank.unseen)
    assert len(set(bank.train)) == len(bank.train)
    if get_task(name).labels is not None and name != "kws":
        assert bank.prompts("train", with_labels=True)  # some prompts list the candidates
        assert bank.prompts("unseen", with_labels=True)


# Words of each task's unseen prompts that none of its training prompts uses: what makes the
# unseen-prompt test a test of unseen wording (conf/prompts/README.md). A training prompt that
# takes one up ("Jot down what you hear") would teach the held-out wording.
UNSEEN_ONLY = {
    "asr": "caption dictation jot plain heard exact",
    "st": "interpret again only clip",
    "ic": "map purpose candidates decide trying options",
    "sf": "parse parameters structured named kind",
    "kwe": "summarise highlight tag matter nothing",
    "kws": "spot match quick appear heard",
    "asc": "judge tone overall facts happy unhappy options",
    "sc": "several options voice",
    "ac": "dialect pronunciation guess describe options",
    "sns": "transcriber talker present decide options",
    "gender": "whoever talker guess describe options",
    "style": "unusual speed volume class options",
}


def _words(prompt: str) -> set[str]:
    return set(re.findall(r"[a-z]+", re.sub(r"\{[a-z_]+\}", " ", prompt.lower())))


@pytest.mark.parametrize("name", sorted(UNSEEN_ONLY))
def test_training_prompts_keep_off_the_unseen_wording(name):
    bank = load_prompts(name)
    held_out = set(UNSEEN_ONLY[name].split())
    assert held_out <= set().union(*map(_words, bank.unseen))  # the list follows the bank
    leaks = {p: sorted(_words(p) & held_out) for p in bank.train if _words(p) & held_out}
    assert not leaks, f"training prompts use words of the unseen ones: {leaks}"


def test_required_fields_are_in_every_prompt():
    for p in load_prompts("kws").train + load_prompts("kws").unseen:
        assert "keyword" in placeholders(p)
    for p in load_prompts("st").train + load_prompts("st").unseen:
        assert "language" in placeholders(p)


def test_render_lists_labels_with_descriptions():
    bank = load_prompts("ic")
    labels = {"lights_on": "switch the lights on", "volume_down": "make the sound quieter"}
    p = bank.sample(random.Random(0), "train", labels=labels, with_labels=True)
    assert "volume_down (make the sound quieter)" in p or "lights_on, volume_down" in p
    with pytest.raises(UserError, match="lists labels"):
        from svtk.tasks.prompts import render

        render("Pick one of {labels}")


def test_user_bank_file_with_several_tasks(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text("ic:\n  train: ['What is the intent?']\n  unseen: ['Intent?']\n"
                 "asr:\n  train: ['Transcribe.']\n  unseen: ['Words?']\n")
    banks = read_bank_file(f)
    assert set(banks) == {"ic", "asr"}
    assert load_prompts("asr", f).sample(random.Random(0), "unseen") == "Words?"
    f.write_text("ic:\n  train: ['Say {colour}']\n  unseen: []\n")
    with pytest.raises(UserError, match="unknown placeholder"):
        read_bank_file(f)


def test_joint_prompt_asks_for_the_joint_form():
    p = joint_prompt("What is the intent?", "IC")
    assert p.startswith("What is the intent?") and "IC:" in p and "ASR" in p
