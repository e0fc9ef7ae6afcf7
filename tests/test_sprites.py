"""Sprites from `label_img`: the same thumbnails, in the same places, as torch's SummaryWriter makes them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

import projector_bundle as pb
from projector_bundle import ExportError
from projector_bundle.projector.formats import CONFIG_JSON
from projector_bundle.projector.sprites import png_bytes, sprite_grid


def decoded(png: bytes) -> np.ndarray:
    """Pixels as Pillow (an independent PNG decoder) reads them."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def torch_sprite(images: torch.Tensor, logdir: Path) -> np.ndarray:
    """The sprite torch's own add_embedding writes for `images`."""
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(torch.zeros(images.shape[0], 2), label_img=images)
    return decoded((logdir / "00000" / "default" / "sprite.png").read_bytes())


def test_png_bytes_decode_to_the_same_pixels() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, size=(13, 7, 3), dtype=np.uint8)
    assert np.array_equal(decoded(png_bytes(pixels)), pixels)


@pytest.mark.parametrize(("count", "channels"), [(12, 3), (16, 3), (5, 1), (1, 3)])
def test_the_grid_is_torchs(count: int, channels: int, tmp_path: Path) -> None:
    images = torch.rand(count, channels, 6, 6, generator=torch.Generator().manual_seed(count))
    ours = sprite_grid(images.numpy(), "label_img")
    assert np.array_equal(ours, torch_sprite(images, tmp_path))


def test_uint8_images_are_taken_as_they_are() -> None:
    images = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    grid = sprite_grid(images, "label_img")
    assert grid.shape == (4, 4, 3)
    assert np.array_equal(grid[:2, :2], images[0].transpose(1, 2, 0))
    assert np.array_equal(grid[:2, 2:], images[1].transpose(1, 2, 0))
    assert not grid[2:].any()  # the cells after the last image are black


def test_add_embedding_ships_label_img_as_the_sprite(tmp_path: Path) -> None:
    images = torch.rand(10, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    bundle = pb.Bundle(tmp_path / "site")
    bundle.add_embedding(torch.randn(10, 4), metadata=[str(i) for i in range(10)], label_img=images, tag="digits")
    out = bundle.write().out
    sprite = json.loads((out / CONFIG_JSON).read_text())["embeddings"][0]["sprite"]
    assert sprite == {"imagePath": "vectors.sprite.png", "singleImageDim": [8, 8]}
    assert np.array_equal(decoded((out / "vectors.sprite.png").read_bytes()), torch_sprite(images, tmp_path / "tb"))


@pytest.mark.parametrize(
    ("label_img", "message"),
    [
        (np.zeros((4, 8, 8)), "label_img must be images of shape (N, C, H, W) with C 1 or 3, got 4 x 8 x 8"),
        (np.zeros((4, 2, 8, 8)), "label_img must be images of shape (N, C, H, W) with C 1 or 3, got 4 x 2 x 8 x 8"),
        (np.zeros((4, 3, 8, 8), dtype=np.int64), "label_img must be floats in [0, 1] or uint8, got int64"),
        (np.zeros((3, 3, 8, 8)), "label_img has 3 images but the vectors have 4"),
    ],
)
def test_images_that_cannot_be_a_sprite(label_img: np.ndarray, message: str, tmp_path: Path) -> None:
    bundle = pb.Bundle(tmp_path / "site")
    with pytest.raises(ExportError) as caught:
        bundle.add_embedding(np.ones((4, 2)), label_img=label_img, tag="t")
    assert str(caught.value) == f"add_embedding(tag='t'): {message}"
