"""Text normalisation before keyword matching, with a map back to the original text.

Each character of the original text is mapped on its own, so every character of the normalised
text comes from exactly one original character and a hit can be reported as offsets into the
original. The mapping of one character is, in order:

1. compatibility folding (NFKD; this turns full-width Ｂａｄ into Bad and the ideographic
   space into a space), with combining marks dropped and the rest recomposed (NFC);
2. case folding;
3. traditional to simplified Chinese, character by character, from the tables that
   opencc-python-reimplemented ships;
4. removal of whatever is not a letter, digit or ideograph: white space, punctuation, symbols,
   zero-width and other format characters. This is what makes "坏 词", "坏.词" and "坏\u200b词"
   match the keyword 坏词; keywords are normalised the same way.

Keywords and text go through the same function, so whatever a step does it does to both.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from importlib import resources

# Characters mapped by the table: the Basic Multilingual Plane, the Supplementary Multilingual
# Plane (mathematical alphanumerics, enclosed letters) and CJK Extension B, plus the tag block
# (invisible format characters). Others pass through unchanged.
_TABLE_RANGES = ((0x0000, 0x2FFFF), (0xE0000, 0xE0FFF))
_KEPT_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"})


@cache
def traditional_to_simplified() -> dict[str, str]:
    """Character-level traditional→simplified table from the converter package's TSCharacters dictionary."""
    text = (resources.files("opencc") / "dictionary" / "TSCharacters.txt").read_text(encoding="utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if "\t" not in line:
            continue
        source, targets = line.split("\t", 1)
        target = targets.split(" ")[0].strip()
        if len(source) == 1 and len(target) == 1 and source != target:
            table[source] = target
    return table


def char_normalise(ch: str, t2s: dict[str, str] | None = None) -> str:
    """The normalised form of one character: usually one character, sometimes none or several."""
    t2s = traditional_to_simplified() if t2s is None else t2s
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    folded = unicodedata.normalize("NFC", base).casefold()
    out = []
    for c in folded:
        c = t2s.get(c, c)
        if unicodedata.category(c) in _KEPT_CATEGORIES:
            out.append(c)
    return "".join(out)


@cache
def translation_table() -> dict[int, str | None]:
    """``str.translate`` table holding every character whose normalised form differs from itself.

    Built once per process (about a second); ``str.translate`` then normalises a text in C.
    """
    t2s = traditional_to_simplified()
    table: dict[int, str | None] = {}
    for start, end in _TABLE_RANGES:
        for code in range(start, end + 1):
            ch = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                continue
            mapped = char_normalise(ch, t2s)
            if mapped != ch:
                table[code] = mapped or None
    return table


def normalise(text: str) -> str:
    """The normalised text alone (the fast path: no offsets)."""
    return text.translate(translation_table())


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character it came from."""
    table = translation_table()
    parts: list[str] = []
    offsets: list[int] = []
    for index, ch in enumerate(text):
        mapped = table.get(ord(ch), ch)
        if mapped:
            parts.append(mapped)
            offsets.extend([index] * len(mapped))
    return "".join(parts), offsets
