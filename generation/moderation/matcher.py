"""The keyword automaton: Aho-Corasick over the normalised keywords and allowlist phrases.

Pure Python plus pyahocorasick; it knows nothing of Django, so the benchmark and the tests can
build one from a plain list.

The automaton runs over the UTF-16 code units of the normalised text, each split into two
byte-valued characters, rather than over the characters themselves. A trie node's children are
searched one by one, and the root of a Chinese keyword library has thousands of children (one per
first character); with bytes no node has more than 256, which makes matching about ten times
faster. A match is kept only when it starts on a code-unit boundary (an even byte offset).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import ahocorasick

from generation.moderation.normalise import normalise, normalise_with_offsets


def _encode(text: str) -> str:
    """Two byte-valued characters per UTF-16 code unit (big-endian)."""
    return text.encode("utf-16-be", "surrogatepass").decode("latin-1")


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
            encoded = _encode(key)
            self._automaton.add_word(encoded, _Node(len(encoded), tuple(groups.get(key, ())), key in allow_keys))
        self._empty = len(self._automaton) == 0
        if not self._empty:
            self._automaton.make_automaton()
        self.build_seconds = time.perf_counter() - started

    def find(self, text: str) -> list[Hit]:
        """Every keyword hit not covered by an allowlist phrase, with offsets into ``text``."""
        if self._empty or not text:
            return []
        normalised = normalise(text)
        encoded = _encode(normalised)
        # Positions below are byte offsets into ``encoded``, end exclusive.
        raw: list[tuple[int, int, tuple[KeywordEntry, ...]]] = []
        allowed: list[tuple[int, int]] = []
        for last, node in self._automaton.iter(encoded):
            start = last - node.length + 1
            if start & 1:
                continue  # straddles two code units: not a match of whole characters
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
        # Only now, with a hit to report, build the maps back to the original text.
        check, offsets = normalise_with_offsets(text)
        assert check == normalised  # noqa: S101 (both paths use one table; a difference is a bug)
        if len(encoded) == 2 * len(normalised):
            char_at = None  # no surrogate pairs: code unit i is character i
        else:
            char_at = [i for i, ch in enumerate(normalised) for _unit in range(2 if ord(ch) > 0xFFFF else 1)]

        def to_char(byte_offset: int) -> int:
            unit = byte_offset // 2
            return unit if char_at is None else char_at[unit]

        return [
            Hit(start=offsets[to_char(start)], end=offsets[to_char(end - 2)] + 1, entry=entry)
            for start, end, entries in raw
            for entry in entries
        ]
