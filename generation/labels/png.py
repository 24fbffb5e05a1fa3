"""PNG carrier: the label as XMP in an ``iTXt`` chunk before the first IDAT (TC260 practice guide).

The chunk walker and the XMP scanner read untrusted uploads, so both are bounded: file size,
chunk count, XMP size, XML nesting depth and decompressed text size all have limits, CRCs are
checked, and the XMP is scanned by a small tokenizer that refuses any document type or entity
declaration. No XML parser is used, so no entity is ever expanded.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from generation.labels.aigc import LABEL_KEY, AigcLabel, LabelFormatError, utf8_within

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_KEYWORD = b"XML:com.adobe.xmp"
TC260_NAMESPACE = "http://www.tc260.org.cn/ns/AIGC/1.0/"
TC260_PREFIX = "TC260"
TC260_PROPERTY = "AIGC"

MAX_PNG_BYTES = 16 * 1024 * 1024
MAX_CHUNKS = 4096
MAX_CHUNK_BYTES = MAX_PNG_BYTES
MAX_TEXT_BYTES = 64 * 1024
MAX_XML_DEPTH = 16
_TEXT_CHUNKS = (b"iTXt", b"tEXt", b"zTXt")


@dataclass(frozen=True)
class Chunk:
    type: bytes
    data: bytes
    start: int
    end: int


@dataclass
class PngLabelScan:
    """Every AIGC label found in a PNG, and the file's bytes with the label chunks taken out."""

    labels: list[str] = field(default_factory=list)
    content: bytes = b""


def chunk_make(chunk_type: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + chunk_type + data + struct.pack(">I", zlib.crc32(chunk_type + data))


def png_chunks(data: bytes) -> list[Chunk]:
    """Walk the chunks of a PNG, checking structure, lengths and CRCs; raise LabelFormatError."""
    if len(data) > MAX_PNG_BYTES:
        raise LabelFormatError(
            _("The PNG file is larger than the %(mb)d MB this service reads.") % {"mb": MAX_PNG_BYTES >> 20}
        )
    if not data.startswith(PNG_SIGNATURE):
        raise LabelFormatError(_("The file does not start with the PNG signature."))
    chunks: list[Chunk] = []
    offset = len(PNG_SIGNATURE)
    while True:
        if len(chunks) >= MAX_CHUNKS:
            raise LabelFormatError(_("The PNG file has more chunks than an image of this service can have."))
        if offset + 12 > len(data):
            raise LabelFormatError(_("The PNG file ends in the middle of a chunk (it is truncated)."))
        (length,) = struct.unpack_from(">I", data, offset)
        chunk_type = data[offset + 4 : offset + 8]
        if length > MAX_CHUNK_BYTES or offset + 12 + length > len(data):
            raise LabelFormatError(_("A PNG chunk claims more bytes than the file holds."))
        if not all(65 <= b <= 90 or 97 <= b <= 122 for b in chunk_type):
            raise LabelFormatError(_("The PNG file has a chunk whose type is not four letters."))
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, offset + 8 + length)
        if zlib.crc32(chunk_type + body) != crc:
            raise LabelFormatError(
                _("The CRC of PNG chunk %(type)s does not match its data.") % {"type": chunk_type.decode("ascii")}
            )
        end = offset + 12 + length
        chunks.append(Chunk(type=chunk_type, data=body, start=offset, end=end))
        offset = end
        if chunk_type == b"IEND":
            break
    if chunks[0].type != b"IHDR" or len(chunks[0].data) != 13:
        raise LabelFormatError(_("The PNG file does not begin with a valid IHDR chunk."))
    if not any(c.type == b"IDAT" for c in chunks):
        raise LabelFormatError(_("The PNG file has no image data."))
    if offset != len(data):
        raise LabelFormatError(_("The PNG file has data after its end chunk."))
    return chunks


def _inflate_bounded(payload: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(payload, MAX_TEXT_BYTES + 1)
    except zlib.error:
        raise LabelFormatError(_("A compressed PNG text chunk is corrupt.")) from None
    if len(out) > MAX_TEXT_BYTES or inflater.unconsumed_tail:
        raise LabelFormatError(_("A compressed PNG text chunk expands beyond the size a label can have."))
    return out


def text_chunk_read(chunk: Chunk) -> tuple[bytes, bytes]:
    """Keyword and text (still bytes) of a tEXt, zTXt or iTXt chunk; compressed text is bounded."""
    keyword, sep, rest = chunk.data.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        raise LabelFormatError(_("A PNG text chunk has no valid keyword."))
    if chunk.type == b"tEXt":
        text = rest
    elif chunk.type == b"zTXt":
        if len(rest) < 1 or rest[0] != 0:
            raise LabelFormatError(_("A PNG zTXt chunk uses an unknown compression method."))
        text = _inflate_bounded(rest[1:])
    else:
        if len(rest) < 2:
            raise LabelFormatError(_("A PNG iTXt chunk is truncated."))
        compressed, method = rest[0], rest[1]
        language, sep1, rest = rest[2:].partition(b"\x00")
        translated, sep2, text = rest.partition(b"\x00")
        if not sep1 or not sep2:
            raise LabelFormatError(_("A PNG iTXt chunk is truncated."))
        if compressed == 1:
            if method != 0:
                raise LabelFormatError(_("A PNG iTXt chunk uses an unknown compression method."))
            text = _inflate_bounded(text)
        elif compressed != 0:
            raise LabelFormatError(_("A PNG iTXt chunk has an invalid compression flag."))
    if len(text) > MAX_TEXT_BYTES:
        raise LabelFormatError(_("A PNG text chunk is larger than the size a label can have."))
    return keyword, text


def itxt_make(keyword: bytes, text: str) -> bytes:
    """An uncompressed iTXt chunk with no language tag."""
    return chunk_make(b"iTXt", keyword + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xmp_make(label: AigcLabel) -> str:
    """An XMP packet whose TC260:AIGC property holds the bare seven-field JSON."""
    value = _xml_escape(label.to_json(wrapped=False))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f'  <rdf:Description rdf:about="" xmlns:{TC260_PREFIX}="{TC260_NAMESPACE}">\n'
        f"   <{TC260_PREFIX}:{TC260_PROPERTY}>{value}</{TC260_PREFIX}:{TC260_PROPERTY}>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


# --------------------------------------------------------------------------------------------
# XMP scanning without an XML parser
# --------------------------------------------------------------------------------------------
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]*(?::[A-Za-z_][A-Za-z0-9_.\-]*)?"
_TAG_RE = re.compile(
    r"<!--.*?-->"
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<\?.*?\?>"
    rf"|<(?P<close>/)?(?P<name>{_NAME})(?P<attrs>(?:\s+{_NAME}\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*)\s*(?P<empty>/)?>",
    re.DOTALL,
)
_ATTR_RE = re.compile(rf"({_NAME})\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')")
_REF_RE = re.compile(r"&(#[0-9]{1,7};|#x[0-9A-Fa-f]{1,6};|[A-Za-z][A-Za-z0-9]*;)?")
_PREDEFINED = {"lt;": "<", "gt;": ">", "amp;": "&", "quot;": '"', "apos;": "'"}


def _unescape(text: str) -> str:
    """Resolve the five predefined entities and character references; refuse anything else."""

    def replace(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref is None:
            raise LabelFormatError(_("The XMP metadata has a bare ampersand."))
        if ref in _PREDEFINED:
            return _PREDEFINED[ref]
        if ref.startswith("#x"):
            code = int(ref[2:-1], 16)
        elif ref.startswith("#"):
            code = int(ref[1:-1])
        else:
            raise LabelFormatError(_("The XMP metadata uses an entity that is not defined; entities are not expanded."))
        if not 0 < code <= 0x10FFFF:
            raise LabelFormatError(_("The XMP metadata has an invalid character reference."))
        return chr(code)

    return _REF_RE.sub(replace, text)


def xmp_aigc_values(xmp: bytes) -> list[str]:
    """Every TC260:AIGC value in an XMP packet (element or attribute form), bounded and entity-free."""
    text = utf8_within(
        xmp,
        MAX_TEXT_BYTES,
        too_large=_("The XMP metadata is larger than the size a label can have."),
        not_utf8=_("The XMP metadata is not valid UTF-8."),
    )
    if re.search(r"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", text, re.IGNORECASE):
        raise LabelFormatError(_("The XMP metadata declares a document type or entities; it is refused unread."))
    values: list[str] = []
    # Each open element: its qualified name and the namespace bindings in scope inside it.
    stack: list[tuple[str, dict[str, str]]] = []
    capture: list[str] | None = None
    position = 0
    while True:
        lt = text.find("<", position)
        segment = text[position : len(text) if lt < 0 else lt]
        if capture is not None:
            capture.append(segment)
        elif segment.strip() and not stack:
            raise LabelFormatError(_("The XMP metadata is not well-formed (text outside the root element)."))
        if lt < 0:
            break
        match = _TAG_RE.match(text, lt)
        if match is None:
            raise LabelFormatError(_("The XMP metadata is not well-formed."))
        position = match.end()
        if match.group("cdata") is not None:
            if capture is not None:
                capture.append(_xml_escape(match.group("cdata")))
            continue
        name = match.group("name")
        if name is None:
            continue  # comment or processing instruction
        scope = stack[-1][1] if stack else {}
        if match.group("close"):
            if not stack or stack[-1][0] != name:
                raise LabelFormatError(_("The XMP metadata is not well-formed (mismatched tags)."))
            if capture is not None:
                values.append(_unescape("".join(capture)))
                capture = None
            stack.pop()
            continue
        if capture is not None:
            raise LabelFormatError(_("The TC260:AIGC property of the XMP metadata holds markup, not a value."))
        attrs = [
            (m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
            for m in _ATTR_RE.finditer(match.group("attrs"))
        ]
        bindings = dict(scope)
        for attr, value in attrs:
            if attr.startswith("xmlns:"):
                bindings[attr[6:]] = _unescape(value)
        for attr, value in attrs:
            prefix, _sep, local = attr.rpartition(":")
            if prefix and local == TC260_PROPERTY and bindings.get(prefix) == TC260_NAMESPACE:
                values.append(_unescape(value))
        prefix, _sep, local = name.rpartition(":")
        is_label = bool(prefix) and local == TC260_PROPERTY and bindings.get(prefix) == TC260_NAMESPACE
        if match.group("empty"):
            if is_label:
                values.append("")
            continue
        stack.append((name, bindings))
        if len(stack) > MAX_XML_DEPTH:
            raise LabelFormatError(_("The XMP metadata is nested deeper than %(n)d levels.") % {"n": MAX_XML_DEPTH})
        if is_label:
            capture = []
    if stack:
        raise LabelFormatError(_("The XMP metadata is not well-formed (unclosed elements)."))
    return values


def png_labels_scan(data: bytes) -> PngLabelScan:
    """Find every AIGC label in a PNG and return the file with the chunks that carry them removed.

    Labels are read from XMP iTXt chunks (TC260:AIGC, the practice guide's carrier) and from text
    chunks whose keyword is ``AIGC`` (the PG-20259A App. B form), so a second label in either
    place is found.
    """
    chunks = png_chunks(data)
    scan = PngLabelScan()
    kept: list[bytes] = [PNG_SIGNATURE]
    for chunk in chunks:
        found: list[str] = []
        if chunk.type in _TEXT_CHUNKS:
            keyword, text = text_chunk_read(chunk)
            if keyword == XMP_KEYWORD:
                found = xmp_aigc_values(text)
            elif keyword == LABEL_KEY.encode("ascii"):
                try:
                    found = [text.decode("utf-8")]
                except UnicodeDecodeError:
                    raise LabelFormatError(_("The AIGC text chunk is not valid UTF-8.")) from None
        if found:
            scan.labels.extend(found)
        else:
            kept.append(data[chunk.start : chunk.end])
    scan.content = b"".join(kept)
    return scan


def png_label_insert(png: bytes, label: AigcLabel) -> bytes:
    """The PNG with its XMP replaced by one carrying the label, placed before the first IDAT."""
    chunks = png_chunks(png)
    out: list[bytes] = [PNG_SIGNATURE]
    inserted = False
    for chunk in chunks:
        if chunk.type == b"iTXt" and chunk.data.startswith(XMP_KEYWORD + b"\x00"):
            continue  # an older XMP packet: replaced, never left beside ours
        if chunk.type == b"IDAT" and not inserted:
            out.append(itxt_make(XMP_KEYWORD, xmp_make(label)))
            inserted = True
        out.append(png[chunk.start : chunk.end])
    return b"".join(out)
