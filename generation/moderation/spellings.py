"""Keywords written partly in pinyin (huai蛋) or in initials (h坏蛋): the automata of the keywords' spellings,
and the checks that a match of one is the keyword with some characters spelled.

Two automata, of the keywords' pinyin spellings and of their initials, search the text around Latin letters.
The pinyin automaton holds only each spelling's first ``SEED_SYLLABLES`` syllables, the rest being compared
when those match, which keeps it small.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import ahocorasick

from generation.moderation.automata import Strings
from generation.moderation.evasion import RULES, pinyin_syllables, pinyin_table

# Syllables of a pinyin spelling held in the pinyin automaton; the rest is compared on a match.
SEED_SYLLABLES = 2

# The compact-text stretch (first, last) each keyword character was found in.
Units = list[tuple[int, int]]


def is_letter(ch: str) -> bool:
    return "a" <= ch <= "z"


@dataclass(frozen=True)
class Spellings:
    """Pinyin spellings (or initials) of the keywords, found through an automaton of their starts.

    The automaton's value i numbers its word, ``lengths[i]`` long (``longest`` at most); the options it stands for are
    ``options[bounds[i]:bounds[i + 1]]``,
    each ``group * RULES.pinyin_variants_max + variant`` (variant: which of the keyword's
    ``pinyin_syllables``). ``texts`` holds each option's whole spelling when the automaton holds
    only its first syllables; ``None`` when it holds whole spellings.
    """

    automaton: ahocorasick.Automaton
    lengths: array[int]
    longest: int
    options: array[int]
    bounds: array[int]
    texts: Strings | None

    @classmethod
    def build(cls, words: dict[str, list[int]], codes: array[int], texts: list[str] | None) -> Spellings | None:
        """From automaton word → the options it stands for, as positions in ``codes`` (and ``texts``)."""
        if not words:
            return None
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        lengths = array("q")
        options = array("q")
        bounds = array("q", [0])
        order: list[int] = []
        for index, (word, found) in enumerate(words.items()):
            automaton.add_word(word, index)
            lengths.append(len(word))
            if texts is not None:
                # Longest first: a match stops looking once the spellings left are too short to reach a Latin letter.
                found.sort(key=lambda i: -len(texts[i]))
                order.extend(found)
            options.extend(codes[i] for i in found)
            bounds.append(len(options))
        words.clear()
        automaton.make_automaton()
        ordered = None if texts is None else Strings([texts[i] for i in order])
        return cls(automaton, lengths, max(lengths), options, bounds, ordered)


def spellings_build(keys: Iterable[str]) -> tuple[Spellings | None, Spellings | None]:
    """The pinyin and initials automata, over the keywords the rules let match that way.

    A keyword matches in pinyin only with a character spelled and another written as itself,
    or spelled whole from ``all_pinyin_min_chars`` characters on; in initials only from
    ``initials_min_chars`` characters on.
    """
    pinyin_min = min(2, RULES.all_pinyin_min_chars)
    variants = RULES.pinyin_variants_max
    seeds: dict[str, list[int]] = defaultdict(list)
    seed_codes = array("q")
    spellings: list[str] = []
    initials: dict[str, list[int]] = defaultdict(list)
    initials_codes = array("q")
    for group, key in enumerate(keys):
        if len(key) < pinyin_min:
            continue
        seen: set[str] = set()
        for variant, syllables in enumerate(pinyin_syllables(key)):
            seeds["".join(syllables[:SEED_SYLLABLES])].append(len(seed_codes))
            seed_codes.append(group * variants + variant)
            spellings.append("".join(syllables))
            if len(key) >= RULES.initials_min_chars:
                letters = "".join(s[0] for s in syllables)
                if letters not in seen:
                    seen.add(letters)
                    initials[letters].append(len(initials_codes))
                    initials_codes.append(group * variants + variant)
    return Spellings.build(seeds, seed_codes, spellings), Spellings.build(initials, initials_codes, None)


@cache
def marked_pinyin_table() -> dict[int, str]:
    """The pinyin table in capitals, so a view tells spelled characters from letters of the text."""
    return {code: reading.upper() for code, reading in pinyin_table(initials=False).items()}


def spelling_units(view: str, source_of: list[int], start: int, key: str, syllables: Sequence[str]) -> Units | None:
    """The keyword characters' stretches if the pinyin match is the keyword with some characters spelled.

    A character written as itself must be the keyword's very character (a homophone is another
    word); at least one must be spelled in Latin letters, as the rules ask.
    """
    units: Units = []
    exact = spelled = 0
    at = start
    for ch, syllable in zip(key, syllables, strict=True):
        first = source_of[at]
        last = source_of[at + len(syllable) - 1]
        if not is_letter(view[first]) and not view[first].isdigit():
            # Written as a Chinese character: exactly that one character, and the keyword's.
            if view[first] != ch or last != first or (at > 0 and source_of[at - 1] == first):
                return None
            exact += 1
        elif ch.isascii():
            exact += 1
        else:
            if not all(is_letter(view[source_of[i]]) for i in range(at, at + len(syllable))):
                return None
            spelled += 1
        units.append((first, last))
        at += len(syllable)
    if spelled == 0:
        return None
    return units if exact > 0 or len(key) >= RULES.all_pinyin_min_chars else None


def initials_match(written: str, key: str) -> bool:
    """Whether ``written`` (whose initials match ``key``'s) is the keyword with some characters as initials.

    A character written as itself must be the keyword's very character; a digit stands only for itself.
    """
    exact = spelled = 0
    for seen, ch in zip(written, key, strict=True):
        if is_letter(seen) or seen.isdigit():
            if ch.isascii():
                exact += 1
            elif seen.isdigit():
                return False
            else:
                spelled += 1
        elif seen == ch:
            exact += 1
        else:
            return False
    return spelled > 0 and exact >= RULES.initials_min_exact
