"""Verification: read the label of a file and say what it proves.

Every answer is a ``VerifyResult`` with one verdict and one sentence for a person. Bad input
(wrong type, malformed PNG, hostile XMP or front matter, too large) is the verdict ``unreadable``,
never an exception, so the page, the API and ``manage.py label_verify`` all answer calmly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from generation.labels.aigc import (
    LABEL_KEY,
    AigcLabel,
    LabelFormatError,
    json_nesting_within,
    label_from_json,
    label_from_mapping,
)
from generation.labels.codes import ProducerCode, producer_code_parse
from generation.labels.explicit import text_has_notice
from generation.labels.jpeg import JpegLabelScan, jpeg_labels_scan
from generation.labels.markdown import MAX_MARKDOWN_BYTES, markdown_labels_scan
from generation.labels.png import MAX_PNG_BYTES, PNG_SIGNATURE, PngLabelScan, png_labels_scan
from generation.labels.signing import Carrier, content_digest, seal_verify

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_VERIFY_BYTES = max(MAX_PNG_BYTES, MAX_MARKDOWN_BYTES)


class Verdict(StrEnum):
    GENUINE = "genuine"
    ALTERED = "altered"
    SIGNATURE_INVALID = "signature_invalid"
    FOREIGN_PRODUCER = "foreign_producer"
    NO_LABEL = "no_label"
    DOUBLE_LABEL = "double_label"
    LABEL_MALFORMED = "label_malformed"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class VerifyResult:
    verdict: Verdict
    message: str
    file_type: str
    label: AigcLabel | None = None
    producer: ProducerCode | None = None
    signed_at: datetime | None = None
    explicit_label: bool | None = None

    @property
    def genuine(self) -> bool:
        return self.verdict is Verdict.GENUINE

    @property
    def produce_id(self) -> str | None:
        return self.label.ProduceID if self.label else None

    @property
    def model_code(self) -> str | None:
        return self.producer.model_code if self.producer else None

    def as_dict(self) -> dict[str, Any]:
        """The result as plain JSON values (for the API and the command's --json output)."""
        return {
            "verdict": self.verdict.value,
            "message": self.message,
            "file_type": self.file_type,
            "produce_id": self.produce_id,
            "content_producer": self.label.ContentProducer if self.label else None,
            "model_code": self.model_code,
            "signed_at": self.signed_at.isoformat() if self.signed_at else None,
            "explicit_label": self.explicit_label,
            "label": self.label.fields() if self.label else None,
        }


def _own_usccs_default() -> frozenset[str]:
    # The providers on file are the platform's own producers; imported here so the pure
    # verification functions stay usable without a database when callers pass the codes.
    from filing.models import Provider

    return frozenset(Provider.objects.values_list("uscc", flat=True))


def _judge(
    raw_labels: list[Any],
    *,
    content: bytes,
    carrier: Carrier,
    file_type: str,
    own_usccs: Iterable[str] | None,
    explicit_label: bool | None = None,
) -> VerifyResult:
    """The verdict for the labels found in one file and the file's content without them."""

    def result(verdict: Verdict, message: str, **extra: Any) -> VerifyResult:
        return VerifyResult(verdict, message, file_type, explicit_label=explicit_label, **extra)

    if not raw_labels:
        return result(Verdict.NO_LABEL, _("The file carries no AIGC label."))
    if len(raw_labels) > 1:
        return result(
            Verdict.DOUBLE_LABEL,
            _("The file carries %(n)d AIGC labels; GB 45438-2025 allows one per file, so it is non-compliant.")
            % {"n": len(raw_labels)},
        )
    raw = raw_labels[0]
    try:
        label = label_from_mapping(raw) if isinstance(raw, dict) else label_from_json(raw)
    except LabelFormatError as exc:
        return result(
            Verdict.LABEL_MALFORMED,
            _("The file has a label, but it is not a valid AIGC label: %(reason)s") % {"reason": exc},
        )
    try:
        producer = producer_code_parse(label.ContentProducer)
    except ValidationError:
        producer = None
    own = frozenset(own_usccs) if own_usccs is not None else _own_usccs_default()
    if producer is None or producer.uscc not in own:
        return result(
            Verdict.FOREIGN_PRODUCER,
            _("The label names another producer (%(producer)s); only that producer can vouch for it.")
            % {"producer": label.ContentProducer},
            label=label,
            producer=producer,
        )
    try:
        seal = seal_verify(label, carrier)
    except (LabelFormatError, InvalidSignature):
        return result(
            Verdict.SIGNATURE_INVALID,
            _("The label names this platform, but its signature does not verify: the label was forged or edited."),
            label=label,
            producer=producer,
        )
    if seal.content_digest != content_digest(content):
        return result(
            Verdict.ALTERED,
            _(
                "The label is genuine, but the content was changed after labelling "
                "(or the label was moved from another file)."
            ),
            label=label,
            producer=producer,
            signed_at=seal.signed_at,
        )
    return result(
        Verdict.GENUINE,
        _("Genuine and unaltered: output %(id)s, generated by this platform with model %(model)s on %(time)s.")
        % {
            "id": label.ProduceID,
            "model": producer.model_code,
            "time": seal.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        },
        label=label,
        producer=producer,
        signed_at=seal.signed_at,
    )


def _verify_image(
    data: bytes,
    scanner: Callable[[bytes], PngLabelScan | JpegLabelScan],
    *,
    carrier: Carrier,
    file_type: str,
    own_usccs: Iterable[str] | None,
) -> VerifyResult:
    """The verdict on an image whose labels ``scanner`` finds (and takes out, leaving the signed content)."""
    try:
        scan = scanner(data)
    except LabelFormatError as exc:
        return VerifyResult(Verdict.UNREADABLE, str(exc), file_type)
    return _judge(scan.labels, content=scan.content, carrier=carrier, file_type=file_type, own_usccs=own_usccs)


def verify_png(data: bytes, *, own_usccs: Iterable[str] | None = None) -> VerifyResult:
    return _verify_image(data, png_labels_scan, carrier=Carrier.PNG, file_type="png", own_usccs=own_usccs)


def verify_jpeg(data: bytes, *, own_usccs: Iterable[str] | None = None) -> VerifyResult:
    """JPEG is read, not written: labels of other producers (and missing or double labels) are reported."""
    return _verify_image(data, jpeg_labels_scan, carrier=Carrier.JPEG, file_type="jpeg", own_usccs=own_usccs)


def verify_markdown(data: bytes, *, own_usccs: Iterable[str] | None = None) -> VerifyResult:
    try:
        scan = markdown_labels_scan(data)
    except LabelFormatError as exc:
        return VerifyResult(Verdict.UNREADABLE, str(exc), "markdown")
    notice = text_has_notice(scan.body.decode("utf-8"))
    return _judge(
        list(scan.labels),
        content=scan.body,
        carrier=Carrier.MARKDOWN,
        file_type="markdown",
        own_usccs=own_usccs,
        explicit_label=notice,
    )


def json_canonical(payload: dict[str, Any]) -> bytes:
    """The signed content of a JSON response: the payload without its AIGC field, keys sorted."""
    body = {key: value for key, value in payload.items() if key != LABEL_KEY}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def verify_json(data: bytes, *, own_usccs: Iterable[str] | None = None) -> VerifyResult:
    """A JSON object carrying its label in the top-level ``AIGC`` field (see ``label_json``)."""
    if len(data) > MAX_JSON_BYTES:
        return VerifyResult(Verdict.UNREADABLE, _("The JSON document is larger than this service reads."), "json")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return VerifyResult(Verdict.UNREADABLE, _("The JSON document is not valid UTF-8."), "json")
    if not json_nesting_within(text, MAX_JSON_DEPTH):
        return VerifyResult(Verdict.UNREADABLE, _("The JSON document is nested too deeply."), "json")
    try:
        root = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError:
        return VerifyResult(Verdict.UNREADABLE, _("The file is not valid JSON."), "json")
    if not isinstance(root, _Pairs):
        return VerifyResult(Verdict.UNREADABLE, _("The JSON document is not an object."), "json")
    # Pairs rather than a dict: two "AIGC" keys are two labels, not one silently overwritten.
    labels = [_plain(value) for key, value in root if key == LABEL_KEY]
    payload = _plain(root)
    return _judge(labels, content=json_canonical(payload), carrier=Carrier.JSON, file_type="json", own_usccs=own_usccs)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as the list of its key/value pairs, in order."""


def _plain(value: Any) -> Any:
    if isinstance(value, _Pairs):
        return {key: _plain(item) for key, item in value}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


_READERS: dict[str, Callable[..., VerifyResult]] = {
    "png": verify_png,
    "jpg": verify_jpeg,
    "md": verify_markdown,
    "json": verify_json,
}


def verify_file(data: bytes, *, filename: str | None = None, own_usccs: Iterable[str] | None = None) -> VerifyResult:
    """Verify any file the platform delivers (PNG image, Markdown text, JSON response) or a JPEG.

    ``own_usccs`` are the unified social credit codes of the platform's providers; by default the
    providers on file. A PNG is known by its signature; text is Markdown unless it is named
    ``.json`` or, unnamed, starts with ``{``. A file name whose extension disagrees with a PNG
    signature (either way) is refused.
    """
    if len(data) > MAX_VERIFY_BYTES:
        return VerifyResult(
            Verdict.UNREADABLE,
            _("The file is larger than the %(mb)d MB this service reads.") % {"mb": MAX_VERIFY_BYTES >> 20},
            "unknown",
        )
    if not data:
        return VerifyResult(Verdict.UNREADABLE, _("The file is empty."), "unknown")
    extension = filename.rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if data.startswith(PNG_SIGNATURE):
        kind = "png"
    elif data[:3] == b"\xff\xd8\xff":
        kind = "jpg"
    elif data[:6] in (b"GIF87a", b"GIF89a") or data[:4] == b"RIFF":
        return VerifyResult(
            Verdict.UNREADABLE,
            _("This service reads PNG and JPEG images, Markdown texts and JSON; this file is another image format."),
            "unknown",
        )
    elif extension in ("md", "markdown", "txt"):
        kind = "md"
    elif extension == "json" or data.lstrip()[:1] == b"{":
        kind = "json"
    else:
        kind = "md"
    if extension == "png" and kind != "png":
        return VerifyResult(Verdict.UNREADABLE, _("The file is named .png but is not a PNG image."), "unknown")
    if extension in ("jpg", "jpeg") and kind != "jpg":
        return VerifyResult(Verdict.UNREADABLE, _("The file is named .jpg but is not a JPEG image."), "unknown")
    if extension in ("md", "markdown", "txt", "json") and kind in ("png", "jpg"):
        return VerifyResult(Verdict.UNREADABLE, _("The file is named as text but is an image."), "unknown")
    if kind == "md" and b"\x00" in data[:8192]:
        return VerifyResult(
            Verdict.UNREADABLE,
            _("This service reads PNG and JPEG images, Markdown texts and JSON; this file is none of them."),
            "unknown",
        )
    return _READERS[kind](data, own_usccs=own_usccs)
