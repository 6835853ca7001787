"""Hypothesis strategies shared by the property tests of constrained decoding.

Usage::

    @given(labels=label_sets())
    def test_x(labels): ...
"""

from __future__ import annotations

from hypothesis import strategies as st

WORD = st.text(alphabet="abcdefghilmnoprstuy_", min_size=1, max_size=9)
LABEL = st.lists(WORD, min_size=1, max_size=2).map(" ".join)


@st.composite
def label_sets(draw):
    """1-9 distinct labels of one or two words, sometimes one that is a prefix of another."""
    labels = draw(st.lists(LABEL, min_size=1, max_size=8, unique=True))
    if draw(st.booleans()):  # a label that is a prefix of another
        labels.append(labels[0] + draw(WORD))
    return sorted(set(labels))
