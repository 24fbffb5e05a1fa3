"""Figures of the keyword layer: how much of an evasion set it catches, how much innocent text it refuses.

Used by the tests (on small libraries) and by ``benchmarks/bench_moderation.py`` (on a library of 100,000).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ahocorasick

from generation.moderation.matcher import KeywordMatcher


@dataclass(frozen=True)
class Rate:
    hits: int
    total: int

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 0.0


def catch_rate(matcher: KeywordMatcher, variants: Iterable[tuple[str, str]]) -> Rate:
    """Share of (keyword, text) pairs where the matcher reports that very keyword in the text."""
    pairs = list(variants)
    caught = sum(1 for keyword, text in pairs if any(h.entry.keyword == keyword for h in matcher.find(text)))
    return Rate(caught, len(pairs))


def _literal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def over_refusal_rate(matcher: KeywordMatcher, texts: Iterable[str], keywords: Sequence[str]) -> Rate:
    """Share of innocent texts the matcher refuses, among those holding no keyword literally.

    "Literally" means as a substring after width and case folding: such a text is refused by design,
    and what is measured is the refusals the evasion forms and spacing rules add.
    """
    literal = ahocorasick.Automaton()
    for keyword in keywords:
        if key := _literal(keyword):
            literal.add_word(key, None)
    if len(literal):
        literal.make_automaton()
    kept = [text for text in texts if not len(literal) or next(literal.iter(_literal(text)), None) is None]
    refused = sum(1 for text in kept if matcher.find(text))
    return Rate(refused, len(kept))
