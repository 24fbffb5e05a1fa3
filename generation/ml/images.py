"""PNG encoding of grey-scale images and sample grids, with the standard library only."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

import numpy as np


def png_encode(image: np.ndarray) -> bytes:
    """Encode a uint8 grey-scale image [H, W] as PNG."""
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"png_encode expects a uint8 array [H, W], got {image.dtype} {image.shape}.")
    height, width = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def image_grid(images: Sequence[np.ndarray] | np.ndarray, *, columns: int, scale: int = 1, gap: int = 1) -> np.ndarray:
    """Tile equally sized uint8 images [H, W] row by row, ``gap`` pixels apart, each pixel ``scale`` times."""
    items = [np.asarray(i, dtype=np.uint8) for i in images]
    if not items:
        raise ValueError("image_grid needs at least one image.")
    height, width = items[0].shape
    rows = -(-len(items) // columns)
    grid = np.full((rows * (height + gap) + gap, columns * (width + gap) + gap), 40, dtype=np.uint8)
    for n, item in enumerate(items):
        r, c = divmod(n, columns)
        top, left = gap + r * (height + gap), gap + c * (width + gap)
        grid[top : top + height, left : left + width] = item
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return grid
