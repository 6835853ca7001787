"""Accuracy, UAR, per-class F1 and confusion matrices on hand-computed cases."""

import pytest

from svtk.scoring.classification import OTHER, LabelMatcher, confusion_tsv, score_classification


def test_hand_computed():
    refs = ["a", "a", "a", "a", "b", "c"]
    hyps = ["a", "a", "a", "b", "b", "a"]
    r = score_classification(refs, hyps, labels=["a", "b", "c"])
    assert r.accuracy == pytest.approx(100 * 4 / 6)
    # recalls: a 3/4, b 1/1, c 0/1 -> UAR = (75 + 100 + 0) / 3
    assert r.uar == pytest.approx(175 / 3)
    pc = r.per_class()
    assert pc["a"]["precision"] == pytest.approx(75.0)  # 3 of 4 predicted a
    assert pc["b"]["precision"] == pytest.approx(50.0)
    assert pc["b"]["f1"] == pytest.approx(2 * 50 * 100 / 150)
    rows, cols, mat = r.matrix()
    assert rows == ["a", "b", "c"] and cols == ["a", "b", "c"]
    assert mat == [[3, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_uar_differs_from_accuracy_on_imbalance():
    refs = ["x"] * 9 + ["y"]
    r = score_classification(refs, ["x"] * 10, labels=["x", "y"])
    assert r.accuracy == pytest.approx(90.0)
    assert r.uar == pytest.approx(50.0)


def test_bad_hyps_counted_never_dropped():
    refs = ["yes", "no", "yes", "no", "yes"]
    hyps = ["Yes.", "", "maybe", "no", "YES"]
    r = score_classification(refs, hyps, labels=["yes", "no"])
    assert r.n == 5
    assert r.correct == 3  # "Yes." and "YES" match leniently
    assert r.counts == {"empty_hyps": 1, "out_of_set_hyps": 1, "lenient_matches": 2,
                        "refs_not_in_labels": 0}
    assert r.out_of_set == {"maybe": 1}
    rows, cols, mat = r.matrix()
    assert cols == ["yes", "no", OTHER]
    assert mat == [[2, 0, 1], [0, 1, 1]]
    assert confusion_tsv(r).splitlines()[0] == "ref\\hyp\tyes\tno\t<other>"


def test_reference_outside_labels_is_counted():
    r = score_classification(["a", "z"], ["a", "z"], labels=["a", "b"])
    assert r.counts["refs_not_in_labels"] == 1
    assert r.accuracy == 100.0


def test_labels_default_to_references():
    r = score_classification(["p", "q"], ["q", "q"])
    assert r.labels == ["p", "q"] and r.accuracy == 50.0


def test_matcher():
    m = LabelMatcher(["play_music", "Set Alarm"])
    assert m.match("play_music") == ("play_music", False)
    assert m.match(" set  alarm. ") == ("Set Alarm", True)
    assert m.match("play music") == (None, False)
