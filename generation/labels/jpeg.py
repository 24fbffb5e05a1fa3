"""JPEG carrier, read side only: XMP in an APP1 segment (TC260 practice guide).

The platform delivers PNG, but people bring JPEGs to the verify page, often labelled by other
producers; reading them gives an answer ("another producer", "no label", "two labels") instead
of a refusal. Segments are walked up to the start of scan, with lengths checked; the XMP is read
by the same bounded, entity-free scanner as PNG's.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from generation.labels.aigc import LabelFormatError
from generation.labels.png import MAX_TEXT_BYTES, xmp_aigc_values

JPEG_SOI = b"\xff\xd8"
XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
MAX_JPEG_BYTES = 16 * 1024 * 1024
MAX_SEGMENTS = 1024
_APP1 = 0xE1
_SOS = 0xDA
_EOI = 0xD9
# Markers that stand alone, without a length: TEM and the restart markers.
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


@dataclass
class JpegLabelScan:
    labels: list[str] = field(default_factory=list)
    content: bytes = b""


def jpeg_labels_scan(data: bytes) -> JpegLabelScan:
    """Every TC260:AIGC label in the APP1 XMP segments, and the file without those segments."""
    if len(data) > MAX_JPEG_BYTES:
        raise LabelFormatError(
            _("The JPEG file is larger than the %(mb)d MB this service reads.") % {"mb": MAX_JPEG_BYTES >> 20}
        )
    if not data.startswith(JPEG_SOI):
        raise LabelFormatError(_("The file does not start with the JPEG start-of-image marker."))
    scan = JpegLabelScan()
    kept = [JPEG_SOI]
    offset = 2
    for _segment in range(MAX_SEGMENTS):
        if offset + 2 > len(data) or data[offset] != 0xFF:
            raise LabelFormatError(_("The JPEG file has a broken segment structure."))
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte before a marker
            kept.append(data[offset : offset + 1])
            offset += 1
            continue
        if marker in _STANDALONE:
            kept.append(data[offset : offset + 2])
            offset += 2
            continue
        if marker == _EOI:
            kept.append(data[offset:])
            break
        if offset + 4 > len(data):
            raise LabelFormatError(_("The JPEG file ends in the middle of a segment (it is truncated)."))
        (length,) = struct.unpack_from(">H", data, offset + 2)
        end = offset + 2 + length
        if length < 2 or end > len(data):
            raise LabelFormatError(_("A JPEG segment claims more bytes than the file holds."))
        body = data[offset + 4 : end]
        if marker == _SOS:
            # Entropy-coded data follows; labels live before it.
            kept.append(data[offset:])
            break
        if marker == _APP1 and body.startswith(XMP_HEADER):
            xmp = body[len(XMP_HEADER) :]
            if len(xmp) > MAX_TEXT_BYTES:
                raise LabelFormatError(_("The XMP metadata is larger than the size a label can have."))
            found = xmp_aigc_values(xmp)
            if found:
                scan.labels.extend(found)
                offset = end
                continue
        kept.append(data[offset:end])
        offset = end
    else:
        raise LabelFormatError(_("The JPEG file has more segments than this service reads."))
    scan.content = b"".join(kept)
    return scan
