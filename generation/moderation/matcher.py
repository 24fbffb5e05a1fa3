"""The keyword automaton: Aho-Corasick over the normalised keywords and allowlist phrases.

Pure Python plus pyahocorasick; it knows nothing of Django, so the benchmark and the tests can
build one from a plain list.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from generation.moderation.normalise import normalise, normalise_with_offsets


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


@dataclass(frozen=True)
class _Node:
    length: int
    entries: tuple[KeywordEntry, ...]
    allow: bool


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
        self._automaton = ahocorasick.Automaton()
        for key in groups.keys() | allow_keys:
            self._automaton.add_word(key, _Node(len(key), tuple(groups.get(key, ())), key in allow_keys))
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()
        self.build_seconds = time.perf_counter() - started

    def find(self, text: str) -> list[Hit]:
        """Every keyword hit not covered by an allowlist phrase, with offsets into ``text``."""
        if self._empty or not text:
            return []
        normalised = normalise(text)
        raw: list[tuple[int, int, tuple[KeywordEntry, ...]]] = []
        allowed: list[tuple[int, int]] = []
        for last, node in self._automaton.iter(normalised):
            start = last - node.length + 1
            if node.entries:
                raw.append((start, last + 1, node.entries))
            if node.allow:
                allowed.append((start, last + 1))
        if not raw:
            return []
        if allowed:
            raw = [hit for hit in raw if not any(a0 <= hit[0] and hit[1] <= a1 for a0, a1 in allowed)]
            if not raw:
                return []
        # Only now, with a hit to report, build the map back to the original text.
        check, offsets = normalise_with_offsets(text)
        assert check == normalised  # noqa: S101 (both paths use one table; a difference is a bug)
        return [
            Hit(start=offsets[start], end=offsets[end - 1] + 1, entry=entry)
            for start, end, entries in raw
            for entry in entries
        ]
