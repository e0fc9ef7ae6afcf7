"""Sprite images: one thumbnail per point, laid out as the projector reads them.

The projector cuts a sprite into a square grid of ceil(sqrt(points)) thumbnails a row, each
`singleImageDim` pixels, point i at row i // n, column i % n (`vz_projector/data-provider.ts`).
`add_embedding(label_img=...)` takes the images as torch's `SummaryWriter` does: (N, C, H, W)
with C 1 or 3, floats in [0, 1] (scaled by 255 and cut to whole numbers, as torch does) or uint8.

Pure: arrays in, PNG bytes out (zlib and struct, no imaging library).
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

from projector_bundle import ExportError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# IHDR: 8 bits a sample, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
_RGB8 = (8, 2, 0, 0, 0)


def sprite_grid(images: np.ndarray, source: str) -> np.ndarray:
    """The thumbnails of `images` (N, C, H, W) on the projector's square grid: (n*H, n*W, 3) uint8,
    the cells after the last image black."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = " x ".join(map(str, images.shape))
        raise ExportError(f"{source}: label_img must be images of shape (N, C, H, W) with C 1 or 3, got {shape}")
    count, _, height, width = images.shape
    if images.dtype.kind == "f":
        # As torch's make_sprite: scaled by 255 in the images' own precision, clipped, truncated.
        images = np.clip(images * 255, 0, 255).astype(np.uint8)
    elif images.dtype != np.uint8:
        raise ExportError(f"{source}: label_img must be floats in [0, 1] or uint8, got {images.dtype}")
    if images.shape[1] == 1:
        images = np.repeat(images, 3, axis=1)
    side = math.ceil(math.sqrt(count))
    grid = np.zeros((side * side, height, width, 3), dtype=np.uint8)
    grid[:count] = images.transpose(0, 2, 3, 1)
    return grid.reshape(side, side, height, width, 3).transpose(0, 2, 1, 3, 4).reshape(side * height, side * width, 3)


def png_bytes(pixels: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 image as a PNG file."""
    height, width, _ = pixels.shape
    rows = np.zeros((height, 1 + width * 3), dtype=np.uint8)  # each row starts with filter type 0 (none)
    rows[:, 1:] = pixels.reshape(height, width * 3)
    header = struct.pack(">II5B", width, height, *_RGB8)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
