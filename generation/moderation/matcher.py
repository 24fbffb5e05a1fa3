"""The keyword automaton: Aho-Corasick over the normalised keywords and allowlist phrases.

Pure Python plus pyahocorasick; it knows nothing of Django, so the benchmark and the tests can
build one from a plain list.

The automaton runs over the UTF-16 code units of the compact text (see ``normalise``), each split
into two byte-valued characters, rather than over the characters themselves. A trie node's
children are searched one by one, and the root of a Chinese keyword library has thousands of
children (one per first character); with bytes no node has more than 256, which makes matching
about ten times faster. A match is kept only when it starts on a code-unit boundary (an even byte
offset).

Besides the compact text the same automaton searches views of it for the evasion forms of
``evasion`` (digits removed, repeats collapsed, every second character); two more automata, of
the keywords' pinyin spellings and of their initials, search the text around Latin letters. Every
match is a candidate until it passes the gap and word-edge rules on the original text.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import ahocorasick

from generation.moderation.evasion import (
    RULES,
    decode_escapes,
    gaps_allowed,
    joined_components,
    latin_windows,
    pinyin_syllables,
    pinyin_table,
    word_edges_allowed,
)
from generation.moderation.normalise import BARRIER, compact, compact_with_offsets, normalise, normalise_with_offsets

_DIGIT = re.compile(r"[0-9]")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_REPEAT = re.compile(r"([^\x00-\x7f])\1+")
_LATIN = re.compile(r"[a-z]")
_ASCII_ALNUM = re.compile(r"[a-z0-9]")


def _encode(text: str) -> str:
    """Two byte-valued characters per UTF-16 code unit (big-endian)."""
    return text.encode("utf-16-be", "surrogatepass").decode("latin-1")


def _is_letter(ch: str) -> bool:
    return "a" <= ch <= "z"


@dataclass(frozen=True)
class KeywordEntry:
    id: int
    keyword: str
    risk_code: str
    action: str  # "block" or "flag"


@dataclass(frozen=True)
class Hit:
    """One keyword found: ``start``/``end`` index the ORIGINAL text (end exclusive)."""

    start: int
    end: int
    entry: KeywordEntry


class _Node(NamedTuple):
    length: int  # in bytes of the encoded form
    entries: tuple[KeywordEntry, ...]
    allow: bool
    chars: int
    chinese: bool  # no Latin letter or digit in the key
    own_gaps: frozenset[int]  # i: the keyword itself has a separator between its characters i and i+1


class _Spelling(NamedTuple):
    """One pinyin spelling (or initials) of a normalised keyword, syllable by syllable."""

    key: str
    syllables: tuple[str, ...]
    entries: tuple[KeywordEntry, ...]
    own_gaps: frozenset[int]


# The compact-text stretch (first, last) each keyword character was found in.
_Units = list[tuple[int, int]]
# A candidate: its units, its entries, and where the keyword itself has separators.
_Candidate = tuple[_Units, tuple[KeywordEntry, ...], frozenset[int]]


def _own_gaps(keyword: str) -> frozenset[int]:
    """Positions between normalised characters where the keyword as written has a separator (A.1-01)."""
    if keyword.isalnum():
        return frozenset()
    _key, offsets = normalise_with_offsets(keyword)
    return frozenset(i for i in range(len(offsets) - 1) if offsets[i + 1] - offsets[i] > 1)


def _iter_whole(automaton: ahocorasick.Automaton, view: str) -> Iterator[tuple[int, int, Any]]:
    """(first character, end character, value) of every whole-character match of a byte automaton in ``view``.

    Each value's first field is the encoded length of its word.
    """
    encoded = _encode(view)
    char_at = None
    if len(encoded) != 2 * len(view):
        char_at = [i for i, ch in enumerate(view) for _unit in range(2 if ord(ch) > 0xFFFF else 1)]
    for last, value in automaton.iter(encoded):
        start = last - value[0] + 1
        if start & 1:
            continue  # straddles two code units: not a match of whole characters
        first, end = start // 2, (last + 1) // 2
        if char_at is not None:
            first, end = char_at[first], char_at[end - 1] + 1
        yield first, end, value


@cache
def _joins_automaton() -> ahocorasick.Automaton:
    """Byte automaton of the component pairs and triples that make a character (built once per process)."""
    automaton = ahocorasick.Automaton()
    for parts, whole in joined_components().items():
        encoded = _encode(parts)
        automaton.add_word(encoded, (len(encoded), whole))
    automaton.make_automaton()
    return automaton


class KeywordMatcher:
    """Keywords and allowlist phrases of one library version, compiled into one automaton.

    An allowlist phrase suppresses exactly the keyword hits that lie inside one of its own
    occurrences; the same keyword elsewhere in the text is still a hit.
    """

    def __init__(self, *, version: int, entries: Iterable[KeywordEntry], allowlist: Iterable[str] = ()) -> None:
        started = time.perf_counter()
        self.version = version
        groups: dict[str, list[KeywordEntry]] = defaultdict(list)
        self.skipped: list[KeywordEntry] = []
        for entry in entries:
            key = normalise(entry.keyword)
            if key:
                groups[key].append(entry)
            else:
                # Nothing left after normalisation (only punctuation or symbols): it could never match.
                self.skipped.append(entry)
        allow_keys = {key for key in (normalise(p) for p in allowlist) if key}
        self.keyword_count = sum(len(v) for v in groups.values())
        self.allowlist_count = len(allow_keys)

        own_gaps = {
            key: frozenset().union(*(_own_gaps(e.keyword) for e in found)) if key != found[0].keyword else frozenset()
            for key, found in groups.items()
        }
        self._automaton = ahocorasick.Automaton()
        for key in groups.keys() | allow_keys:
            encoded = _encode(key)
            chinese = _ASCII_ALNUM.search(key) is None
            gaps = own_gaps.get(key, frozenset())
            node = _Node(len(encoded), tuple(groups.get(key, ())), key in allow_keys, len(key), chinese, gaps)
            self._automaton.add_word(encoded, node)
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()

        full: dict[str, dict[tuple[str, tuple[str, ...]], _Spelling]] = defaultdict(dict)
        initials: dict[str, dict[tuple[str, tuple[str, ...]], _Spelling]] = defaultdict(dict)
        for key, found in groups.items():
            for syllables in pinyin_syllables(key):
                full["".join(syllables)][key, syllables] = _Spelling(key, syllables, tuple(found), own_gaps[key])
                if len(key) >= RULES.initials_min_chars:
                    letters = tuple(s[0] for s in syllables)
                    initials["".join(letters)][key, letters] = _Spelling(key, letters, tuple(found), own_gaps[key])
        self._pinyin = self._spelling_automaton(full)
        self._initials = self._spelling_automaton(initials)
        self._reach = max((len(key) for key in groups), default=0)
        self._joins = _joins_automaton()
        self.build_seconds = time.perf_counter() - started

    @staticmethod
    def _spelling_automaton(
        spellings: dict[str, dict[tuple[str, tuple[str, ...]], _Spelling]],
    ) -> ahocorasick.Automaton | None:
        if not spellings:
            return None
        automaton = ahocorasick.Automaton()
        for text, options in spellings.items():
            automaton.add_word(text, (len(text), tuple(options.values())))
        automaton.make_automaton()
        return automaton

    def _hits(self, view: str) -> Iterator[tuple[int, int, _Node]]:
        """(first character, end character, node) of every whole-character match in ``view``."""
        return _iter_whole(self._automaton, view)

    def find(self, text: str) -> list[Hit]:
        """Every keyword hit not covered by an allowlist phrase, with offsets into ``text``."""
        if self._empty or not text:
            return []
        decoded = decode_escapes(text)
        source = decoded.text if decoded else text
        view = compact(source)
        candidates: list[_Candidate] = []
        allowed: list[tuple[int, int]] = []
        for first, end, node in self._hits(view):
            if node.entries:
                candidates.append(([(i, i) for i in range(first, end)], node.entries, node.own_gaps))
            if node.allow:
                allowed.append((first, end - 1))
        candidates.extend(self._view_candidates(view))
        if not candidates:
            return []

        # Only now, with a candidate to judge, build the map back to the original text.
        check, offsets = compact_with_offsets(source)
        assert check == view  # noqa: S101 (both paths use one table; a difference is a bug)

        def original(first: int, last: int) -> tuple[int, int]:
            start, end = offsets[first], offsets[last]
            return (decoded.starts[start], decoded.ends[end]) if decoded else (start, end + 1)

        allowed_spans = [original(first, last) for first, last in allowed]
        hits: list[Hit] = []
        for units, entries, own in candidates:
            gaps = [
                "" if i in own else source[offsets[a[1]] + 1 : offsets[b[0]]]
                for i, (a, b) in enumerate(zip(units, units[1:], strict=False))
            ]
            latin = [_is_letter(view[a[1]]) and _is_letter(view[b[0]]) for a, b in zip(units, units[1:], strict=False)]
            if not gaps_allowed(gaps, latin):
                continue
            if not word_edges_allowed(source, offsets[units[0][0]], offsets[units[-1][1]] + 1):
                continue
            start, end = original(units[0][0], units[-1][1])
            if any(a0 <= start and end <= a1 for a0, a1 in allowed_spans):
                continue
            for entry in entries:
                # One report per stretch: a form found in two views (坏坏词词 holds 坏词 too) keeps the wider.
                same = [h for h in hits if h.entry.id == entry.id and h.start < end and start < h.end]
                if any(h.start <= start and end <= h.end for h in same):
                    continue
                hits = [h for h in hits if h not in same]
                hits.append(Hit(start=start, end=end, entry=entry))
        return hits

    def _view_candidates(self, view: str) -> Iterator[_Candidate]:
        """Candidates found in the views of the compact text that the evasion forms need."""
        if _DIGIT.search(view):
            kept = None
            for first, end, node in self._hits(view.translate(_NO_DIGITS)):
                if node.entries:
                    kept = kept or [i for i, ch in enumerate(view) if not "0" <= ch <= "9"]
                    if kept[end - 1] - kept[first] != end - 1 - first:  # digits inside: not a plain match
                        yield [(kept[i], kept[i]) for i in range(first, end)], node.entries, node.own_gaps
        if _REPEAT.search(view):
            runs: list[tuple[int, int]] = []
            for first, end, node in self._hits(_REPEAT.sub(r"\1", view)):
                if node.entries:
                    runs = runs or [m.span() for m in re.finditer(r"(.)\1*", view, re.DOTALL)]
                    units = [(runs[i][0], runs[i][1] - 1) for i in range(first, end)]
                    if any(a != b for a, b in units):
                        yield units, node.entries, node.own_gaps
        for parity in (0, 1):
            for first, end, node in self._hits(view[parity::2]):
                if node.entries and node.chinese and node.chars >= RULES.filler_min_chars:
                    first, last = parity + 2 * first, parity + 2 * (end - 1)
                    if BARRIER not in view[first:last]:
                        yield [(i, i) for i in range(first, last + 1, 2)], node.entries, node.own_gaps
        yield from self._joined_candidates(view)
        if _LATIN.search(view):
            yield from self._pinyin_candidates(view, self._pinyin, initials=False)
            yield from self._pinyin_candidates(view, self._initials, initials=True)

    def _joined_candidates(self, view: str) -> Iterator[_Candidate]:
        """Candidates in views with components written side by side joined back (女子人 → 好人).

        Neighbouring pairs go to alternate views, so one join cannot eat the characters of the next
        (女子人卡: 女子 → 好, but 人卡 also makes 佧).
        """
        layers: list[list[tuple[int, int, str]]] = [[], []]
        for index, (first, end, (_length, whole)) in enumerate(_iter_whole(self._joins, view)):
            joins = layers[index % 2]
            if not joins or first >= joins[-1][1]:
                joins.append((first, end, whole))
        for joins in layers:
            if joins:
                yield from self._joined_view_candidates(view, joins)

    def _joined_view_candidates(self, view: str, joins: list[tuple[int, int, str]]) -> Iterator[_Candidate]:
        pieces: list[str] = []
        units: _Units = []  # the compact-text stretch of each character of the joined view
        at = 0
        for first, end, whole in joins:
            pieces.append(view[at:first])
            units.extend((i, i) for i in range(at, first))
            pieces.append(whole)
            units.append((first, end - 1))
            at = end
        pieces.append(view[at:])
        units.extend((i, i) for i in range(at, len(view)))
        for first, end, node in self._hits("".join(pieces)):
            found = units[first:end]
            if node.entries and node.chars >= RULES.split_min_chars and any(a != b for a, b in found):
                yield found, node.entries, node.own_gaps

    def _pinyin_candidates(
        self, view: str, automaton: ahocorasick.Automaton | None, *, initials: bool
    ) -> Iterator[_Candidate]:
        if automaton is None:
            return
        table = pinyin_table(initials=initials)
        # Initials are single letters: a longer Latin word is not a run of them.
        longest = self._reach - 1 if initials else None
        for a, b in latin_windows(view, self._reach, longest=longest):
            spelled = view[a:b].translate(table)
            source_of: list[int] = []  # index in ``view`` of each character of ``spelled``
            latin_before: list[int] = [0]  # Latin letters of the text among the first i characters of ``spelled``
            for last, (length, options) in automaton.iter(spelled):
                if not source_of:
                    source_of = [a + i for i, ch in enumerate(view[a:b]) for _c in range(len(table.get(ord(ch), ch)))]
                    for i in source_of:
                        latin_before.append(latin_before[-1] + _is_letter(view[i]))
                latin = latin_before[last + 1] - latin_before[last + 1 - length]
                if latin == 0 or (initials and latin == length):
                    continue  # nothing spelled in Latin letters, or (initials) no character written as itself
                for option in options:
                    units = self._spelling_units(view, source_of, last - length + 1, option, initials=initials)
                    if units is not None:
                        yield units, option.entries, option.own_gaps

    @staticmethod
    def _spelling_units(
        view: str, source_of: list[int], start: int, option: _Spelling, *, initials: bool
    ) -> _Units | None:
        """The keyword characters' stretches if the pinyin match is the keyword with some characters spelled.

        A character written as itself must be the keyword's very character (a homophone is another
        word); at least one must be spelled in Latin letters, as the rules ask.
        """
        units: _Units = []
        exact = spelled = 0
        at = start
        for ch, syllable in zip(option.key, option.syllables, strict=True):
            first = source_of[at]
            last = source_of[at + len(syllable) - 1]
            if not _is_letter(view[first]) and not view[first].isdigit():
                # Written as a Chinese character: exactly that one character, and the keyword's.
                if view[first] != ch or last != first or (at > 0 and source_of[at - 1] == first):
                    return None
                exact += 1
            elif ch.isascii():
                exact += 1
            else:
                if not all(_is_letter(view[source_of[i]]) for i in range(at, at + len(syllable))):
                    return None
                spelled += 1
            units.append((first, last))
            at += len(syllable)
        if spelled == 0:
            return None
        if initials:
            return units if exact >= RULES.initials_min_exact else None
        return units if exact > 0 or len(option.key) >= RULES.all_pinyin_min_chars else None
