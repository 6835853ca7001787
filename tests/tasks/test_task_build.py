"""Task cuts: every task in every split, balance, held-out labels, prompts, joint, determinism."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from lhotse import load_manifest

from svtk.cli import run
from svtk.tasks import get_task, load_prompts
from svtk.testing.data import have_tts, tiny_tasks, tiny_tasks_config

pytestmark = pytest.mark.skipif(not have_tts(), reason="espeak-ng/flite/festival/sox missing")

MINI = ["asr", "st", "ic", "sf", "kwe", "kws", "asc", "sc", "ac", "sns", "gender", "style"]


def _cuts(split):
    return list(load_manifest(tiny_tasks() / "tasks" / f"{split}.jsonl.gz"))


@pytest.mark.parametrize("split", ["train", "dev", "test_seen", "test_unseen",
                                   "test_seen_unseenprompt"])
def test_every_task_in_every_split(split):
    cuts = _cuts(split)
    assert set(MINI) <= {c.task for c in cuts}
    for c in cuts:
        task = get_task(c.task)
        assert c.supervisions[0].text is not None and c.prompt and c.target
        assert (c.labels is not None) == (task.labels is not None)
        if c.joint:
            _, out = task.parse_joint(c.target)
        else:
            out = c.target
        if task.closed:
            assert task.parse(out) in c.labels
        if task.kind == "slots":
            assert task.format(task.parse(out)) == out
            assert {t for t, _ in task.parse(out)} <= set(c.labels)


def test_class_balance_within_2x_in_training():
    by_task: dict[str, Counter] = {}
    for c in _cuts("train"):
        if get_task(c.task).closed and not c.joint:
            by_task.setdefault(c.task, Counter())[c.target] += 1
    for t, counts in by_task.items():
        if t == "ic":  # 14 intents in a tiny corpus: balance is checked on the larger tasks
            continue
        assert max(counts.values()) <= 2 * min(counts.values()), (t, counts)


def test_prompts_come_from_the_requested_bank():
    for split, kind in (("test_seen", "train"), ("test_seen_unseenprompt", "unseen")):
        for c in _cuts(split):
            assert c.prompt_kind == kind
    seen = {c.id.rsplit("_", 1)[0]: c.prompt for c in _cuts("test_seen") if c.task == "asr"}
    asr = load_prompts("asr")
    assert set(seen.values()) <= set(asr.train)
    unseen = {c.prompt for c in _cuts("test_seen_unseenprompt") if c.task == "asr"}
    assert unseen <= set(asr.unseen)


def test_decode_time_bank_prompts_are_the_training_prompts():
    """`svtk decode --prompts train` must show a model the prompts it was trained on: every
    cut's own prompt is what the decoder renders from one of the bank's templates."""
    from svtk.decoding.prompts import fill_prompt

    listed = 0
    for c in _cuts("test_seen"):
        if c.joint:
            continue
        bank = load_prompts(c.task).train
        rendered = {fill_prompt(t, c.task, c.custom) for t in bank}
        assert c.prompt in rendered, (c.task, c.prompt)
        listed += "{labels}" in next(t for t in bank if fill_prompt(t, c.task, c.custom) == c.prompt)
    assert listed > 10  # prompts listing the labels with their descriptions are among them


def test_held_out_labels_never_in_training():
    held = "volume_down"
    for split in ("train", "dev"):
        for c in _cuts(split):
            if c.task == "ic":
                assert held not in c.labels and held not in c.target and not c.heldout
    test = [c for c in _cuts("test_seen") + _cuts("test_unseen") if c.task == "ic"]
    assert all(held in c.labels for c in test)
    # a prompt that does not list the labels cannot ask for one never trained: such examples
    # are left out of the plain tests (the unseen-label split keeps them)
    assert test and not any(c.heldout or c.target == held for c in test)


def test_joint_examples_only_in_training_and_parse_back():
    train = _cuts("train")
    joint = [c for c in train if c.joint]
    assert joint and all(c.target.startswith("ASR: ") and c.target.endswith(" |") for c in joint)
    for c in joint:
        transcript, _ = get_task(c.task).parse_joint(c.target)
        assert transcript == c.supervisions[0].text
    assert not any(c.joint for c in _cuts("test_seen"))


def test_kws_yes_share_and_keywords():
    kws = [c for c in _cuts("train") + _cuts("dev") if c.task == "kws" and not c.joint]
    yes = sum(c.target == "yes" for c in kws)
    assert 0.4 < yes / len(kws) < 0.85
    for c in kws:
        assert (c.keyword in c.supervisions[0].text.split()) == (c.target == "yes")
        assert c.keyword in c.prompt


def test_cli_tasks_is_deterministic_and_idempotent(tmp_path):
    import shutil

    d = tmp_path / "data"
    shutil.copytree(tiny_tasks() / "manifests", d / "manifests")
    cfg = tmp_path / "tasks.yaml"
    cfg.write_text("holdout_labels: {ic: [volume_down]}\n"
                   "splits:\n  train: {source: train}\n"
                   "  test_heldout_ic: {source: test_seen, eval: true, tasks: [ic], "
                   "with_labels: true}\n")
    assert run(["data", "tasks", "-c", str(cfg), "-d", str(d)]) == 0
    first = hashlib.sha256((d / "tasks" / "train.jsonl.gz").read_bytes()).hexdigest()
    assert run(["data", "tasks", "-c", str(cfg), "-d", str(d)]) == 0  # skipped
    assert run(["data", "tasks", "-c", str(cfg), "-d", str(d), "--force"]) == 0
    assert hashlib.sha256((d / "tasks" / "train.jsonl.gz").read_bytes()).hexdigest() == first
    held = list(load_manifest(d / "tasks" / "test_heldout_ic.jsonl.gz"))
    assert held and all("volume_down (make the sound quieter)" in c.prompt or
                        "volume_down" in c.prompt for c in held)
    assert run(["data", "tasks", "-c", str(cfg), "-d", str(d), "--set", "seed=5"]) == 2


def test_held_out_examples_only_where_the_prompt_can_name_them(tmp_path):
    import shutil

    from svtk.data.manifests import load_manifests

    d = tmp_path / "data"
    shutil.copytree(tiny_tasks() / "manifests", d / "manifests")
    intents = Counter(s.custom["intent"] for s in load_manifests(d, "mini", "test_seen")[1]
                      if "intent" in s.custom)
    held = intents.most_common(1)[0][0]  # an intent the tiny test_seen has
    cfg = tmp_path / "tasks.yaml"
    cfg.write_text(f"holdout_labels: {{ic: [{held}]}}\ntasks: {{ic: {{share: 1.0}}}}\n"
                   "splits:\n  train: {source: train}\n"
                   "  plain: {source: test_seen, eval: true}\n"
                   "  listed: {source: test_seen, eval: true, with_labels: true}\n"
                   "  only: {source: test_seen, eval: true, with_labels: true, heldout_only: true}\n")
    assert run(["data", "tasks", "-c", str(cfg), "-d", str(d)]) == 0
    split = {n: list(load_manifest(d / "tasks" / f"{n}.jsonl.gz"))
             for n in ("train", "plain", "listed", "only")}
    assert not any(c.target == held for c in split["train"] + split["plain"])
    assert all(held in c.labels for c in split["plain"] + split["listed"])
    n_held = sum(c.target == held and c.heldout for c in split["listed"])
    assert n_held == intents[held]
    assert len(split["listed"]) == len(split["plain"]) + n_held
    assert split["only"] and all(c.target == held and c.heldout and held in c.prompt
                                 for c in split["only"])


def test_tasks_config_rejects_unknown_task():
    with pytest.raises(Exception, match="unknown task"):
        tiny_tasks_config(holdout_labels={"nope": ["x"]})
