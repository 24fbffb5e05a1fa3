"""Tunes (词牌): their forms read off a corpus, openings fitted to a form, pieces laid out for reading."""

from __future__ import annotations

import pytest

from generation.tunes import (
    OpeningMisfit,
    Tune,
    clause_lengths,
    form_position,
    opening_fitted,
    piece_text,
    tune_table,
)

CORPUS = "\n".join(
    [
        "浣溪沙：一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回。",
        "浣溪沙：无可奈何花落去，似曾相识燕归来。小园香径独徘徊。",
        "浣溪沙：一向年光有限身，等闲离别易销魂。酒筵歌席莫辞频。",
        "浣溪沙：缺了一字，不成。",
        "如梦令：昨夜雨疏风骤，浓睡不消残酒。",
        "如梦令：常记溪亭日暮，沉醉不知归路。",
        "失调名：无名之作。",
        "没有词牌的一行",
    ]
)


def test_the_table_ranks_tunes_by_pieces_and_keeps_each_ones_most_common_form():
    table = tune_table(CORPUS)

    assert [t.name for t in table] == ["浣溪沙", "如梦令"]  # 失调名 ("tune lost") is not a tune
    huanxisha = table[0]
    assert huanxisha.pieces == 4 and huanxisha.form == (7, 7, 7) and huanxisha.form_share == 0.75
    assert huanxisha.marks == "，。。" and huanxisha.pattern() == "7，7。7。"
    assert huanxisha.characters == 24
    assert Tune.from_dict(huanxisha.as_dict()) == huanxisha
    assert tune_table(CORPUS, top=1) == table[:1]


def test_clause_lengths_split_on_every_mark_and_ignore_a_trailing_one():
    assert clause_lengths("一二三，四五。六七八九！") == (3, 2, 4)
    assert clause_lengths("一二三") == (3,)
    assert clause_lengths("") == ()


@pytest.mark.parametrize(
    ("opening", "position"),
    [("", (0, 0)), ("明月", (0, 2)), ("明月几时有", (0, 5)), ("明月几时有，", (1, 0)), ("明月 几时有，把酒", (1, 2))],
)
def test_an_opening_that_fits_says_where_it_leaves_off(opening, position):
    found = form_position((5, 5, 6), opening)
    assert (found.clause, found.written) == position


@pytest.mark.parametrize(
    ("opening", "problem", "line"),
    [
        ("明月几，", "line_short", 1),
        ("明月几时有把", "line_long", 1),
        ("明月几时有，把酒问青天，不知天上宫阙。多", "too_long", 3),
    ],
)
def test_an_opening_that_does_not_fit_says_where(opening, problem, line):
    with pytest.raises(OpeningMisfit) as misfit:
        form_position((5, 5, 6), opening)

    assert misfit.value.problem == problem and misfit.value.line == line


def test_free_text_is_laid_into_a_form_as_an_opening():
    tune = Tune(name="测试", pieces=1, form=(3, 2, 3), form_share=1.0, marks="，，。")

    assert opening_fitted(tune, "一二 三？四五六") == "一二三，四五，六"
    assert opening_fitted(tune, "一二三四五六七八九十") == "一二三，四五，六七八"
    assert opening_fitted(tune, "") == ""


def test_a_piece_reads_as_its_title_and_one_sentence_a_line():
    assert piece_text("浣溪沙", "一曲新词酒一杯，去年天气旧亭台。夕阳西下几时回。") == (
        "浣溪沙\n一曲新词酒一杯，去年天气旧亭台。\n夕阳西下几时回。"
    )
