"""Each verification outcome on crafted PNG files, and bounded handling of hostile ones."""

from __future__ import annotations

import base64
import io
import json
import tracemalloc
import zlib

import numpy as np
import pytest
from django.test import override_settings
from PIL import Image

from generation.labels import Verdict, label_image, verify_file
from tests.generation.labels import pngwalk
from tests.generation.labels.conftest import FOREIGN_PRODUCER, OWN_PRODUCER, OWN_USCC, PRODUCE_ID

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

OWN = {OWN_USCC}
XMP_HEAD = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
XMP_TAIL = "</rdf:RDF></x:xmpmeta>"


def verify(data: bytes, filename: str | None = "output.png"):  # type: ignore[no-untyped-def]
    return verify_file(data, filename=filename, own_usccs=OWN)


def xmp_chunk(xmp: str) -> bytes:
    return pngwalk.raw_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp.encode())


def label_value(png: bytes) -> str:
    kind, body, _raw = pngwalk.chunks(png)[pngwalk.label_chunk_index(png)]
    (value,) = pngwalk.aigc_values(pngwalk.xmp_text(body))
    return value


def replace_label(png: bytes, raw: bytes) -> bytes:
    index = pngwalk.label_chunk_index(png)
    return pngwalk.with_chunk(pngwalk.without_chunk(png, index), index, raw)


def description(inner: str) -> str:
    ns = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
    return f'{XMP_HEAD}<rdf:Description rdf:about="" {ns}>{inner}</rdf:Description>{XMP_TAIL}'


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------
def test_genuine_names_output_producer_model_and_time(labelled_png: bytes) -> None:
    result = verify(labelled_png)
    assert result.verdict is Verdict.GENUINE, result.message
    assert result.produce_id == PRODUCE_ID
    assert result.label is not None and result.label.ContentProducer == OWN_PRODUCER
    assert result.model_code == "GAN1"
    assert result.signed_at is not None
    assert PRODUCE_ID in result.message and "GAN1" in result.message


def test_altered_pixel(labelled_png: bytes) -> None:
    label_raw = pngwalk.chunks(labelled_png)[pngwalk.label_chunk_index(labelled_png)][2]
    with Image.open(io.BytesIO(labelled_png)) as image:
        pixels = np.asarray(image).copy()
    pixels[40, 40] ^= 0xFF
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    raws = [raw for _k, _b, raw in pngwalk.chunks(buffer.getvalue())]
    raws.insert(1, label_raw)
    result = verify(pngwalk.assemble(raws))
    assert result.verdict is Verdict.ALTERED
    assert result.produce_id == PRODUCE_ID


def test_stripped_label(labelled_png: bytes) -> None:
    stripped = pngwalk.without_chunk(labelled_png, pngwalk.label_chunk_index(labelled_png))
    assert verify(stripped).verdict is Verdict.NO_LABEL


def test_unlabelled_png() -> None:
    buffer = io.BytesIO()
    Image.new("L", (32, 32)).save(buffer, format="PNG")
    result = verify(buffer.getvalue())
    assert result.verdict is Verdict.NO_LABEL
    assert result.message == "The file carries no AIGC label."


def test_swapped_label(digit: np.ndarray, labelled_png: bytes) -> None:
    other = label_image(255 - digit, produce_id="other-output", producer=OWN_PRODUCER)
    label_raw = pngwalk.chunks(other)[pngwalk.label_chunk_index(other)][2]
    moved = replace_label(labelled_png, label_raw)
    result = verify(moved)
    assert result.verdict is Verdict.ALTERED
    assert result.produce_id == "other-output"


def test_double_label_same_chunk_twice(labelled_png: bytes) -> None:
    index = pngwalk.label_chunk_index(labelled_png)
    doubled = pngwalk.with_chunk(labelled_png, index, pngwalk.chunks(labelled_png)[index][2])
    result = verify(doubled)
    assert result.verdict is Verdict.DOUBLE_LABEL
    assert "non-compliant" in result.message


def test_double_label_xmp_and_text_chunk(labelled_png: bytes) -> None:
    wrapped = json.dumps({"AIGC": json.loads(label_value(labelled_png))}, separators=(",", ":"))
    text_chunk = pngwalk.raw_chunk(b"tEXt", b"AIGC\x00" + wrapped.encode())
    doubled = pngwalk.with_chunk(labelled_png, 1, text_chunk)
    assert verify(doubled).verdict is Verdict.DOUBLE_LABEL


def test_double_label_two_properties_in_one_packet(labelled_png: bytes) -> None:
    value = escape(label_value(labelled_png))
    xmp = description(f"<TC260:AIGC>{value}</TC260:AIGC><TC260:AIGC>{value}</TC260:AIGC>")
    assert verify(replace_label(labelled_png, xmp_chunk(xmp))).verdict is Verdict.DOUBLE_LABEL


def test_foreign_producer(digit: np.ndarray) -> None:
    png = label_image(digit, produce_id="f-1", producer=FOREIGN_PRODUCER)
    result = verify(png)
    assert result.verdict is Verdict.FOREIGN_PRODUCER
    assert FOREIGN_PRODUCER in result.message


def test_producer_given_as_a_name_is_foreign(labelled_png: bytes) -> None:
    fields = json.loads(label_value(labelled_png))
    fields["ContentProducer"] = "SomeOtherCompany"
    xmp = description(f"<TC260:AIGC>{escape(json.dumps(fields))}</TC260:AIGC>")
    assert verify(replace_label(labelled_png, xmp_chunk(xmp))).verdict is Verdict.FOREIGN_PRODUCER


def test_edited_field_breaks_the_signature(labelled_png: bytes) -> None:
    fields = json.loads(label_value(labelled_png))
    fields["ProduceID"] = "another-id"
    xmp = description(f"<TC260:AIGC>{escape(json.dumps(fields))}</TC260:AIGC>")
    result = verify(replace_label(labelled_png, xmp_chunk(xmp)))
    assert result.verdict is Verdict.SIGNATURE_INVALID


def test_label_signed_with_another_key(digit: np.ndarray) -> None:
    other_key = base64.b64encode(bytes(range(32))).decode()
    with override_settings(LABEL_SIGNING_KEY=other_key):
        png = label_image(digit, produce_id="k-1", producer=OWN_PRODUCER)
    assert verify(png).verdict is Verdict.SIGNATURE_INVALID


def test_propagation_fields_may_be_rewritten_downstream(labelled_png: bytes) -> None:
    fields = json.loads(label_value(labelled_png))
    fields.update(ContentPropagator="001191440101MA9Y9T4H7A00000", PropagateID="p-9", ReservedCode2="x")
    xmp = description(f"<TC260:AIGC>{escape(json.dumps(fields))}</TC260:AIGC>")
    assert verify(replace_label(labelled_png, xmp_chunk(xmp))).verdict is Verdict.GENUINE


@pytest.mark.parametrize("form", ["wrapped-element", "bare-attribute", "wrapped-text-chunk", "cdata"])
def test_readers_accept_wrapped_and_bare_forms(labelled_png: bytes, form: str) -> None:
    bare = label_value(labelled_png)
    wrapped = json.dumps({"AIGC": json.loads(bare)})
    if form == "wrapped-element":
        raw = xmp_chunk(description(f"<TC260:AIGC>{escape(wrapped)}</TC260:AIGC>"))
    elif form == "bare-attribute":
        attr = bare.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        ns = 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"'
        raw = xmp_chunk(f'{XMP_HEAD}<rdf:Description rdf:about="" {ns} TC260:AIGC="{attr}"/>{XMP_TAIL}')
    elif form == "cdata":
        raw = xmp_chunk(description(f"<TC260:AIGC><![CDATA[{bare}]]></TC260:AIGC>"))
    else:
        raw = pngwalk.raw_chunk(b"tEXt", b"AIGC\x00" + wrapped.encode())
    result = verify(replace_label(labelled_png, raw))
    assert result.verdict is Verdict.GENUINE, result.message


def test_other_namespace_is_not_a_label(labelled_png: bytes) -> None:
    value = escape(label_value(labelled_png))
    xmp = f'{XMP_HEAD}<rdf:Description xmlns:TC260="http://example.org/other/"><TC260:AIGC>{value}</TC260:AIGC></rdf:Description>{XMP_TAIL}'
    assert verify(replace_label(labelled_png, xmp_chunk(xmp))).verdict is Verdict.NO_LABEL


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda f: f.update(ProduceID="has space"), "outside printable ASCII"),
        (lambda f: f.update(ProduceID='quo"te'), "outside printable ASCII"),
        (lambda f: f.update(ProduceID="back\\slash"), "outside printable ASCII"),
        (lambda f: f.update(ProduceID="中文"), "outside printable ASCII"),
        (lambda f: f.pop("ProduceID"), "required"),
        (lambda f: f.update(Extra="1"), "does not define"),
        (lambda f: f.update(Label="4"), "Label must be"),
        (lambda f: f.update(ProduceID={"a": {"b": 1}}), "nested deeper"),
    ],
)
def test_malformed_label(labelled_png: bytes, change, fragment: str) -> None:  # type: ignore[no-untyped-def]
    fields = json.loads(label_value(labelled_png))
    change(fields)
    xmp = description(f"<TC260:AIGC>{escape(json.dumps(fields, ensure_ascii=False))}</TC260:AIGC>")
    result = verify(replace_label(labelled_png, xmp_chunk(xmp)))
    assert result.verdict is Verdict.LABEL_MALFORMED
    assert fragment in result.message


# --------------------------------------------------------------------------------------------
# Malformed and hostile files: a clear sentence, bounded work
# --------------------------------------------------------------------------------------------
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
    + description("<TC260:AIGC>&lol9;</TC260:AIGC>")
)


def test_entity_expansion_is_refused_unread(labelled_png: bytes) -> None:
    result = verify(replace_label(labelled_png, xmp_chunk(BILLION_LAUGHS)))
    assert result.verdict is Verdict.UNREADABLE
    assert "document type or entities" in result.message


def test_undefined_entity_is_not_expanded(labelled_png: bytes) -> None:
    result = verify(replace_label(labelled_png, xmp_chunk(description("<TC260:AIGC>&lol;</TC260:AIGC>"))))
    assert result.verdict is Verdict.UNREADABLE
    assert "not expanded" in result.message


def test_deeply_nested_xmp(labelled_png: bytes) -> None:
    xmp = "<a>" * 5000 + "</a>" * 5000
    result = verify(replace_label(labelled_png, xmp_chunk(xmp)))
    assert result.verdict is Verdict.UNREADABLE
    assert "nested deeper" in result.message


def test_huge_xmp(labelled_png: bytes) -> None:
    xmp = description("<TC260:Padding>" + "x" * 200_000 + "</TC260:Padding>")
    result = verify(replace_label(labelled_png, xmp_chunk(xmp)))
    assert result.verdict is Verdict.UNREADABLE
    assert "larger" in result.message


def test_compressed_text_bomb_stays_bounded(labelled_png: bytes) -> None:
    bomb = zlib.compress(b"\x00" * (64 * 1024 * 1024), 9)
    raw = pngwalk.raw_chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb)
    crafted = replace_label(labelled_png, raw)
    tracemalloc.start()
    try:
        result = verify(crafted)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.verdict is Verdict.UNREADABLE
    assert "expands beyond" in result.message
    assert peak < 8 * 1024 * 1024


def test_malformed_xmp(labelled_png: bytes) -> None:
    result = verify(replace_label(labelled_png, xmp_chunk(description("<TC260:AIGC>{}</TC260:Other>"))))
    assert result.verdict is Verdict.UNREADABLE
    assert "not well-formed" in result.message


def test_truncated_png(labelled_png: bytes) -> None:
    result = verify(labelled_png[: len(labelled_png) // 2])
    assert result.verdict is Verdict.UNREADABLE
    assert result.message


def test_bad_crc(labelled_png: bytes) -> None:
    broken = bytearray(labelled_png)
    broken[40] ^= 0x01
    result = verify(bytes(broken))
    assert result.verdict is Verdict.UNREADABLE
    assert "CRC" in result.message or "chunk" in result.message


def test_chunk_length_beyond_the_file(labelled_png: bytes) -> None:
    crafted = labelled_png[:8] + b"\x7f\xff\xff\xff" + labelled_png[12:]
    result = verify(crafted)
    assert result.verdict is Verdict.UNREADABLE
    assert "claims more bytes" in result.message


def test_data_after_iend(labelled_png: bytes) -> None:
    assert verify(labelled_png + b"junk").verdict is Verdict.UNREADABLE


@pytest.mark.parametrize(
    ("data", "filename", "fragment"),
    [
        (b"", "a.png", "empty"),
        (b"not an image", "a.png", "not a PNG"),
        (b"GIF89a" + b"\x00" * 100, "a.gif", "another image format"),
        (b"\xff\xd8\xff\xe0\x00", "a.jpg", "truncated"),
        (b"plain text", "a.jpg", "not a JPEG"),
        (b"\x00\x01\x02binary", None, "none of them"),
    ],
)
def test_type_checks(data: bytes, filename: str | None, fragment: str) -> None:
    result = verify(data, filename)
    assert result.verdict is Verdict.UNREADABLE
    assert fragment in result.message


def test_size_limit() -> None:
    from generation.labels.verify import MAX_VERIFY_BYTES

    result = verify(pngwalk.SIGNATURE + b"\x00" * MAX_VERIFY_BYTES)
    assert result.verdict is Verdict.UNREADABLE
    assert "larger than" in result.message
