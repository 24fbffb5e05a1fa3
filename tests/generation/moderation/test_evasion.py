"""Evasion forms are caught with offsets into the original text; innocent text across boundaries is not refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generation.ml.data import cold
from generation.moderation.evasion import decode_escapes
from generation.moderation.matcher import KeywordEntry, KeywordMatcher
from generation.moderation.measures import catch_rate, over_refusal_rate

EVASIONS = json.loads((Path(__file__).parent / "data" / "evasions.json").read_text(encoding="utf-8"))
ENTRIES = [
    KeywordEntry(1, "坏蛋", "A.1.6", "block"),
    KeywordEntry(2, "坏词", "A.1.6", "block"),
    KeywordEntry(3, "禁用样例", "A.1.8", "block"),
    KeywordEntry(4, "好人卡", "A.2.9", "block"),
    KeywordEntry(5, "dw", "A.1.7", "block"),
    KeywordEntry(6, "ok", "A.1.7", "block"),
    KeywordEntry(7, "sb", "A.1.7", "block"),
    KeywordEntry(8, "badword", "A.1.7", "block"),
    KeywordEntry(9, "光疑", "A.1.1", "block"),
    KeywordEntry(10, "演示关键词A.1.1-00001", "A.1.1", "block"),
]


@pytest.fixture(scope="module")
def matcher():
    return KeywordMatcher(version=1, entries=ENTRIES)


def found(matcher, text):
    return sorted((text[h.start : h.end], h.entry.id) for h in matcher.find(text))


@pytest.mark.parametrize(
    ("text", "span", "keyword_id"),
    [
        # Look-alike letters of other scripts (Cyrillic а о, Greek ο).
        ("this is bаdwоrd here", "bаdwоrd", 8),
        ("this is bαdwοrd here", "bαdwοrd", 8),
        # HTML and URL escapes: the span covers the escapes themselves.
        ("看&#x574F;&#35789;吧", "&#x574F;&#35789;", 2),
        ("看&#22351;蛋&amp;吧", "&#22351;蛋", 1),
        ("链接?q=%E5%9D%8F%E8%AF%8D&x=1", "%E5%9D%8F%E8%AF%8D", 2),
        # Digits between the characters, full-width or not.
        ("说坏１词了", "坏１词", 2),
        ("说坏3词了", "坏3词", 2),
        ("说禁1用2样3例了", "禁1用2样3例", 3),
        # Repeated characters.
        ("就是禁禁用用样样例例啊", "禁禁用用样样例例", 3),
        # One filler between every pair, Chinese or Latin.
        ("看禁x用x样x例。", "禁x用x样x例", 3),
        ("看禁啊用啊样啊例。", "禁啊用啊样啊例", 3),
        # Pinyin syllables for some characters, or for all of a keyword of three or more.
        ("你这个huai蛋", "huai蛋", 1),
        ("你这个坏dan", "坏dan", 1),
        ("不要 jinyongyangli 了", "jinyongyangli", 3),
        ("不要 jin yong yang li 了", "jin yong yang li", 3),
        # Initials mixed with the keyword's own characters (keywords of three or more).
        ("发一张h人卡", "h人卡", 4),
        ("禁y样例", "禁y样例", 3),
        # A character written as its components.
        ("发一张女子人卡", "女子人卡", 4),
        # Spelled out with separators of one kind, or invisible ones.
        ("这是坏 词。", "坏 词", 2),
        ("这是坏.词。", "坏.词", 2),
        ("这是坏\u200b词。", "坏\u200b词", 2),
        ("禁-用-样-例", "禁-用-样-例", 3),
        ("a b a d w o r d b", "b a d w o r d", 8),
        ("this is bad word here", "bad word", 8),
        # The keyword's own punctuation.
        ("见演示关键词A.1.1-00001号", "演示关键词A.1.1-00001", 10),
    ],
)
def test_evasion_forms_are_caught_with_the_original_span(matcher, text, span, keyword_id):
    assert (span, keyword_id) in found(matcher, text)


LONG_PROSE = "请帮我写一首关于秋天的七言绝句，要有落叶和远山。用Python读取CSV文件。" * 40


@pytest.mark.parametrize(
    ("form", "keyword_id"),
    [
        ("坏3词", 2),
        ("禁禁用用样样例例", 3),
        ("女子人卡", 4),
        ("huai蛋", 1),
        ("h人卡", 4),
        ("禁x用x样x例", 3),
    ],
)
def test_evasion_forms_deep_in_a_long_text_keep_their_offsets(matcher, form, keyword_id):
    # The views are searched only near a digit, repeat, join or Latin word: far from the text's start.
    text = f"{LONG_PROSE}看{form}。{LONG_PROSE}"
    assert (form, keyword_id) in found(matcher, text)


def test_a_repeat_after_a_doubled_latin_letter_keeps_its_offsets(matcher):
    # Doubled Latin letters (oo) are not collapsed; the repeat view must not count them as a run.
    assert found(matcher, "good坏坏词词") == [("坏坏词词", 2)]
    assert found(matcher, "good job, 禁禁用用样样例例") == [("禁禁用用样样例例", 3)]


@pytest.mark.parametrize(
    "text",
    [
        "请勿禁用，样例代码见下文。",  # clause mark between 禁用 and 样例
        "禁用。样例代码见下文",
        "他说“禁用”样例很多",  # quotation marks set a phrase apart
        "先禁用 样例再说",  # a space in one place only: two words, not a spelled-out keyword
        "床前明月光\n疑是地上霜",  # a line break
        "Bad. Word order matters",  # ASCII full stop ending a sentence
        "a bad wordsmith",  # end of one Latin word and start of the next
        "hello kitty",
        "plug in the usb cable",  # Latin keyword inside a word
        "hugo kept the book",
        "坏的词语",  # a filler only counts for keywords of three or more characters
        "h蛋",  # initials only for keywords of three or more characters
        "女子",  # a split only counts for keywords of two or more
        "huaidan",  # all-pinyin only for keywords of three or more
        "怀蛋",  # a homophone is another word
        "禁用样x例",  # a filler between some pairs only
        "禁3用样例",  # digits between some pairs only
    ],
)
def test_innocent_text_across_boundaries_is_not_refused(matcher, text):
    assert found(matcher, text) == []


def test_escapes_decode_once_with_spans_into_the_original():
    decoded = decode_escapes("a&amp;#22351;%E5%9D%8F%ZZ")
    assert decoded is not None
    assert decoded.text == "a&#22351;坏%ZZ"  # decoded once, as a browser shows it; a bad escape stays
    assert (decoded.starts[1], decoded.ends[1]) == (1, 6)
    assert (decoded.starts[9], decoded.ends[9]) == (13, 22)
    assert decode_escapes("no escapes & nothing 100%") is None


def test_evasion_set_is_caught_at_95_percent():
    assert len(EVASIONS["variants"]) >= 100
    matcher = KeywordMatcher(
        version=1, entries=[KeywordEntry(i, k, "A.1.1", "block") for i, k in enumerate(EVASIONS["keywords"])]
    )
    rate = catch_rate(matcher, ((v["keyword"], v["text"]) for v in EVASIONS["variants"]))
    assert rate.total == len(EVASIONS["variants"])
    assert rate.rate >= 0.95, rate


def test_safe_cold_comments_are_refused_at_most_1_percent():
    keywords = [*EVASIONS["keywords"], *(e.keyword for e in ENTRIES)]
    matcher = KeywordMatcher(version=1, entries=[KeywordEntry(i, k, "A.1.1", "block") for i, k in enumerate(keywords)])
    data = cold("dev")
    safe = [text for text, label in zip(data.texts, data.labels, strict=True) if label == 0]
    rate = over_refusal_rate(matcher, safe, keywords)
    assert rate.total > 3000
    assert rate.rate <= 0.01, rate
