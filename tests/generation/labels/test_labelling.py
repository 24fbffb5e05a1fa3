"""The worker-facing calls: argument checks, read-back failing closed, and the font requirement."""

from __future__ import annotations

import numpy as np
import pytest
from django.test import override_settings

from generation.labels import (
    LabelError,
    LabelFontMissing,
    LabelReadBackError,
    label_font_require,
    label_image,
    label_text,
    labelling,
    verify_image_labelled,
    verify_text_labelled,
)
from generation.labels.explicit import font_covers
from tests.generation.labels.conftest import OWN_PRODUCER, PRODUCE_ID

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.mark.parametrize(
    ("pixels", "fragment"),
    [
        (np.zeros((28, 28), dtype=np.float32), "uint8"),
        (np.zeros((28, 28, 3), dtype=np.uint8), "two-dimensional"),
        ([[0, 1], [2, 3]], "uint8"),
    ],
)
def test_image_input_is_checked(pixels, fragment: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LabelError, match=fragment):
        label_image(pixels, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


def test_image_too_small_for_a_label(digit: np.ndarray) -> None:
    with pytest.raises(LabelError, match="at least 64"):
        label_image(digit, produce_id=PRODUCE_ID, producer=OWN_PRODUCER, side=32)


@pytest.mark.parametrize(
    ("produce_id", "producer", "fragment"),
    [
        ("has space", OWN_PRODUCER, "outside printable ASCII"),
        ("", OWN_PRODUCER, "1 to 128"),
        ("x" * 129, OWN_PRODUCER, "1 to 128"),
        (PRODUCE_ID, "001191440300708461136A1GAN1", "unified social credit code"),
        (PRODUCE_ID, "Tencent", "27 characters"),
    ],
)
def test_label_arguments_are_checked(digit: np.ndarray, produce_id: str, producer: str, fragment: str) -> None:
    with pytest.raises(LabelError, match=fragment):
        label_image(digit, produce_id=produce_id, producer=producer)
    with pytest.raises(LabelError, match=fragment):
        label_text("text", produce_id=produce_id, producer=producer)


def test_image_that_does_not_read_back_fails_closed(digit: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    # A carrier that silently drops the label: the writer must notice, not deliver.
    monkeypatch.setattr(labelling, "png_label_insert", lambda png, label: png)
    with pytest.raises(LabelReadBackError, match="no_label"):
        label_image(digit, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


def test_stored_image_is_checked_against_what_was_written(labelled_png: bytes) -> None:
    assert verify_image_labelled(labelled_png, produce_id=PRODUCE_ID, producer=OWN_PRODUCER).genuine
    with pytest.raises(LabelReadBackError, match="other fields"):
        verify_image_labelled(labelled_png, produce_id="another", producer=OWN_PRODUCER)
    with pytest.raises(LabelReadBackError, match="unreadable"):
        verify_image_labelled(labelled_png[:-20], produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


def test_stored_text_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    text = label_text("正文", produce_id=PRODUCE_ID, producer=OWN_PRODUCER)
    assert verify_text_labelled(text, produce_id=PRODUCE_ID, producer=OWN_PRODUCER).genuine
    with pytest.raises(LabelReadBackError, match="altered"):
        verify_text_labelled(text + "extra", produce_id=PRODUCE_ID, producer=OWN_PRODUCER)
    unmarked = label_text("正文", produce_id=PRODUCE_ID, producer=OWN_PRODUCER, explicit=False)
    assert verify_text_labelled(unmarked, produce_id=PRODUCE_ID, producer=OWN_PRODUCER, explicit=False).genuine
    with pytest.raises(LabelReadBackError, match="notice"):
        verify_text_labelled(unmarked, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)


def test_body_starting_with_a_delimiter_is_not_read_as_front_matter() -> None:
    text = label_text("---\nnot: front matter\n---\n正文", produce_id=PRODUCE_ID, producer=OWN_PRODUCER)
    assert verify_text_labelled(text, produce_id=PRODUCE_ID, producer=OWN_PRODUCER).genuine


def test_the_installed_cjk_font_draws_the_label() -> None:
    path = label_font_require()
    assert font_covers(path)


def test_a_font_without_chinese_glyphs_is_refused_with_one_sentence(digit: np.ndarray) -> None:
    assert not font_covers(DEJAVU)
    with override_settings(LABEL_FONT_PATH=DEJAVU):
        with pytest.raises(LabelFontMissing) as exc:
            label_image(digit, produce_id=PRODUCE_ID, producer=OWN_PRODUCER)
    message = str(exc.value)
    assert "no glyphs" in message and message.count(". ") == 0 and "\n" not in message


def test_a_missing_font_file_is_refused(digit: np.ndarray) -> None:
    with (
        override_settings(LABEL_FONT_PATH="/nonexistent/font.ttf"),
        pytest.raises(LabelFontMissing, match="does not exist"),
    ):
        label_font_require()


def test_start_up_check_reports_a_missing_font() -> None:
    from generation.labels.checks import label_font_check

    assert label_font_check() == []
    with override_settings(LABEL_FONT_PATH="/nonexistent/font.ttf"):
        (error,) = label_font_check()
    assert error.id == "labels.E001" and "GENAI_LABEL_FONT_PATH" in error.msg
