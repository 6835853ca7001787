"""Tolerant output parsers and the task -> metric map."""

import pytest

from svtk.scoring.outputs import TASK_METRICS, metric_for, parse_joint, parse_keywords, parse_slots


@pytest.mark.parametrize("text,slots,bad", [
    ("date: tuesday; time: ten am", [("date", "tuesday"), ("time", "ten am")], 0),
    ("Event Name: mona", [("event_name", "mona")], 0),
    ("[date : tuesday] [time : ten am]", [("date", "tuesday"), ("time", "ten am")], 0),
    ("date: tuesday; garbage", [("date", "tuesday")], 1),
    ("time: 10:30", [("time", "10:30")], 0),
    ("", [], 0), ("none", [], 0), ("None.", [], 0),
])
def test_parse_slots(text, slots, bad):
    assert parse_slots(text) == (slots, bad)


def test_parse_keywords():
    assert parse_keywords("alarm, seven am;music\nalarm") == ["alarm", "seven am", "music"]
    assert parse_keywords(" , ") == []
    assert parse_keywords("none") == []


@pytest.mark.parametrize("text,parts", [
    ("ASR: hello world | IC: greet |", ("hello world", "greet")),
    ("ASR: a b | SF: date: x; time: y |", ("a b", "date: x; time: y")),
    ("ASR: only transcript", ("only transcript", None)),
    ("no joint form", (None, None)),
])
def test_parse_joint(text, parts):
    assert parse_joint(text) == parts


def test_metrics():
    assert metric_for("asr") == "wer" and metric_for("sf") == "slu_f1"
    assert metric_for("er") == "uar" and metric_for("kws") == "accuracy"
    assert metric_for("mystery") is None and metric_for("mystery", "bleu") == "bleu"
    assert set(TASK_METRICS.values()) == {"wer", "bleu", "accuracy", "uar", "f1", "slu_f1"}
