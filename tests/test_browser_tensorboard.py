"""A TensorBoard log made static by `from-tensorboard`, in the real projector in Chromium: its
vectors, metadata and sprite thumbnails are what SummaryWriter logged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from browser import read_dataset, serve_folder, wait_until_drawn
from torch.utils.tensorboard import SummaryWriter

from projector_bundle import cli

pytestmark = pytest.mark.browser

# The sprite the projector made of the image: its size, and whether it is in use for this data set.
_READ_SPRITE = """() => {
  const projector = document.querySelector('vz-projector-app').shadowRoot.querySelector('vz-projector');
  const info = projector.dataSet.spriteAndMetadataInfo;
  const image = info && info.spriteImage;
  return image ? {width: image.naturalWidth, height: image.naturalHeight, dim: info.spriteMetadata.singleImageDim}
               : null;
}"""


def test_a_logged_embedding_with_a_sprite_loads_as_logged(tmp_path: Path, projector) -> None:
    page, log = projector
    vectors = np.random.default_rng(7).standard_normal((12, 4)).astype(np.float32)
    rows = [[f"point {i}", str(i), "even" if i % 2 == 0 else "odd"] for i in range(12)]
    with SummaryWriter(tmp_path / "runs") as writer:
        writer.add_embedding(
            torch.from_numpy(vectors),
            metadata=rows,
            metadata_header=["name", "index", "parity"],
            label_img=torch.rand(12, 3, 10, 10),
            tag="logged",
        )
    site = tmp_path / "site"
    assert cli.main(["from-tensorboard", str(tmp_path / "runs"), "--out", str(site), "--quiet"]) == 0
    sprites: list[int] = []
    page.on("response", lambda r: sprites.append(r.status) if r.url.endswith(".sprite.png") else None)
    with serve_folder(site) as url:
        page.goto(url)
        wait_until_drawn(page, 12, 4)
        data = read_dataset(page)
        sprite = page.evaluate(_READ_SPRITE)
    assert np.array_equal(np.array(data["vectors"], dtype=np.float32), vectors)
    assert [[m["name"], m["index"], m["parity"]] for m in data["metadata"]] == rows
    assert sprites == [200]
    # torch lays 12 thumbnails of 10 x 10 on a 4 x 4 grid.
    assert sprite == {"width": 40, "height": 40, "dim": [10, 10]}
    assert log.external_requests == []
    assert log.console_errors == []
