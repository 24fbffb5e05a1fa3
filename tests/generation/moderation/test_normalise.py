"""Normalisation folds each evasion form to the keyword's form and keeps a map to the original text."""

from __future__ import annotations

import random

import pytest

from generation.moderation.normalise import (
    clause_marked,
    compact,
    compact_offsets,
    compact_table,
    normalise,
    normalise_with_offsets,
    translation_table,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＢａｄＷｏｒｄ", "badword"),  # full-width letters
        ("BaDwOrD", "badword"),  # mixed case
        ("坏 词", "坏词"),  # inserted space
        ("坏\u3000词", "坏词"),  # ideographic (full-width) space
        ("坏.词", "坏词"),  # inserted ASCII punctuation
        ("坏，词！", "坏词"),  # inserted Chinese punctuation
        ("坏\u200b词", "坏词"),  # zero-width space
        ("坏\u200d\ufeff词", "坏词"),  # zero-width joiner and BOM
        ("壞詞", "坏词"),  # traditional characters
        ("𝐁𝐚𝐝", "bad"),  # mathematical bold letters
        ("café", "cafe"),  # accents folded away (combining marks dropped)
        ("cafe\u0301", "cafe"),  # decomposed accent
        ("Straße", "strasse"),  # case folding that changes length
        ("①②", "12"),  # circled digits
    ],
)
def test_each_evasion_form_normalises_to_the_plain_form(text, expected):
    assert normalise(text) == expected
    assert normalise_with_offsets(text)[0] == expected


def test_offsets_point_back_into_the_original_text():
    text = "前缀Ｂ a\u200bＤ後綴"
    normalised, offsets = normalise_with_offsets(text)
    assert normalised == "前缀bad后缀"
    assert [text[i] for i in offsets] == ["前", "缀", "Ｂ", "a", "Ｄ", "後", "綴"]
    # A character that expands keeps pointing at its source.
    assert normalise_with_offsets("ßx") == ("ssx", [0, 0, 1])


def test_fast_and_mapped_paths_agree_on_random_text():
    rng = random.Random(7)
    alphabet = "坏词壞詞ＡＢａｂAB \u3000\u200b\u200d.,，。！?ß①é\u0301𝐁-_\t\n文字"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        normalised, offsets = normalise_with_offsets(text)
        assert normalised == normalise(text)
        assert len(offsets) == len(normalised)
        assert offsets == sorted(offsets)
        assert all(0 <= i < len(text) for i in offsets)


def _offsets_one_by_one(text: str, table: dict[int, str | None]) -> list[int]:
    return [index for index, ch in enumerate(text) for _c in (table.get(ord(ch), ch) or "")]


def test_offsets_agree_with_mapping_each_character_on_its_own():
    # Letters and digits that expand (ß, ﬁ, ¼, ㈠) or vanish are looked at one by one, the rest copied.
    rng = random.Random(11)
    alphabet = "坏词壞詞ＡａAb ß\ufb01¼\u3220①é\u0301\u200b\ufdd0_-，。.!? \n文字𝐁𠀀"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert normalise_with_offsets(text)[1] == _offsets_one_by_one(text, translation_table())
        offsets = compact_offsets(text)
        assert offsets == _offsets_one_by_one(clause_marked(text), compact_table())
        assert len(offsets) == len(compact(text))
