"""Labelled PNG images, read back with the independent chunk walker in ``pngwalk``."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import UTC, datetime

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.test import Client
from PIL import Image

from generation.labels import label_image
from tests.generation.labels import pngwalk
from tests.generation.labels.conftest import OWN_PRODUCER, PRODUCE_ID

# Fast and self-contained: part of the subset CI also runs on the embedded default.
pytestmark = pytest.mark.smoke

FIELDS = ["Label", "ContentProducer", "ProduceID", "ReservedCode1", "ContentPropagator", "PropagateID", "ReservedCode2"]


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def label_fields(png: bytes) -> dict[str, str]:
    index = pngwalk.label_chunk_index(png)
    kind, body, _raw = pngwalk.chunks(png)[index]
    (value,) = pngwalk.aigc_values(pngwalk.xmp_text(body))
    return json.loads(value)


def decode(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("L"))


def test_label_is_one_xmp_itxt_chunk_before_the_first_idat(labelled_png: bytes) -> None:
    walked = pngwalk.chunks(labelled_png)
    kinds = [kind for kind, _body, _raw in walked]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
    xmp_positions = [i for i, (kind, body, _raw) in enumerate(walked) if pngwalk.is_xmp(kind, body)]
    assert len(xmp_positions) == 1
    assert xmp_positions[0] < kinds.index(b"IDAT")
    # No other text chunk carries a second label.
    assert all(kind not in (b"tEXt", b"zTXt") for kind in kinds)
    assert sum(b"AIGC" in body for kind, body, _raw in walked if kind in (b"iTXt", b"tEXt", b"zTXt")) == 1


def test_every_field_and_the_character_set(labelled_png: bytes) -> None:
    fields = label_fields(labelled_png)
    assert list(fields) == FIELDS
    assert fields["Label"] == "1"
    assert fields["ContentProducer"] == OWN_PRODUCER
    assert fields["ProduceID"] == PRODUCE_ID
    assert fields["ContentPropagator"] == fields["ContentProducer"]
    assert fields["PropagateID"] == fields["ProduceID"]
    assert fields["ReservedCode1"] and fields["ReservedCode2"] == fields["ReservedCode1"]
    for name, value in fields.items():
        assert pngwalk.LABEL_CHARSET.fullmatch(value), name


def test_signature_verifies_with_the_published_key(labelled_png: bytes, client: Client) -> None:
    jwks = client.get("/.well-known/aigc-label-keys.json").json()
    (jwk,) = jwks["keys"]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    key = Ed25519PublicKey.from_public_bytes(b64url(jwk["x"]))
    fields = label_fields(labelled_png)
    scheme, kid, when, digest, signature = fields["ReservedCode1"].split(":")
    assert scheme == "v1" and kid == jwk["kid"] == hashlib.sha256(b64url(jwk["x"])).hexdigest()[:16]
    signed_at = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - signed_at).total_seconds()) < 300
    # The digest is of the file with the label chunk taken out.
    content = pngwalk.without_chunk(labelled_png, pngwalk.label_chunk_index(labelled_png))
    assert b64url(digest) == hashlib.sha256(content).digest()
    message = "\n".join(
        [
            "GB45438-AIGC-ReservedCode1-v1",
            fields["Label"],
            fields["ContentProducer"],
            fields["ProduceID"],
            "png",
            kid,
            when,
            hashlib.sha256(content).hexdigest(),
        ]
    ).encode()
    key.verify(b64url(signature), message)  # raises InvalidSignature if wrong


def test_upscaled_nearest_neighbour_with_the_plate_in_a_corner(digit: np.ndarray, labelled_png: bytes) -> None:
    pixels = decode(labelled_png)
    assert pixels.shape == (224, 224)
    plain = np.kron(digit, np.ones((8, 8), dtype=np.uint8))
    changed = np.argwhere(pixels != plain)
    top, left = changed.min(axis=0)
    bottom, right = changed.max(axis=0) + 1
    # Only a bottom-right corner region differs from the nearest-neighbour enlargement.
    assert top > 224 // 2 and left > 224 // 2 and bottom >= 224 - 8 and right >= 224 - 8


def _text_box(image: np.ndarray, plain: np.ndarray) -> tuple[int, int, int, int, np.ndarray]:
    """The pixel bounding box of the light text strokes inside the plate, and the plate itself."""
    changed = np.argwhere(image != plain)
    top, left = changed.min(axis=0)
    bottom, right = changed.max(axis=0) + 1
    plate = image[top:bottom, left:right]
    inner = plate[2:-2, 2:-2]
    rows = np.flatnonzero((inner > 127).any(axis=1))
    cols = np.flatnonzero((inner > 127).any(axis=0))
    return int(rows[0]), int(rows[-1] + 1), int(cols[0]), int(cols[-1] + 1), plate


@pytest.mark.parametrize("background", [0, 255, 128])
@pytest.mark.parametrize(("source_side", "side"), [(28, 224), (8, 256), (28, 256)])
def test_text_height_is_at_least_5_percent_and_legible(background: int, source_side: int, side: int) -> None:
    source = np.full((source_side, source_side), background, dtype=np.uint8)
    png = label_image(source, produce_id="t-1", producer=OWN_PRODUCER, side=side)
    image = decode(png)
    assert image.shape == (side, side)
    plain = np.full((side, side), background, dtype=np.uint8)
    top, bottom, left, right, plate = _text_box(image, plain)
    assert bottom - top >= 0.05 * side, f"text {bottom - top}px on {side}px"
    inner = plate[2:-2, 2:-2]
    text = inner[inner > 127]
    ground = inner[inner <= 127]
    assert text.size and ground.size
    assert np.median(text) - np.median(ground) >= 200  # light strokes on a dark plate
    # The plate is visibly distinct from the background on its edge (outline) or its fill.
    edge_contrast = max(abs(int(plate[0, 0]) - background), abs(int(np.median(ground)) - background))
    assert edge_contrast >= 100


def test_explicit_false_leaves_out_the_plate_but_keeps_the_label(digit: np.ndarray) -> None:
    png = label_image(digit, produce_id="no-plate-1", producer=OWN_PRODUCER, explicit=False)
    assert np.array_equal(decode(png), np.kron(digit, np.ones((8, 8), dtype=np.uint8)))
    assert label_fields(png)["ProduceID"] == "no-plate-1"
