"""What the worker calls: label an output, then read the label back before it is delivered.

``label_image`` and ``label_text`` write both labels and check their own result with the
verifier; ``verify_image_labelled`` and ``verify_text_labelled`` repeat that check on the bytes
as stored. Each raises ``LabelReadBackError`` (one sentence) when the label does not read back, so
the job fails closed and nothing unlabelled is delivered.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from PIL import Image

from generation.labels.aigc import LABEL_IS_AI, LABEL_KEY, AigcLabel, LabelError, LabelFormatError, value_check
from generation.labels.codes import ProducerCode, producer_code_parse
from generation.labels.explicit import (
    DEFAULT_IMAGE_SIDE,
    TEXT_NOTICE,
    image_label_draw,
    image_upscale,
    text_with_notice,
)
from generation.labels.markdown import front_matter_make, markdown_labels_scan
from generation.labels.png import png_label_insert, png_labels_scan
from generation.labels.signing import Carrier, seal_make
from generation.labels.verify import VerifyResult, json_canonical, verify_json, verify_markdown, verify_png

MAX_PRODUCE_ID_LENGTH = 128


class LabelReadBackError(LabelError):
    """A labelled output did not read back with a valid label; it must not be delivered."""


def _producer_checked(producer: str) -> ProducerCode:
    try:
        return producer_code_parse(producer)
    except ValidationError as exc:
        raise LabelError(" ".join(exc.messages)) from None


def _produce_id_checked(produce_id: str) -> str:
    try:
        value_check("ProduceID", produce_id)
    except LabelFormatError as exc:
        raise LabelError(str(exc)) from None
    if not produce_id or len(produce_id) > MAX_PRODUCE_ID_LENGTH:
        raise LabelError(_("A ProduceID has 1 to %(n)d characters.") % {"n": MAX_PRODUCE_ID_LENGTH})
    return produce_id


def label_build(
    *, produce_id: str, producer: str, carrier: Carrier, content: bytes, signed_at: datetime | None = None
) -> AigcLabel:
    """The label of a first write: the platform is producer and first propagator.

    ContentPropagator and PropagateID repeat the producer fields (GB 45438 App. E note 1), and
    ReservedCode2, the propagator's security data, repeats the producer's signature for the same reason.
    """
    code = _producer_checked(producer)
    produce_id = _produce_id_checked(produce_id)
    seal = seal_make(
        label=LABEL_IS_AI,
        producer=code.code,
        produce_id=produce_id,
        carrier=carrier,
        content=content,
        signed_at=signed_at,
    )
    return AigcLabel(
        Label=LABEL_IS_AI,
        ContentProducer=code.code,
        ProduceID=produce_id,
        ReservedCode1=seal,
        ContentPropagator=code.code,
        PropagateID=produce_id,
        ReservedCode2=seal,
    )


def _read_back(result: VerifyResult, *, produce_id: str, producer: str, kind: str) -> VerifyResult:
    if not result.genuine or result.label is None:
        raise LabelReadBackError(
            _("The %(kind)s label did not read back (%(verdict)s): %(message)s")
            % {"kind": kind, "verdict": result.verdict.value, "message": result.message}
        )
    label = result.label
    if (label.ProduceID, label.ContentProducer, label.PropagateID, label.ContentPropagator) != (
        produce_id,
        producer,
        produce_id,
        producer,
    ):
        raise LabelReadBackError(
            _("The %(kind)s label read back with other fields than were written.") % {"kind": kind}
        )
    return result


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------
def label_image(
    pixels: np.ndarray,
    *,
    produce_id: str,
    producer: str,
    side: int = DEFAULT_IMAGE_SIDE,
    explicit: bool = True,
    signed_at: datetime | None = None,
) -> bytes:
    """A PNG of ``pixels`` (uint8, height × width) enlarged to ``side`` px, with both labels.

    The visible "AI生成" plate sits in the bottom-right corner (``explicit=False`` leaves it out, for
    users allowed to receive content without it); the signed AIGC label is XMP in an iTXt chunk
    before the first IDAT. The result is read back before it is returned.
    """
    code = _producer_checked(producer)
    image = image_upscale(pixels, side=side)
    if explicit:
        image_label_draw(image)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    plain = png_labels_scan(buffer.getvalue()).content
    label = label_build(
        produce_id=produce_id, producer=code.code, carrier=Carrier.PNG, content=plain, signed_at=signed_at
    )
    png = png_label_insert(plain, label)
    verify_image_labelled(png, produce_id=produce_id, producer=code.code, expected_pixels=np.asarray(image))
    return png


def verify_image_labelled(
    png: bytes, *, produce_id: str, producer: str, expected_pixels: np.ndarray | None = None
) -> VerifyResult:
    """Read a labelled PNG back: exactly one genuine label with these fields, and (when given) these pixels."""
    code = _producer_checked(producer)
    result = _read_back(verify_png(png, own_usccs={code.uscc}), produce_id=produce_id, producer=code.code, kind="image")
    if expected_pixels is not None:
        with Image.open(io.BytesIO(png)) as decoded:
            decoded.load()
            if not np.array_equal(np.asarray(decoded), expected_pixels):
                raise LabelReadBackError(_("The image read back with other pixels than were drawn."))
    return result


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------
def label_text(
    text: str,
    *,
    produce_id: str,
    producer: str,
    explicit: bool = True,
    notice_at_start: bool = False,
    signed_at: datetime | None = None,
) -> str:
    """The text as Markdown: front matter with the signed AIGC mapping, then the text with the notice.

    The notice "本内容由人工智能生成" goes on its own line at the end (or the start); ``explicit=False``
    leaves it out. The result is read back before it is returned.
    """
    code = _producer_checked(producer)
    body = text_with_notice(text, at_start=notice_at_start) if explicit else text.strip("\n") + "\n"
    if body.startswith("---"):
        # A body that opens with a delimiter would read as a second front matter block.
        body = "\n" + body
    label = label_build(
        produce_id=produce_id,
        producer=code.code,
        carrier=Carrier.MARKDOWN,
        content=body.encode("utf-8"),
        signed_at=signed_at,
    )
    markdown = front_matter_make(label) + body
    verify_text_labelled(markdown, produce_id=produce_id, producer=code.code, explicit=explicit)
    return markdown


def verify_text_labelled(markdown: str, *, produce_id: str, producer: str, explicit: bool = True) -> VerifyResult:
    """Read labelled Markdown back: one genuine label with these fields, and the notice when explicit."""
    code = _producer_checked(producer)
    result = _read_back(
        verify_markdown(markdown.encode("utf-8"), own_usccs={code.uscc}),
        produce_id=produce_id,
        producer=code.code,
        kind="text",
    )
    if explicit and not result.explicit_label:
        raise LabelReadBackError(_("The text read back without its notice that it was generated by AI."))
    return result


def text_body(markdown: str) -> str:
    """The delivered text without its front matter (notice included), e.g. for display next to a badge."""
    return markdown_labels_scan(markdown.encode("utf-8")).body.decode("utf-8")


# --------------------------------------------------------------------------------------------
# JSON responses
# --------------------------------------------------------------------------------------------
def label_json(
    payload: dict[str, Any], *, produce_id: str, producer: str, signed_at: datetime | None = None
) -> dict[str, Any]:
    """``payload`` with an ``AIGC`` field holding the seven label fields.

    The signature covers the payload without that field, serialised with sorted keys and compact
    separators (``json_canonical``), so any client can recompute it from the response it got.
    """
    if LABEL_KEY in payload:
        raise LabelError(_("The payload already has an AIGC field."))
    code = _producer_checked(producer)
    label = label_build(
        produce_id=produce_id,
        producer=code.code,
        carrier=Carrier.JSON,
        content=json_canonical(payload),
        signed_at=signed_at,
    )
    labelled = {**payload, LABEL_KEY: label.fields()}
    encoded = json.dumps(labelled, ensure_ascii=False).encode("utf-8")
    _read_back(verify_json(encoded, own_usccs={code.uscc}), produce_id=produce_id, producer=code.code, kind="JSON")
    return labelled


__all__ = [
    "TEXT_NOTICE",
    "LabelReadBackError",
    "label_build",
    "label_image",
    "label_json",
    "label_text",
    "text_body",
    "verify_image_labelled",
    "verify_text_labelled",
]
