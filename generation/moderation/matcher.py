"""The keyword automaton: Aho-Corasick over the normalised keywords and allowlist phrases.

Pure Python plus pyahocorasick; it knows nothing of Django, so the benchmark and the tests can
build one from a plain list.

The automaton runs over the UTF-16 code units of the compact text (see ``normalise``) written as
bytes (see ``automata``). Besides the compact text it searches views of it for the evasion forms of
``evasion``: every second character over the whole text, and, only near what they need, digits
removed, repeats collapsed and components joined. Two more automata, of the keywords' pinyin
spellings and of their initials (``spellings``), search the text around Latin letters. Every match
is a candidate until it passes the gap and word-edge rules on the original text.

Every web and worker process holds a matcher, so it is kept small (about a third of the memory a
tuple of Python objects per keyword would take): the automata store plain integers, keywords live
in one string, and the pinyin automaton holds only each spelling's first two syllables, the rest
being compared when those match.
"""

from __future__ import annotations

import re
import time
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

from generation.moderation.automata import Strings, byte_automaton, iter_whole, joins_automaton
from generation.moderation.evasion import (
    RULES,
    decode_escapes,
    gaps_allowed,
    pinyin_syllables,
    pinyin_table,
    windows_around,
    word_edges_allowed,
)
from generation.moderation.normalise import BARRIER, compact, compact_offsets, normalise, normalise_with_offsets
from generation.moderation.spellings import (
    Units,
    initials_match,
    is_letter,
    marked_pinyin_table,
    spelling_units,
    spellings_build,
)

_DIGIT_RUN = re.compile(r"[0-9]+")
_NO_DIGITS = str.maketrans("", "", "0123456789")
_REPEAT = re.compile(r"([^\x00-\x7f])\1+")
_LATIN_RUN = re.compile(r"[a-z]+")
_ASCII_ALNUM = re.compile(r"[a-z0-9]")
_NOT_LATIN = re.compile(r"[^a-z]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

_NO_GAPS: frozenset[int] = frozenset()


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


# A candidate: its units, its entries, and where the keyword itself has separators.
_Candidate = tuple[Units, Sequence[KeywordEntry], frozenset[int]]


def _own_gaps(keyword: str) -> frozenset[int]:
    """Positions between normalised characters where the keyword as written has a separator (A.1-01)."""
    if keyword.isalnum():
        return _NO_GAPS
    _key, offsets = normalise_with_offsets(keyword)
    return frozenset(i for i in range(len(offsets) - 1) if offsets[i + 1] - offsets[i] > 1)


class KeywordMatcher:
    """Keywords and allowlist phrases of one library version, compiled into one automaton.

    An allowlist phrase suppresses exactly the keyword hits that lie inside one of its own
    occurrences; the same keyword elsewhere in the text is still a hit.

    Each distinct normalised keyword or phrase is a *group*, numbered in ``_keys``, and the main
    automaton's value is the group.
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

        keys = [*groups, *sorted(allow_keys - groups.keys())]
        self._keys = Strings(keys)
        self._entries = [entry for found in groups.values() for entry in found]
        self._entry_bounds = array("q", accumulate((len(groups.get(key, ())) for key in keys), initial=0))
        self._own_gaps: dict[int, frozenset[int]] = {}
        for group, (key, found) in enumerate(groups.items()):
            if key != found[0].keyword and (gaps := frozenset().union(*(_own_gaps(e.keyword) for e in found))):
                self._own_gaps[group] = gaps
        self._allow = bytearray(key in allow_keys for key in keys)
        self._automaton, self._lengths = byte_automaton(keys)
        self._empty = len(self._automaton) == 0

        self._pinyin, self._initials = spellings_build(groups)
        self._reach = max((len(key) for key in groups), default=0)
        self._joins, self._join_lengths, self._joined = joins_automaton()
        self.build_seconds = time.perf_counter() - started

    def _candidate(self, units: Units, group: int) -> _Candidate | None:
        """A candidate for the group's keywords (none for an allowlist phrase alone)."""
        entries = self._entries[self._entry_bounds[group] : self._entry_bounds[group + 1]]
        if not entries:
            return None
        return units, entries, self._own_gaps.get(group, _NO_GAPS)

    def _hits(self, view: str) -> Iterator[tuple[int, int, int]]:
        """(first character, end character, group) of every whole-character match in ``view``."""
        return iter_whole(self._automaton, self._lengths, view)

    def find(self, text: str) -> list[Hit]:
        """Every keyword hit not covered by an allowlist phrase, with offsets into ``text``."""
        if self._empty or not text:
            return []
        decoded = decode_escapes(text)
        source = decoded.text if decoded else text
        view = compact(source)
        candidates: list[_Candidate] = []
        allowed: list[tuple[int, int]] = []
        for first, end, value in self._hits(view):
            if candidate := self._candidate([(i, i) for i in range(first, end)], value):
                candidates.append(candidate)
            if self._allow[value]:
                allowed.append((first, end - 1))
        candidates.extend(self._view_candidates(view))
        if not candidates:
            return []

        # Only now, with a candidate to judge, build the map back to the original text.
        offsets = compact_offsets(source)
        assert len(offsets) == len(view)  # noqa: S101 (both paths use one table; a difference is a bug)

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
            latin = [is_letter(view[a[1]]) and is_letter(view[b[0]]) for a, b in zip(units, units[1:], strict=False)]
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
        """Candidates found in the views of the compact text that the evasion forms need.

        Each view but the fillers' is searched only near what it needs (a digit, a repeat, a joined
        character, a Latin word), within the longest keyword's length of it: a keyword found there
        lies wholly inside that stretch.
        """
        yield from self._digit_candidates(view)
        yield from self._repeat_candidates(view)
        yield from self._filler_candidates(view)
        yield from self._joined_candidates(view)
        latin = [match.span() for match in _LATIN_RUN.finditer(view)]
        if latin:
            yield from self._pinyin_candidates(view, latin)
            yield from self._initials_candidates(view, latin)

    def _digit_candidates(self, view: str) -> Iterator[_Candidate]:
        """Keywords with digits between their characters (坏3词)."""
        for a, b in windows_around(_spans(_DIGIT_RUN, view), len(view), self._reach):
            kept: list[int] = []
            for first, end, value in self._hits(view[a:b].translate(_NO_DIGITS)):
                kept = kept or [i for i in range(a, b) if not "0" <= view[i] <= "9"]
                if kept[end - 1] - kept[first] != end - 1 - first:  # digits inside: not a plain match
                    if candidate := self._candidate([(kept[i], kept[i]) for i in range(first, end)], value):
                        yield candidate

    def _repeat_candidates(self, view: str) -> Iterator[_Candidate]:
        """Keywords with their characters repeated (坏坏词词)."""
        for a, b in windows_around(_spans(_REPEAT, view), len(view), self._reach):
            part = view[a:b]
            units: Units = []  # the stretch of ``view`` each character of the collapsed part stands for
            for first, end, value in self._hits(_REPEAT.sub(r"\1", part)):
                if not units:
                    at = a
                    for run in _REPEAT.finditer(part):
                        units.extend((i, i) for i in range(at, a + run.start()))
                        units.append((a + run.start(), a + run.end() - 1))
                        at = a + run.end()
                    units.extend((i, i) for i in range(at, b))
                found = units[first:end]
                if any(x != y for x, y in found) and (candidate := self._candidate(found, value)):
                    yield candidate

    def _filler_candidates(self, view: str) -> Iterator[_Candidate]:
        """Keywords with one filler between every pair of characters (禁x用x样x例), over the whole text."""
        for parity in (0, 1):
            for first, end, value in self._hits(view[parity::2]):
                key = self._keys[value]
                if len(key) >= RULES.filler_min_chars and _ASCII_ALNUM.search(key) is None:
                    first, last = parity + 2 * first, parity + 2 * (end - 1)
                    if BARRIER not in view[first:last]:
                        candidate = self._candidate([(i, i) for i in range(first, last + 1, 2)], value)
                        if candidate:
                            yield candidate

    def _joined_candidates(self, view: str) -> Iterator[_Candidate]:
        """Candidates in views with components written side by side joined back (女子人 → 好人).

        Neighbouring pairs go to alternate views, so one join cannot eat the characters of the next
        (女子人卡: 女子 → 好, but 人卡 also makes 佧).
        """
        layers: list[list[tuple[int, int, str]]] = [[], []]
        for index, (first, end, value) in enumerate(iter_whole(self._joins, self._join_lengths, view)):
            joins = layers[index % 2]
            if not joins or first >= joins[-1][1]:
                joins.append((first, end, self._joined[value]))
        for joins in layers:
            at = 0
            for a, b in windows_around([(first, end) for first, end, _whole in joins], len(view), self._reach):
                inside = []
                while at < len(joins) and joins[at][0] < b:
                    inside.append(joins[at])
                    at += 1
                yield from self._joined_view_candidates(view, a, b, inside)

    def _joined_view_candidates(
        self, view: str, a: int, b: int, joins: list[tuple[int, int, str]]
    ) -> Iterator[_Candidate]:
        pieces: list[str] = []
        units: Units = []  # the compact-text stretch of each character of the joined view
        at = a
        for first, end, whole in joins:
            pieces.append(view[at:first])
            units.extend((i, i) for i in range(at, first))
            pieces.append(whole)
            units.append((first, end - 1))
            at = end
        pieces.append(view[at:b])
        units.extend((i, i) for i in range(at, b))
        for first, end, value in self._hits("".join(pieces)):
            found = units[first:end]
            if len(self._keys[value]) >= RULES.split_min_chars and any(x != y for x, y in found):
                if candidate := self._candidate(found, value):
                    yield candidate

    def _pinyin_candidates(self, view: str, latin: list[tuple[int, int]]) -> Iterator[_Candidate]:
        """Keywords with some characters spelled in pinyin (huai蛋), around Latin words (``latin``: their spans)."""
        spellings = self._pinyin
        if spellings is None or spellings.texts is None:
            return
        table = marked_pinyin_table()
        texts, bounds = spellings.texts.text, spellings.texts.bounds
        for a, b in windows_around(latin, len(view), self._reach):
            marked = view[a:b].translate(table)  # Chinese characters in capitals, the text's own letters in small
            spelled = marked.translate(_ASCII_LOWER)
            # next_latin[i]: where the first Latin letter of the text at or after i is in ``spelled``.
            next_latin: list[int] = []
            for run in _LATIN_RUN.finditer(marked):
                next_latin.extend([run.start()] * (run.start() - len(next_latin)))
                next_latin.extend(range(run.start(), run.end()))
            last_latin = len(next_latin) - 1
            next_latin.extend([len(spelled)] * (len(spelled) + 1 - len(next_latin)))
            source_of: list[int] = []  # index in ``view`` of each character of ``spelled``
            # A match starting after the last Latin letter spells nothing in it: its start is not looked at.
            # (The end is clamped: the automaton reads past the end of the string when asked to.)
            stop = min(len(spelled), last_latin + spellings.longest)
            for last, value in spellings.automaton.iter(spelled, 0, stop):
                seed = spellings.lengths[value]
                start = last - seed + 1
                # A spelling must reach the first Latin letter of the text at or after its start.
                reach = next_latin[start] - start
                after = spelled[last + 1 : last + 2]  # the letter after the start: most spellings differ there
                for option in range(spellings.bounds[value], spellings.bounds[value + 1]):
                    at, end = bounds[option], bounds[option + 1]
                    if end - at <= reach:
                        break
                    if end - at > seed and texts[at + seed] != after:
                        continue
                    if texts[at:end] != spelled[start : start + end - at]:
                        continue
                    if not source_of:
                        source_of = [
                            a + i for i, ch in enumerate(view[a:b]) for _c in range(len(table.get(ord(ch), ch)))
                        ]
                    group, variant = divmod(spellings.options[option], RULES.pinyin_variants_max)
                    key = self._keys[group]
                    units = spelling_units(view, source_of, start, key, pinyin_syllables(key)[variant])
                    if units is not None and (candidate := self._candidate(units, group)):
                        yield candidate

    def _initials_candidates(self, view: str, latin: list[tuple[int, int]]) -> Iterator[_Candidate]:
        """Keywords with some characters written as their initial (h人卡), around short Latin words.

        Initials are single letters, so a Latin word longer than a keyword is not a run of them,
        and each character of the initials view stands for one character of the text.
        """
        spellings = self._initials
        if spellings is None:
            return
        table = pinyin_table(initials=True)
        keys, bounds = self._keys.text, self._keys.bounds
        for a, b in windows_around(latin, len(view), self._reach, longest=self._reach - 1):
            part = view[a:b]
            latin_before: list[int] = []
            for last, value in spellings.automaton.iter(part.translate(table)):
                length = spellings.lengths[value]
                start = last - length + 1
                latin_before = latin_before or list(accumulate(map(is_letter, part), initial=0))
                latin_count = latin_before[last + 1] - latin_before[start]
                if latin_count == 0 or latin_count == length:
                    continue  # nothing written in initials, or no character written as itself
                written = part[start : last + 1]
                # The first character written as itself must be the keyword's: most options fail here.
                own = _NOT_LATIN.search(written)
                at = own.start() if own else 0
                for option in range(spellings.bounds[value], spellings.bounds[value + 1]):
                    group = spellings.options[option] // RULES.pinyin_variants_max
                    if keys[bounds[group] + at] == written[at] and initials_match(written, self._keys[group]):
                        units = [(i, i) for i in range(a + start, a + last + 1)]
                        if candidate := self._candidate(units, group):
                            yield candidate


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(text)]
