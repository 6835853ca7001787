"""The English normaliser does what its docstring promises, and no more."""

import pytest

from svtk.errors import UserError
from svtk.scoring.normalize import (
    EnglishTextNormalizer,
    get_normalizer,
    number_to_words,
    ordinal_to_words,
)


@pytest.mark.parametrize("n,words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (99, "ninety nine"),
    (100, "one hundred"), (1205, "one thousand two hundred five"),
    (2_000_017, "two million seventeen"), (-3, "minus three"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n,words", [(1, "first"), (2, "second"), (3, "third"), (12, "twelfth"),
                                     (21, "twenty first"), (40, "fortieth"), (100, "one hundredth")])
def test_ordinals(n, words):
    assert ordinal_to_words(n) == words


@pytest.mark.parametrize("text,expected", [
    ("It's 25% off -- the Part-Time job!", "it's twenty five percent off the part time job"),
    ("Wake me at 7 AM, please.", "wake me at seven am please"),
    ("pi is 3.14", "pi is three point one four"),
    ("on the 21st of May", "on the twenty first of may"),
    ("$5 and 1,200 items", "five dollars and one thousand two hundred items"),
    ("'quoted' o\u2019clock DON'T", "quoted o'clock don't"),
    ("rock & roll / jazz_fusion", "rock and roll jazz fusion"),
    ("  spaces\tand\nnewlines  ", "spaces and newlines"),
    ("", ""),
])
def test_english(text, expected):
    assert get_normalizer("english")(text) == expected


def test_what_it_does_not_do():
    norm = EnglishTextNormalizer()
    assert norm("don't") != norm("do not")  # no contraction expansion
    assert norm("1990") == "one thousand nine hundred ninety"  # years read as cardinals
    assert norm("uh hello") == "uh hello"  # fillers stay


def test_options():
    assert EnglishTextNormalizer(numbers="keep")("Room 12!") == "room 12"
    assert EnglishTextNormalizer(lowercase=False)("Hello World") == "Hello World"
    assert get_normalizer("none")("  A,  b ") == "A, b"
    with pytest.raises(ValueError):
        EnglishTextNormalizer(numbers="roman")
    with pytest.raises(UserError, match="unknown normaliser"):
        get_normalizer("klingon")
