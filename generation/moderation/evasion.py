"""Evasion forms the keyword automaton cannot see by itself, and the rules that keep innocent text out.

- Escapes: HTML character references (``&#22351;``, ``&#x574F;``, ``&amp;``) and URL escapes
  (``%E5%9D%8F``) are decoded once, as a browser shows them, before anything else.
- Written-out keywords: ``gaps_allowed`` and ``word_edges_allowed`` say when separators between
  a keyword's characters are skipped (see ``normalise``'s docstring for the rule).
- Pinyin spellings of each keyword, built with the automaton (``pinyin_syllables``).
- Text views searched besides the compact text (built only when the text has what they need):
  digits removed (坏3词), repeated characters collapsed (坏坏词词), every second character
  (禁x用x样x例), components joined back into their character (女子 → 好), and pinyin around
  Latin letters (huai蛋, h蛋).

Every limit below lives in ``RULES``.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from generation.moderation.normalise import BARRIER, invisible, latin_kind
from generation.moderation.tables import components, pinyin_readings


@dataclass(frozen=True)
class EvasionRules:
    # A filler between every pair of characters (禁x用x样x例) counts only for keywords this long
    # and of Chinese characters only: in Latin text every other letter of a word spells something.
    filler_min_chars: int = 3
    # A keyword written wholly in pinyin (huaidan) counts only from this length on: two syllables
    # are often a name or an ordinary word written in pinyin.
    all_pinyin_min_chars: int = 3
    # Initials (h坏蛋) count only when at least this many of the keyword's characters are written
    # out as themselves, and never for a keyword shorter than ``initials_min_chars``: a single
    # Latin letter beside a Chinese character (B超, T恤, A股) is everyday writing.
    initials_min_exact: int = 1
    initials_min_chars: int = 3
    # Pinyin spellings built per keyword, over its characters' readings (most common first).
    pinyin_variants_max: int = 2
    # Keywords shorter than this are never matched split: 女子 is an ordinary word, not 好 in disguise.
    split_min_chars: int = 2


RULES = EvasionRules()

_ESCAPE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?|(?:%[0-9A-Fa-f]{2})+")


@dataclass(frozen=True)
class Decoded:
    """Text with its escapes decoded; ``starts[i]:ends[i]`` is the original stretch character i came from."""

    text: str
    starts: list[int]
    ends: list[int]


def _url_decoded(escaped: str) -> list[tuple[str, int]]:
    """(piece, number of original characters) for a run of %XX escapes; bytes that are not UTF-8 stay escaped."""
    data = bytes.fromhex(escaped.replace("%", ""))
    pieces: list[tuple[str, int]] = []
    for ch in data.decode("utf-8", errors="surrogateescape"):
        if "\udc80" <= ch <= "\udcff":
            pieces.extend((c, 1) for c in f"%{ord(ch) - 0xDC00:02X}")
        else:
            pieces.append((ch, 3 * len(ch.encode("utf-8"))))
    return pieces


def decode_escapes(text: str) -> Decoded | None:
    """The text with HTML and URL escapes decoded, or None when it holds none."""
    if "&" not in text and "%" not in text:
        return None
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    done = 0
    changed = False
    for match in _ESCAPE.finditer(text):
        escaped = match.group()
        if escaped.startswith("&"):
            decoded = html.unescape(escaped)
            if decoded == escaped:
                continue
            pieces = [(decoded, len(escaped))]
        else:
            pieces = _url_decoded(escaped)
        for index in range(done, match.start()):
            parts.append(text[index])
            starts.append(index)
            ends.append(index + 1)
        at = match.start()
        for piece, width in pieces:
            for ch in piece:
                parts.append(ch)
                starts.append(at)
                ends.append(at + width)
            at += width
        done = match.end()
        changed = True
    if not changed:
        return None
    for index in range(done, len(text)):
        parts.append(text[index])
        starts.append(index)
        ends.append(index + 1)
    return Decoded("".join(parts), starts, ends)


def gaps_allowed(gaps: list[str], latin_pairs: list[bool]) -> bool:
    """Whether a match whose neighbouring characters are separated by ``gaps`` is a written-out keyword.

    ``gaps[i]`` is the original text between characters i and i+1; ``latin_pairs[i]`` says whether
    both are Latin letters. Either every gap is seen, or none is, or those seen split Latin words.
    """
    seen = [bool(gap) and not invisible(gap) for gap in gaps]
    if all(seen) or not any(seen):
        return True
    return all(latin for gap, latin in zip(seen, latin_pairs, strict=True) if gap)


def _visible_neighbour(text: str, index: int, step: int) -> str:
    while 0 <= index < len(text):
        if not invisible(text[index]):
            return text[index]
        index += step
    return ""


def word_edges_allowed(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` neither starts inside a Latin word (or number) nor ends inside one."""
    first, last = latin_kind(text[start]), latin_kind(text[end - 1])
    if first and latin_kind(_visible_neighbour(text, start - 1, -1)) == first:
        return False
    return not (last and latin_kind(_visible_neighbour(text, end, 1)) == last)


@cache
def joined_components() -> dict[str, str]:
    """Components written side by side → the character they make (女子 → 好); the first character wins a tie."""
    joined: dict[str, str] = {}
    for ch, splits in components().items():
        for parts in splits:
            joined.setdefault(parts, ch)
    return joined


def pinyin_syllables(key: str) -> list[tuple[str, ...]]:
    """Pinyin spellings of a keyword, syllable by syllable (Latin letters and digits stand for themselves).

    Empty when a character has no reading or the keyword has no Chinese character.
    """
    if key.isascii():
        return []
    readings = pinyin_readings()
    try:
        options = [readings[ch] if ch in readings else _SELF[ch] for ch in key]
    except KeyError:
        return []
    return list(itertools.islice(itertools.product(*options), RULES.pinyin_variants_max))


@cache
def pinyin_table(*, initials: bool) -> dict[int, str]:
    """``str.translate`` table: Chinese character → its most common reading (or that reading's initial)."""
    return {ord(ch): (r[0][0] if initials else r[0]) for ch, r in pinyin_readings().items()}


_SELF = {ch: (ch,) for ch in "abcdefghijklmnopqrstuvwxyz0123456789"}


def windows_around(
    spans: Iterable[tuple[int, int]], size: int, reach: int, *, longest: int | None = None
) -> list[tuple[int, int]]:
    """Stretches of a text ``size`` long within ``reach`` characters of ``spans`` (of at most ``longest``).

    ``spans`` are in order. Overlapping and touching stretches are merged, so no span is ever cut at
    a stretch's edge. The views that only matter near a Latin word, a digit, a repeat or a joined
    character are searched in these stretches rather than over the whole text.
    """
    windows: list[tuple[int, int]] = []
    for first, end in spans:
        if longest is not None and end - first > longest:
            continue
        start, stop = max(0, first - reach), min(size, end + reach)
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], stop))
        else:
            windows.append((start, stop))
    return windows


__all__ = [
    "BARRIER",
    "RULES",
    "Decoded",
    "EvasionRules",
    "decode_escapes",
    "gaps_allowed",
    "pinyin_syllables",
    "pinyin_table",
    "joined_components",
    "windows_around",
    "word_edges_allowed",
]
