"""The joint output format: format/parse round trip and tolerant parsing of bad outputs."""

from __future__ import annotations

from svtk.decoding.joint import format_joint, parse_joint


def test_round_trip():
    text = format_joint("wake me up at seven", "ic", "set_alarm")
    assert text == "ASR: wake me up at seven | IC: set_alarm |"
    p = parse_joint(text)
    assert (p.transcript, p.task, p.output, p.ok) == ("wake me up at seven", "ic", "set_alarm", True)


def test_slot_output_and_missing_final_bar():
    p = parse_joint("ASR: meet tomorrow at five | SF: date: tomorrow; time: five")
    assert p.ok and p.task == "sf" and p.output == "date: tomorrow; time: five"


def test_malformed_outputs_are_kept_not_dropped():
    p = parse_joint("ASR: only a transcript")
    assert not p.ok and p.transcript == "only a transcript" and p.output == ""
    p = parse_joint("set_alarm")
    assert not p.ok and p.output == "set_alarm"
