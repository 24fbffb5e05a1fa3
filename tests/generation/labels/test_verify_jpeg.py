"""JPEG files brought to the verifier: XMP in APP1, read and judged like PNG labels."""

from __future__ import annotations

import io
import json
import struct

import pytest
from PIL import Image

from generation.labels import Verdict, verify_file
from generation.labels.aigc import AigcLabel
from generation.labels.signing import Carrier, seal_make
from tests.generation.labels.conftest import FOREIGN_PRODUCER, OWN_PRODUCER, OWN_USCC

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"


def plain_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (64, 64), 200).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def app1(fields: dict[str, str]) -> bytes:
    value = json.dumps(fields).replace("&", "&amp;").replace("<", "&lt;")
    xmp = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/">'
        f"<TC260:AIGC>{value}</TC260:AIGC></rdf:Description></rdf:RDF></x:xmpmeta>"
    ).encode()
    body = XMP_HEADER + xmp
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def with_segment(jpeg: bytes, *segments: bytes) -> bytes:
    return jpeg[:2] + b"".join(segments) + jpeg[2:]


def fields_for(producer: str, content: bytes) -> dict[str, str]:
    seal = seal_make(label="1", producer=producer, produce_id="j-1", carrier=Carrier.JPEG, content=content)
    return AigcLabel("1", producer, "j-1", seal, producer, "j-1", "").fields()


def verify(data: bytes):  # type: ignore[no-untyped-def]
    return verify_file(data, filename="photo.jpg", own_usccs={OWN_USCC})


def test_foreign_producer_label_is_read() -> None:
    jpeg = plain_jpeg()
    result = verify(with_segment(jpeg, app1(fields_for(FOREIGN_PRODUCER, jpeg))))
    assert result.verdict is Verdict.FOREIGN_PRODUCER and result.file_type == "jpeg"


def test_own_label_verifies_and_detects_changes() -> None:
    jpeg = plain_jpeg()
    labelled = with_segment(jpeg, app1(fields_for(OWN_PRODUCER, jpeg)))
    assert verify(labelled).verdict is Verdict.GENUINE
    assert verify(labelled[:-3] + b"\x00" + labelled[-2:]).verdict is Verdict.ALTERED


def test_no_label_and_double_label() -> None:
    jpeg = plain_jpeg()
    assert verify(jpeg).verdict is Verdict.NO_LABEL
    segment = app1(fields_for(FOREIGN_PRODUCER, jpeg))
    assert verify(with_segment(jpeg, segment, segment)).verdict is Verdict.DOUBLE_LABEL


@pytest.mark.parametrize(
    "crafted",
    [
        b"\xff\xd8\xff\xe1\xff\xff" + b"\x00" * 10,  # length beyond the file
        b"\xff\xd8\x00\x00",  # not a marker
    ],
)
def test_broken_jpeg(crafted: bytes) -> None:
    result = verify(crafted)
    assert result.verdict is Verdict.UNREADABLE and result.message


def test_entity_declaration_in_jpeg_xmp_is_refused() -> None:
    body = XMP_HEADER + b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    result = verify(with_segment(plain_jpeg(), segment))
    assert result.verdict is Verdict.UNREADABLE and "document type" in result.message
