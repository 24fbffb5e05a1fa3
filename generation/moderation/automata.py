"""The byte automata of keyword matching: Aho-Corasick over UTF-16 code units written as bytes.

An automaton runs over the UTF-16 code units of its text, each split into two byte-valued characters,
rather than over the characters themselves. A trie node's children are searched one by one, and the root
of a Chinese keyword library has thousands of children (one per first character); with bytes no node has
more than 256, which makes matching about ten times faster. A match is kept only when it starts on a
code-unit boundary (an even byte offset).

The automata store plain integers and many strings live in one (``Strings``), so that the matcher every
web and worker process holds stays small.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import accumulate

import ahocorasick

from generation.moderation.evasion import joined_components


def encode(text: str) -> str:
    """Two byte-valued characters per UTF-16 code unit (big-endian)."""
    return text.encode("utf-16-be", "surrogatepass").decode("latin-1")


def byte_automaton(words: Iterable[str]) -> tuple[ahocorasick.Automaton, array[int]]:
    """The byte automaton of ``words`` (value i: the i-th word) and each word's length in bytes, for ``iter_whole``.

    An automaton of no words is left unbuilt: it has nothing to find.
    """
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    lengths = array("q")
    for index, word in enumerate(words):
        encoded = encode(word)
        automaton.add_word(encoded, index)
        lengths.append(len(encoded))
    if lengths:
        automaton.make_automaton()
    return automaton, lengths


class Strings:
    """A list of strings kept as one: 100,000 separate short strings cost 50 bytes each in headers."""

    def __init__(self, items: Sequence[str]) -> None:
        self.text = "".join(items)
        self.bounds = array("q", accumulate(map(len, items), initial=0))  # string i is text[bounds[i]:bounds[i + 1]]

    def __getitem__(self, index: int) -> str:
        return self.text[self.bounds[index] : self.bounds[index + 1]]


def iter_whole(automaton: ahocorasick.Automaton, lengths: array[int], view: str) -> Iterator[tuple[int, int, int]]:
    """(first character, end character, value) of every whole-character match of a byte automaton in ``view``.

    A value i stands for a word ``lengths[i]`` bytes long. (The automata store 32-bit integers, too
    few to hold the length beside the index.)
    """
    encoded = encode(view)
    char_at = None
    if len(encoded) != 2 * len(view):
        char_at = [i for i, ch in enumerate(view) for _unit in range(2 if ord(ch) > 0xFFFF else 1)]
    for last, value in automaton.iter(encoded):
        start = last - lengths[value] + 1
        if start & 1:
            continue  # straddles two code units: not a match of whole characters
        first, end = start // 2, (last + 1) // 2
        if char_at is not None:
            first, end = char_at[first], char_at[end - 1] + 1
        yield first, end, value


@cache
def joins_automaton() -> tuple[ahocorasick.Automaton, array[int], tuple[str, ...]]:
    """Byte automaton of the component pairs and triples that make a character, and the characters they make.

    Built once per process.
    """
    joined = joined_components()
    automaton, lengths = byte_automaton(joined)
    return automaton, lengths, tuple(joined.values())
