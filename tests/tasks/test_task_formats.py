"""Task output formats: tolerant slot/keyword/label parsers, the joint form, metric per task.

These were three copies (registry, scorer, decoder); the scorer's and decoder's assertions are
kept here as they were, against the one implementation in :mod:`svtk.tasks.formats`.
"""

import pytest

from svtk.tasks import (
    METRICS,
    LabelMatcher,
    format_joint,
    get_task,
    metric_for,
    parse_joint,
    parse_keywords,
    parse_slots,
    parse_slots_counting,
    task_names,
    task_order,
    tasks,
)


@pytest.mark.parametrize("text,slots,bad", [
    ("date: tuesday; time: ten am", [("date", "tuesday"), ("time", "ten am")], 0),
    ("Event Name: mona", [("event_name", "mona")], 0),
    ("[date : tuesday] [time : ten am]", [("date", "tuesday"), ("time", "ten am")], 0),
    ("date: tuesday; garbage", [("date", "tuesday")], 1),
    ("time: 10:30", [("time", "10:30")], 0),
    ("date: tuesday\ntime: ten am", [("date", "tuesday"), ("time", "ten am")], 0),
    (": orphan value; place: Paris", [("place", "Paris")], 1),  # value kept as written
    ("", [], 0), ("none", [], 0), ("None.", [], 0), ("No slots", [], 0), (None, [], 0),
])
def test_parse_slots(text, slots, bad):
    assert parse_slots_counting(text) == (slots, bad)
    assert parse_slots(text) == slots
    assert get_task("sf").parse(text or "") == slots  # the registry reads slots the same way


def test_parse_keywords():
    assert parse_keywords("alarm, seven am;music\nalarm") == ["alarm", "seven am", "music"]
    assert parse_keywords(" , ") == []
    assert parse_keywords("none") == []
    assert parse_keywords("Nothing.") == [] and parse_keywords(None) == []
    assert get_task("kwe").parse("alarm, seven  am") == ["alarm", "seven am"]


def test_label_matcher():
    m = LabelMatcher(["play_music", "Set Alarm"])
    assert m.match("play_music") == ("play_music", False)
    assert m.match(" set  alarm. ") == ("Set Alarm", True)
    assert m.match("play music") == (None, False)  # an underscore is part of the label
    ic = get_task("ic")
    assert ic.parse("play music") == "play music" and ic.parse("Play_Music!") == "play_music"


@pytest.mark.parametrize("text,parts", [
    ("ASR: hello world | IC: greet |", ("hello world", "greet")),
    ("ASR: a b | SF: date: x; time: y |", ("a b", "date: x; time: y")),
    ("ASR: only transcript", ("only transcript", None)),
    ("no joint form", (None, None)),
    ("ASR: empty output | IC: |", ("empty output", "")),  # empty, not missing
])
def test_parse_joint(text, parts):
    p = parse_joint(text)
    assert (p.transcript, p.output) == parts


def test_joint_round_trip():
    text = format_joint("wake me up at seven", "ic", "set_alarm")
    assert text == "ASR: wake me up at seven | IC: set_alarm |"
    p = parse_joint(text)
    assert (p.transcript, p.task, p.output, p.ok) == ("wake me up at seven", "ic", "set_alarm", True)
    assert parse_joint(text, "ic").ok and parse_joint(text, "IC").ok


@pytest.mark.parametrize("transcript,output,text", [
    ("", "set_alarm", "ASR: | IC: set_alarm |"),
    ("call mom", "", "ASR: call mom | IC: |"),
    ("", " ", "ASR: | IC: |"),
])
def test_joint_empty_parts(transcript, output, text):
    assert format_joint(transcript, "ic", output) == text  # one space each side of a bar
    p = parse_joint(text, "ic")
    assert p.ok and (p.transcript, p.output) == (transcript, output.strip())


def test_joint_slot_output_and_missing_final_bar():
    p = parse_joint("ASR: meet tomorrow at five | SF: date: tomorrow; time: five")
    assert p.ok and p.task == "sf" and p.output == "date: tomorrow; time: five"


def test_joint_malformed_outputs_are_kept_not_dropped():
    p = parse_joint("ASR: only a transcript")
    assert not p.ok and p.transcript == "only a transcript" and p.parts() == ("only a transcript", "")
    p = parse_joint("set_alarm")
    assert not p.ok and p.parts() == ("", "set_alarm")


def test_joint_with_a_known_tag():
    text = "ASR: call mom | ER: happy |"
    assert parse_joint(text).output == "happy"  # any tag
    p = parse_joint(text, "ic")  # another task's part is not this task's output
    assert not p.ok and p.transcript == "call mom" and p.output is None
    p = parse_joint("ASR: a | b | IC: x |", "ic")
    assert p.output == "x" and not p.ok  # a bar inside the transcript is malformed


def test_metrics_and_order():
    assert metric_for("asr") == "wer" and metric_for("sf") == "slu_f1"
    assert metric_for("er") == "uar" and metric_for("kws") == "accuracy"
    assert metric_for("mystery") is None and metric_for("mystery", "bleu") == "bleu"
    assert {t.metric for t in tasks().values()} == {"wer", "bleu", "accuracy", "uar", "f1", "slu_f1"}
    assert set(METRICS) == {t.metric for t in tasks().values()}
    assert sorted(["sf", "mystery", "ic", "asr"], key=task_order) == ["asr", "ic", "sf", "mystery"]
    assert sorted(task_names(), key=task_order) == task_names()
