"""An independent PNG reader for the label tests: raw chunk walking, written apart from the writer."""

from __future__ import annotations

import html
import re
import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# GB 45438-2025 App. E j): 0x21, 0x23-0x5B, 0x5D-0x7E.
LABEL_CHARSET = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]*")
TC260_NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"


def chunks(data: bytes) -> list[tuple[bytes, bytes, bytes]]:
    """(type, body, raw bytes) of every chunk; asserts the CRC of each."""
    assert data[:8] == SIGNATURE
    out = []
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        out.append((kind, body, data[pos : pos + 12 + length]))
        pos += 12 + length
    return out


def raw_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def assemble(raws: list[bytes]) -> bytes:
    return SIGNATURE + b"".join(raws)


def is_xmp(kind: bytes, body: bytes) -> bool:
    return kind == b"iTXt" and body.startswith(b"XML:com.adobe.xmp\x00")


def xmp_text(body: bytes) -> str:
    """Text of an uncompressed iTXt chunk."""
    keyword, rest = body.split(b"\x00", 1)
    assert rest[0] == 0, "iTXt must be uncompressed"
    _language, rest = rest[2:].split(b"\x00", 1)
    _translated, text = rest.split(b"\x00", 1)
    return text.decode("utf-8")


def aigc_values(xmp: str) -> list[str]:
    """TC260:AIGC element values, with the prefix bound to the TC260 namespace."""
    assert f'xmlns:TC260="{TC260_NS}"' in xmp
    return [html.unescape(v) for v in re.findall(r"<TC260:AIGC>(.*?)</TC260:AIGC>", xmp, re.S)]


def label_chunk_index(data: bytes) -> int:
    found = [i for i, (kind, body, _raw) in enumerate(chunks(data)) if is_xmp(kind, body)]
    assert len(found) == 1
    return found[0]


def without_chunk(data: bytes, index: int) -> bytes:
    return assemble([raw for i, (_k, _b, raw) in enumerate(chunks(data)) if i != index])


def with_chunk(data: bytes, index: int, raw: bytes) -> bytes:
    raws = [r for _k, _b, r in chunks(data)]
    raws.insert(index, raw)
    return assemble(raws)
