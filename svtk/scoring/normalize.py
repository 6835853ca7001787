"""Text normalisers applied to references and hypotheses before WER/CER, KWE and SF scoring.

:class:`EnglishTextNormalizer` is the default for English tasks. It does, in this order:

1. Unicode NFKC (full-width forms, ligatures, non-breaking spaces become plain characters) and
   curly apostrophes/quotes become ASCII.
2. Numbers, when ``numbers="words"``: cardinals become English words (``25`` -> ``twenty five``,
   ``1,200`` -> ``one thousand two hundred``, ``-3`` -> ``minus three``), decimals are read digit by
   digit after ``point`` (``3.14`` -> ``three point one four``), ordinals with a suffix
   (``21st`` -> ``twenty first``), ``%`` -> ``percent``, and a leading ``$``/``£``/``€`` becomes
   ``dollars``/``pounds``/``euros`` after the number. ``numbers="keep"`` leaves digits alone.
3. ``&`` -> ``and``; hyphens, slashes and underscores between words become spaces
   (``part-time`` -> ``part time``).
4. Lower-case (``lowercase=True``).
5. Punctuation and symbols (Unicode categories P* and S*) are removed, except an apostrophe inside
   a word (``don't``, ``o'clock`` stay; ``'quoted'`` loses its quotes).
6. Whitespace is collapsed and stripped.

It deliberately does NOT: expand or contract contractions (``don't`` != ``do not``), read years
as years (``1990`` -> ``one thousand nine hundred ninety``, not ``nineteen ninety``), map
British/American spellings, remove fillers or hesitations (``uh``, ``um``), spell out
abbreviations (``dr``), or convert number words back to digits. References and hypotheses go
through the same function, so these choices only matter when the two disagree in form.

Usage::

    norm = get_normalizer("english")
    norm("It's 25% off -- the Part-Time job!")   # "it's twenty five percent off the part time job"
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORD = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                 "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        if n % 10:
            words.append(_ONES[n % 10])
    elif n or not words:
        words.append(_ONES[n])
    return words


def number_to_words(n: int) -> str:
    """A cardinal in words, American style without "and": 1205 -> "one thousand two hundred five"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 1000:
        return " ".join(_below_thousand(n))
    if n >= 10**15:  # beyond the scale words: read the digits
        return " ".join(_ONES[int(d)] for d in str(n))
    words: list[str] = []
    for value, name in _SCALES:
        if n >= value:
            words += _below_thousand(n // value) + [name]
            n %= value
    if n:
        words += _below_thousand(n)
    return " ".join(words)


def ordinal_to_words(n: int) -> str:
    """21 -> "twenty first", 12 -> "twelfth", 100 -> "one hundredth"."""
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_WORD:
        words[-1] = _ORDINAL_WORD[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


_NUMBER_RE = re.compile(
    r"(?P<cur>[$£€])?(?P<sign>(?<![\w.])-)?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<dec>\d+))?"
    r"(?:(?P<ord>st|nd|rd|th)\b)?(?P<pct>%)?"
)


def _spell_number(m: re.Match) -> str:
    digits = m.group("int").replace(",", "")
    n = int(digits)
    if m.group("ord") and not m.group("dec"):
        words = ordinal_to_words(n)
    else:
        words = number_to_words(n)
        if m.group("dec"):
            words += " point " + " ".join(_ONES[int(d)] for d in m.group("dec"))
    if m.group("sign"):
        words = "minus " + words
    if m.group("pct"):
        words += " percent"
    if m.group("cur"):
        words += " " + _CURRENCY[m.group("cur")]
    return f" {words} "


_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u201c": '"', "\u201d": '"'})
_JOINERS_RE = re.compile(r"[-\u2010-\u2015/_]")


def _strip_punct(token: str) -> str:
    kept = []
    for i, ch in enumerate(token):
        cat = unicodedata.category(ch)
        if ch == "'":
            inside = 0 < i < len(token) - 1 and token[i - 1].isalnum() and token[i + 1].isalnum()
            if inside:
                kept.append(ch)
        elif not (cat.startswith("P") or cat.startswith("S")):
            kept.append(ch)
    return "".join(kept)


@dataclass(frozen=True)
class EnglishTextNormalizer:
    """The English normaliser described in this module's docstring."""

    lowercase: bool = True  # ASR outputs and references disagree on case more than on words
    punctuation: bool = True  # WER counts words, not punctuation marks
    numbers: str = "words"  # "words": spell digits out; "keep": leave them as they are

    def __post_init__(self) -> None:
        if self.numbers not in ("words", "keep"):
            raise ValueError(f"numbers must be 'words' or 'keep', got {self.numbers!r}")

    def __call__(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES)
        if self.numbers == "words":
            text = _NUMBER_RE.sub(_spell_number, text)
        if self.punctuation:
            text = text.replace("&", " and ")
            text = _JOINERS_RE.sub(" ", text)
        if self.lowercase:
            text = text.lower()
        tokens = text.split()
        if self.punctuation:
            tokens = [_strip_punct(t) for t in tokens]
        return " ".join(t for t in tokens if t)


def whitespace_normalizer(text: str) -> str:
    """Only collapse and strip whitespace (what jiwer and Kaldi's compute-wer do by default)."""
    return " ".join((text or "").split())


NORMALIZERS: dict[str, Callable[[str], str]] = {
    "english": EnglishTextNormalizer(),
    "english-keep-numbers": EnglishTextNormalizer(numbers="keep"),
    "none": whitespace_normalizer,
}


def get_normalizer(name: str) -> Callable[[str], str]:
    """A normaliser by name: one of :data:`NORMALIZERS`."""
    from svtk.errors import UserError

    try:
        return NORMALIZERS[name]
    except KeyError:
        raise UserError(f"unknown normaliser {name!r}; known: {', '.join(NORMALIZERS)}") from None
