"""The automaton finds each evasion form, reports offsets into the original text and honours the allowlist."""

from __future__ import annotations

import random

import pytest

from generation.moderation.matcher import KeywordEntry, KeywordMatcher

ENTRIES = [
    KeywordEntry(1, "坏词", "A.1.6", "block"),
    KeywordEntry(2, "BadWord", "A.1.7", "block"),
    KeywordEntry(3, "复核词", "A.4.1", "flag"),
    KeywordEntry(4, "台独", "A.1.3", "block"),
]


@pytest.fixture
def matcher():
    return KeywordMatcher(version=7, entries=ENTRIES, allowlist=["反对台独"])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("这是坏词。", "坏词"),
        ("这是ＢａｄＷｏｒｄ。", "ＢａｄＷｏｒｄ"),  # full-width
        ("这是bAdWoRd。", "bAdWoRd"),  # mixed case
        ("这是坏 词。", "坏 词"),  # inserted space
        ("这是坏-*-词。", "坏-*-词"),  # inserted punctuation
        ("这是坏\u200b词。", "坏\u200b词"),  # zero-width space
        ("这是壞詞。", "壞詞"),  # traditional characters
        ("这是B a d\u200cＷ.o.r.d!", "B a d\u200cＷ.o.r.d"),  # all of them at once
    ],
)
def test_each_evasion_form_is_caught_with_offsets_into_the_original(matcher, text, found):
    hits = matcher.find(text)
    assert len(hits) == 1
    hit = hits[0]
    assert text[hit.start : hit.end] == found
    assert hit.start == text.index(found[0])


def test_every_occurrence_and_its_risk_and_action_are_reported(matcher):
    text = "坏词和复核词，又一个坏词"
    hits = sorted(matcher.find(text), key=lambda h: h.start)
    assert [(h.start, h.end, h.entry.risk_code, h.entry.action) for h in hits] == [
        (0, 2, "A.1.6", "block"),
        (3, 6, "A.4.1", "flag"),
        (10, 12, "A.1.6", "block"),
    ]


def test_allowlist_suppresses_only_the_hits_it_covers(matcher):
    # Inside the innocent phrase: suppressed.
    assert matcher.find("我们坚决反对台独。") == []
    # Same phrase, evasion forms included: still suppressed.
    assert matcher.find("我们坚决反 對 台獨。") == []
    # The keyword outside the phrase still counts, even when the phrase is also present.
    text = "反对台独，但又宣传台独"
    hits = matcher.find(text)
    assert [(h.start, h.end) for h in hits] == [(9, 11)]
    assert text[hits[0].start : hits[0].end] == "台独"
    # Other keywords inside the same text are unaffected.
    assert {h.entry.id for h in matcher.find("反对台独的坏词")} == {1}


def test_keywords_that_normalise_to_the_same_form_are_all_reported():
    matcher = KeywordMatcher(
        version=1, entries=[KeywordEntry(1, "坏词", "A.1.6", "block"), KeywordEntry(2, "壞詞", "A.2.9", "flag")]
    )
    assert {(h.entry.id, h.entry.risk_code) for h in matcher.find("坏词")} == {(1, "A.1.6"), (2, "A.2.9")}


def test_overlapping_keywords_are_each_reported():
    # Chinese keywords: Latin ones inside one word are not matched at all (see the word-edge tests).
    matcher = KeywordMatcher(
        version=1, entries=[KeywordEntry(1, "禁用样", "A.1.1", "block"), KeywordEntry(2, "用样例", "A.1.2", "block")]
    )
    assert sorted((h.start, h.end) for h in matcher.find("这禁用样例了")) == [(1, 4), (2, 5)]


def test_empty_library_and_unmatchable_keywords():
    assert KeywordMatcher(version=0, entries=[]).find("任何文本") == []
    matcher = KeywordMatcher(version=1, entries=[KeywordEntry(1, "!!!", "A.1.1", "block")])
    assert [e.id for e in matcher.skipped] == [1]
    assert matcher.find("!!!") == []
    assert KeywordMatcher(version=1, entries=ENTRIES).find("") == []


def test_matches_whole_characters_only_and_handles_characters_beyond_the_bmp():
    # "乀" is U+4E40 and "䀀" U+4000: their bytes 4E 40 40 00 contain 40 40 ("䁀", U+4040) at an odd offset.
    matcher = KeywordMatcher(version=1, entries=[KeywordEntry(1, "䁀", "A.1.1", "block")])
    assert matcher.find("乀䀀") == []
    assert [(h.start, h.end) for h in matcher.find("乀䁀")] == [(1, 2)]
    # A CJK Extension B character (a surrogate pair in UTF-16) before and inside the keyword.
    matcher = KeywordMatcher(version=1, entries=[KeywordEntry(1, "𠀀词", "A.1.1", "block")])
    text = "𠀁前 𠀀 词"
    hits = matcher.find(text)
    assert [(h.start, h.end) for h in hits] == [(3, 6)]
    assert text[hits[0].start : hits[0].end] == "𠀀 词"


def test_random_libraries_and_texts_never_raise_and_spans_stay_inside_the_text():
    """Mixed scripts, escapes, digits, pinyin and split characters, libraries and texts drawn at random.

    Found a read past the end of the text in the pinyin view, which reported matches from memory left behind by an
    earlier text and then failed on them.
    """
    rng = random.Random(1)
    alphabet = "坏词禁用样例好女子人卡huaidanHD１２3 ,.，。!&#x5750;%E5%9D%8Fabc禁禁词词"
    for _ in range(120):
        keywords = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5))) for _ in range(rng.randint(1, 30))}
        matcher = KeywordMatcher(
            version=1, entries=[KeywordEntry(i, k, "A.1.1", "block") for i, k in enumerate(sorted(keywords))]
        )
        for _ in range(30):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            for hit in matcher.find(text):
                assert 0 <= hit.start < hit.end <= len(text), (text, hit)
