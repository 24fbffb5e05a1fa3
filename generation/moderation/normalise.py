"""Text normalisation before keyword matching, with a map back to the original text.

Each character of the original text is mapped on its own, so every character of the normalised
text comes from exactly one original character and a hit can be reported as offsets into the
original. The mapping of one character is, in order:

1. compatibility folding (NFKD; this turns full-width Ｂａｄ into Bad and the ideographic
   space into a space), with combining marks dropped and the rest recomposed (NFC);
2. look-alike letters of other scripts to the Latin letter they imitate (Cyrillic а, Greek ο),
   then case folding;
3. traditional to simplified Chinese, character by character, from the tables that
   opencc-python-reimplemented ships;
4. removal of whatever is not a letter, digit or ideograph: white space, punctuation, symbols,
   zero-width and other format characters.

Keywords go through ``normalise`` (steps 1-4). Text to be searched goes through ``compact``, which
differs in one way: a clause boundary becomes ``BARRIER``, a character no keyword holds, so no
keyword is ever assembled across it. A clause boundary is a Chinese clause mark (，。；！？、：…
and their full-width forms), a line break, or ASCII . , ; : ! ? followed by white space or the end
of the text ("坏.词" is one word written with a dot; "bad. Word" is two sentences).

What step 4 removes is the *gap* between two matched characters. The matcher (``evasion.gaps_allowed``)
accepts a match with gaps only when

- every pair of its neighbouring characters has a gap: the keyword is written out spaced
  ("坏 词", "坏.词", "禁-用-样-例"); a gap that is only zero-width or format characters counts as
  none, since a reader sees no gap; or
- its gaps all sit between two Latin letters: a Latin keyword written as separate words
  ("bad word" for badword);

and a match that starts (ends) with a Latin letter must start (end) a Latin word in the original:
the letter before it (after it) must not be a letter, and likewise for digits. So "禁用 样例" does
not match 禁用样例 (gaps in one place only), "bad wordsmith" does not match "dw", and "usb" does not
match "sb".
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from importlib import resources

from generation.moderation.tables import lookalike_letters

# Characters mapped by the table: the Basic Multilingual Plane, the Supplementary Multilingual
# Plane (mathematical alphanumerics, enclosed letters) and CJK Extension B, plus the tag block
# (invisible format characters). Others pass through unchanged.
_TABLE_RANGES = ((0x0000, 0x2FFFF), (0xE0000, 0xE0FFF))
_KEPT_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl", "No"})
# Characters a reader does not see: a gap made only of these is no gap.
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc"})

BARRIER = "\x00"
_CLAUSE_END = re.compile(
    r"[，。；！？、：…︰﹐﹑﹒﹔﹕﹖﹗｡､\r\n\u2028\u2029\x00《》〈〉「」『』【】〔〕“”（）()\[\]{}\"]|[.,;:!?](?=\s|$)"
)


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


def char_normalise(ch: str, t2s: dict[str, str] | None = None, lookalikes: dict[str, str] | None = None) -> str:
    """The normalised form of one character: usually one character, sometimes none or several."""
    t2s = traditional_to_simplified() if t2s is None else t2s
    lookalikes = lookalike_letters() if lookalikes is None else lookalikes
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    out = []
    for c in unicodedata.normalize("NFC", base):
        # Before and after case folding: Greek Τ has a Latin twin, its small τ has none.
        c = lookalikes.get(c) or "".join(lookalikes.get(f, f) for f in c.casefold())
        for f in c:
            f = t2s.get(f, f)
            if unicodedata.category(f) in _KEPT_CATEGORIES:
                out.append(f)
    return "".join(out)


@cache
def translation_table() -> dict[int, str | None]:
    """``str.translate`` table holding every character whose normalised form differs from itself.

    Built once per process (about a second); ``str.translate`` then normalises a text in C.
    """
    t2s = traditional_to_simplified()
    lookalikes = lookalike_letters()
    table: dict[int, str | None] = {}
    for start, end in _TABLE_RANGES:
        for code in range(start, end + 1):
            ch = chr(code)
            if 0xD800 <= code <= 0xDFFF:
                continue
            mapped = char_normalise(ch, t2s, lookalikes)
            if mapped != ch:
                table[code] = mapped or None
    return table


@cache
def compact_table() -> dict[int, str | None]:
    """The normalisation table with ``BARRIER`` kept rather than removed."""
    table = dict(translation_table())
    table.pop(ord(BARRIER), None)
    return table


def normalise(text: str) -> str:
    """The normalised form of a keyword or allowlist phrase (every separator removed)."""
    return text.translate(translation_table())


def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the index of the original character it came from."""
    return text.translate(translation_table()), _offsets(text, compact=False)


def clause_marked(text: str) -> str:
    """``text`` with each clause boundary replaced by ``BARRIER`` (same length, same offsets)."""
    return _CLAUSE_END.sub(BARRIER, text)


def compact(text: str) -> str:
    """The form text is searched in: normalised, with ``BARRIER`` at each clause boundary."""
    return clause_marked(text).translate(compact_table())


def compact_offsets(text: str) -> list[int]:
    """For each character of ``compact(text)``, the index of the original character it came from."""
    return _offsets(clause_marked(text), compact=True)


def compact_with_offsets(text: str) -> tuple[str, list[int]]:
    """``compact(text)`` and its ``compact_offsets``."""
    return compact(text), compact_offsets(text)


@cache
def _uneven(*, compact: bool) -> re.Pattern[str]:
    """Matches every character whose normalised form may not be exactly one character.

    In the Basic Multilingual Plane exactly those: a class of a few hundred ranges, which the
    regular expression engine tests with a bitmap, far faster than ``str.translate`` looks
    characters up. Beyond it every character (rare in text; ``_offsets`` looks each one up).
    """
    table = compact_table() if compact else translation_table()
    ranges: list[list[int]] = []
    for code in sorted(table):
        mapped = table[code]
        if code <= 0xFFFF and (mapped is None or len(mapped) != 1):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    members = "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)
    return re.compile(f"[{members}\U00010000-\U0010ffff]")


def _offsets(text: str, *, compact: bool) -> list[int]:
    """For each character of ``text`` normalised (by ``compact_table`` or else ``translation_table``), its index.

    Characters mapped to exactly one character (nearly all of a Chinese text) are copied a stretch
    at a time; only the others are looked up one by one.
    """
    table = compact_table() if compact else translation_table()
    offsets: list[int] = []
    done = 0
    for match in _uneven(compact=compact).finditer(text):
        index = match.start()
        offsets.extend(range(done, index))
        ch = text[index]
        mapped = table.get(ord(ch), ch)
        if mapped:
            offsets.extend([index] * len(mapped))
        done = index + 1
    offsets.extend(range(done, len(text)))
    return offsets


def invisible(text: str) -> bool:
    """Whether a reader sees nothing of ``text`` (zero-width, format and combining characters only)."""
    return all(unicodedata.category(c) in _INVISIBLE_CATEGORIES for c in text)


def latin_kind(ch: str) -> str:
    """``"a"`` for a character that normalises to an ASCII letter, ``"0"`` for a digit, ``""`` otherwise."""
    mapped = ch.translate(translation_table())
    if len(mapped) != 1 or not mapped.isascii():
        return ""
    if mapped.isalpha():
        return "a"
    return "0" if mapped.isdigit() else ""
