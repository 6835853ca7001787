"""The task registry: the paper's 11 tasks + gender/style, metrics, labels, parsers, joint form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svtk.errors import UserError
from svtk.tasks import METRICS, get_task, parse_joint, task_names

PAPER = ["asr", "st", "ic", "sf", "kwe", "kws", "er", "asc", "sc", "ac", "sns"]


def test_every_paper_task_and_the_mini_extras_are_registered():
    assert set(PAPER + ["gender", "style"]) <= set(task_names())
    metrics = {t: get_task(t).metric for t in PAPER}
    assert metrics == {"asr": "wer", "st": "bleu", "ic": "accuracy", "sf": "slu_f1", "kwe": "f1",
                       "kws": "accuracy", "er": "uar", "asc": "uar", "sc": "uar", "ac": "uar",
                       "sns": "uar"}
    assert all(get_task(t).metric in METRICS for t in task_names())


def test_closed_tasks_have_described_labels():
    for name in task_names():
        task = get_task(name)
        if task.closed:
            assert len(task.labels) >= 2
            assert all(isinstance(d, str) and d for d in task.labels.values())
    assert get_task("asr").labels is None and not get_task("sf").closed
    assert "happy" in get_task("er").labels  # ER is registered honestly, for real corpora


def test_unknown_task_is_a_user_error():
    with pytest.raises(UserError, match="unknown task"):
        get_task("nope")


def test_targets_from_metadata():
    meta = {"id": "u1", "text": "set an alarm for noon", "intent": "set_alarm",
            "slots": [["time", "noon"]], "keywords": ["alarm", "noon"], "accent": "scottish",
            "translations": {"de": "Stelle einen Wecker für 12 Uhr mittags."},
            "gender": "female", "style": "fast", "is_speech": True}
    assert get_task("asr").target(meta) == "set an alarm for noon"
    assert get_task("ic").target(meta) == "set_alarm"
    assert get_task("sf").target(meta) == "time: noon"
    assert get_task("kwe").target(meta) == "alarm, noon"
    assert get_task("kws").target(meta, keyword="alarm") == "yes"
    assert get_task("kws").target(meta, keyword="kitchen") == "no"
    assert get_task("st").target(meta, lang="de").startswith("Stelle")
    assert get_task("sns").target(meta) == "speech"
    assert get_task("sc").target({"n_speakers": 2}) == "two"
    assert get_task("sf").target({**meta, "slots": []}) == "none"
    with pytest.raises(UserError, match="emotion"):
        get_task("er").target(meta)
    assert not get_task("er").applies(meta) and get_task("ac").applies(meta)


def test_closed_parse_normalises():
    ic = get_task("ic")
    assert ic.parse("  Lights_On. ") == "lights_on"
    # The scorer's rule (svtk.tasks.LabelMatcher): an underscore is part of a label.
    assert ic.parse("lights on") == "lights on"
    assert ic.parse("something else") == "something else"
    assert get_task("sns").parse("Non-speech") == "non-speech"


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)
_value = st.lists(_word, min_size=1, max_size=3).map(" ".join)
_type = st.lists(_word, min_size=1, max_size=2).map("_".join)


@given(st.lists(st.tuples(_type, _value), max_size=5))
def test_sf_parser_round_trips_targets(slots):
    sf = get_task("sf")
    assert sf.parse(sf.format(slots)) == slots


@given(st.lists(_value.filter(lambda w: w != "none"), max_size=6, unique=True))
def test_kwe_parser_round_trips_targets(words):  # "none" is the empty list's target
    kwe = get_task("kwe")
    assert kwe.parse(kwe.format(words)) == words


@given(_value, st.sampled_from(["lights_on", "time: noon; place: paris", "none", "Ja, bitte."]))
def test_joint_form_round_trips(transcript, output):
    for name in ("ic", "sf", "st"):
        task = get_task(name)
        assert task.parse_joint(task.format_joint(transcript, output)) == (transcript, output)


def test_joint_parse_is_tolerant():
    assert parse_joint("ASR: call mom", "IC").parts() == ("call mom", "")
    assert parse_joint("ASR: call mom | IC: call_contact", "IC").parts() == ("call mom", "call_contact")
    assert get_task("ic").format_joint("call mom", "call_contact") == \
        "ASR: call mom | IC: call_contact |"
