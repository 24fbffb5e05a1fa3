"""Explicit labels: the visible "AI生成" plate on images and the notice in delivered text.

GB 45438-2025: an image label is prompt text at an edge or corner whose height is at least 5% of
the image's shortest side; a text label holds an AI element ("人工智能" or "AI") and a generation
element ("生成" or "合成") at the start, end or middle. The plate is dark with a light outline and
light text, so it reads the same on white, black and mid-grey pixels.

Chinese glyphs need a CJK font. ``make setup`` installs the Debian package ``fonts-wqy-microhei``;
``GENAI_LABEL_FONT_PATH`` may name another font file. A font that would draw the label's glyphs as
empty boxes is treated as missing, and labelling then refuses to run with one sentence saying so.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont

from generation.labels.aigc import LabelError

IMAGE_LABEL_TEXT = "AI生成"
TEXT_NOTICE = "本内容由人工智能生成"
AI_ELEMENTS = ("人工智能", "AI")
GENERATION_ELEMENTS = ("生成", "合成")
# GB 45438-2025: text height at least 5% of the shortest side. The plate aims higher so that
# rounding and glyph shapes never bring the measured height under the floor.
MIN_TEXT_HEIGHT_RATIO = 0.05
TARGET_TEXT_HEIGHT_RATIO = 0.08
MIN_IMAGE_SIDE = 64
DEFAULT_IMAGE_SIDE = 224
FONT_PACKAGE = "fonts-wqy-microhei"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
PLATE_FILL = 0
PLATE_OUTLINE = 255
TEXT_FILL = 255


class LabelFontMissing(ImproperlyConfigured):
    """No installed font can draw the explicit label."""


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def font_covers(path: str, text: str = IMAGE_LABEL_TEXT) -> bool:
    """True when the font at ``path`` has a real glyph for every character of ``text``.

    A missing glyph is drawn as the font's .notdef glyph (often a box) or as nothing; both are
    caught by comparing each character's mask with that of a code point no font maps.
    """
    try:
        font = ImageFont.truetype(path, 32, layout_engine=ImageFont.Layout.BASIC)
    except OSError:
        return False
    notdef = font.getmask("\U0010fffd")
    notdef_bytes = (notdef.size, bytes(notdef))
    for ch in set(text):
        mask = font.getmask(ch)
        if mask.getbbox() is None or (mask.size, bytes(mask)) == notdef_bytes:
            return False
    return True


def _fontconfig_chinese_fonts() -> list[str]:
    """Font files fontconfig says cover Chinese, for hosts that keep CJK fonts elsewhere."""
    fc_list = shutil.which("fc-list")
    if not fc_list:
        return []
    try:
        listed = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip().rstrip(":") for line in listed.stdout.splitlines() if line.strip())


@lru_cache(maxsize=4)
def _font_path_find(configured: str) -> str:
    if configured:
        if not Path(configured).is_file():
            raise LabelFontMissing(
                f"GENAI_LABEL_FONT_PATH names {configured}, which does not exist; "
                f"point it at a CJK font file or unset it to use {FONT_PACKAGE}."
            )
        if not font_covers(configured):
            raise LabelFontMissing(
                f"The font {configured} (GENAI_LABEL_FONT_PATH) has no glyphs for “{IMAGE_LABEL_TEXT}”; "
                "choose a font that covers Chinese."
            )
        return configured
    for candidate in (*FONT_CANDIDATES, *_fontconfig_chinese_fonts()):
        if Path(candidate).is_file() and font_covers(candidate):
            return candidate
    raise LabelFontMissing(
        f"No font that can draw “{IMAGE_LABEL_TEXT}” is installed: run `make setup` (it installs the Debian "
        f"package {FONT_PACKAGE}) or set GENAI_LABEL_FONT_PATH to a CJK font file."
    )


def label_font_path() -> str:
    """The font file for image labels; raises LabelFontMissing with one sentence when there is none."""
    return _font_path_find(getattr(settings, "LABEL_FONT_PATH", "") or "")


def label_font_require() -> str:
    """Call at start-up of any process that labels images: fails loudly when no CJK font is found."""
    return label_font_path()


@lru_cache(maxsize=64)
def _font_size_for(path: str, text: str, ink_height: int) -> int:
    """The smallest font size whose rendered ink for ``text`` is at least ``ink_height`` pixels tall."""
    size = max(4, ink_height)
    for _attempt in range(256):
        if text_mask(path, text, size).size[1] >= ink_height:
            return size
        size += 1
    raise LabelError(_("No font size draws the image label tall enough."))


def image_upscale(pixels: np.ndarray, *, side: int = DEFAULT_IMAGE_SIDE) -> Image.Image:
    """A greyscale image whose shortest side is ``side``, enlarged nearest-neighbour from ``pixels``."""
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8 or pixels.ndim != 2:
        raise LabelError(_("Image pixels must be a two-dimensional uint8 array (height × width)."))
    height, width = pixels.shape
    if min(height, width) < 1:
        raise LabelError(_("Image pixels must not be empty."))
    if side < MIN_IMAGE_SIDE:
        raise LabelError(
            _("A labelled image must be at least %(n)d pixels on its shortest side.") % {"n": MIN_IMAGE_SIDE}
        )
    scale = side / min(height, width)
    size = (max(side, round(width * scale)), max(side, round(height * scale)))
    return Image.fromarray(np.ascontiguousarray(pixels), mode="L").resize(size, Image.Resampling.NEAREST)


def image_label_draw(
    image: Image.Image, *, text: str = IMAGE_LABEL_TEXT, height_ratio: float = TARGET_TEXT_HEIGHT_RATIO
) -> Box:
    """Draw the label plate in the bottom-right corner of ``image`` (mode L, in place).

    Returns the box of the drawn text's ink, measured on the result; raises LabelError when it is
    under 5% of the shortest side or the plate does not fit.
    """
    if image.mode != "L":
        raise LabelError(_("The label is drawn on greyscale images only."))
    shortest = min(image.size)
    ink_height = max(math.ceil(height_ratio * shortest), math.ceil(MIN_TEXT_HEIGHT_RATIO * shortest))
    path = label_font_path()
    glyphs = text_mask(path, text, _font_size_for(path, text, ink_height))
    ink_w, ink_h = glyphs.size
    pad = max(2, ink_h // 4)
    margin = max(1, shortest // 56)
    plate_w, plate_h = ink_w + 2 * pad, ink_h + 2 * pad
    width, height = image.size
    if plate_w + 2 * margin > width or plate_h + 2 * margin > height:
        raise LabelError(_("The image is too small for a legible label."))
    left, top = width - margin - plate_w, height - margin - plate_h
    draw = ImageDraw.Draw(image)
    draw.rectangle((left, top, left + plate_w - 1, top + plate_h - 1), fill=PLATE_FILL, outline=PLATE_OUTLINE, width=1)
    image.paste(TEXT_FILL, (left + pad, top + pad), mask=glyphs)
    measured = text_ink_box(image, Box(left + 1, top + 1, left + plate_w - 1, top + plate_h - 1))
    if measured is None or measured.height < MIN_TEXT_HEIGHT_RATIO * shortest:
        raise LabelError(_("The drawn label text is shorter than 5 percent of the image's shortest side."))
    return measured


def text_mask(path: str, text: str, size: int) -> Image.Image:
    """The anti-aliased glyph coverage of ``text``, cropped to its ink."""
    font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
    _left, _top, right, bottom = font.getbbox(text)
    scratch = Image.new("L", (math.ceil(right) + 2, math.ceil(bottom) + 2), 0)
    ImageDraw.Draw(scratch).text((0, 0), text, fill=255, font=font)
    ink = scratch.getbbox()
    if ink is None:
        raise LabelError(_("The label font draws nothing for the label text."))
    return scratch.crop(ink)


def text_ink_box(image: Image.Image, plate_inner: Box) -> Box | None:
    """Bounding box (image coordinates) of light text pixels inside the plate's inner area."""
    region = np.asarray(image.crop((plate_inner.left, plate_inner.top, plate_inner.right, plate_inner.bottom)))
    rows = np.flatnonzero((region > 127).any(axis=1))
    cols = np.flatnonzero((region > 127).any(axis=0))
    if rows.size == 0:
        return None
    return Box(
        plate_inner.left + int(cols[0]),
        plate_inner.top + int(rows[0]),
        plate_inner.left + int(cols[-1]) + 1,
        plate_inner.top + int(rows[-1]) + 1,
    )


def text_has_notice(body: str) -> bool:
    """True when the first or last non-empty line holds an AI element and a generation element."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    if not lines:
        return False
    return any(
        any(a in line for a in AI_ELEMENTS) and any(g in line for g in GENERATION_ELEMENTS)
        for line in {lines[0], lines[-1]}
    )


def text_with_notice(text: str, *, notice: str = TEXT_NOTICE, at_start: bool = False) -> str:
    """The delivered text with the notice on its own line at the end (or start); never added twice."""
    body = text.strip("\n")
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    edge = lines[0] if at_start and lines else lines[-1] if lines else ""
    if edge == notice:
        return body + "\n"
    if at_start:
        return f"{notice}\n\n{body}\n" if body else f"{notice}\n"
    return f"{body}\n\n{notice}\n" if body else f"{notice}\n"
