"""The projector's config, described once.

`projector_config.json` is tensorboard's `ProjectorConfig` as JSON
(`plugins/projector/projector_config.proto`); the standalone projector reads it
through `interface EmbeddingInfo` in `vz_projector/data-provider.ts`. The writer,
the remote config (`--base-url`) and `validate` all take field names from here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Top-level keys of ProjectorConfig. A static bundle uses `embeddings` only; the
# checkpoint keys are known so that `validate` does not call them unknown.
KEY_EMBEDDINGS = "embeddings"
KEY_MODEL_CHECKPOINT_PATH = "modelCheckpointPath"
KEY_MODEL_CHECKPOINT_DIR = "modelCheckpointDir"
CONFIG_KEYS = frozenset({KEY_EMBEDDINGS, KEY_MODEL_CHECKPOINT_PATH, KEY_MODEL_CHECKPOINT_DIR})


@dataclass(frozen=True)
class SpriteInfo:
    """`SpriteMetadata`: one image holding a thumbnail per point."""

    image_path: str  # imagePath, relative to the page
    single_image_dim: tuple[int, int]  # singleImageDim: [width, height] of one thumbnail

    def to_json(self) -> dict[str, object]:
        return {
            SPRITE_JSON_KEYS["image_path"]: self.image_path,
            SPRITE_JSON_KEYS["single_image_dim"]: list(self.single_image_dim),
        }


@dataclass(frozen=True)
class EmbeddingInfo:
    """One tensor of the config (`EmbeddingInfo`); Python names, with the JSON keys in `JSON_KEYS`."""

    tensor_name: str  # tensorName: shown in the data panel's menu; the projector looks tensors up by it
    tensor_shape: tuple[int, int]  # tensorShape: [points, dimensions]; required for a .bytes tensorPath
    tensor_path: str  # tensorPath: `.bytes` (raw little-endian float32) or a TSV, relative to the page
    metadata_path: str | None = None  # metadataPath: labels TSV, one row per point (+ a header with 2+ columns)
    bookmarks_path: str | None = None  # bookmarksPath: a JSON list of saved `State`s
    sprite: SpriteInfo | None = None  # sprite: thumbnails (carried over from a TensorBoard log)

    def to_json(self) -> dict[str, object]:
        """The config entry, without the fields that are unset."""
        entry: dict[str, object] = {}
        for name, key in JSON_KEYS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SpriteInfo):
                value = value.to_json()
            elif isinstance(value, tuple):
                value = list(value)
            entry[key] = value
        return entry

    def with_base_url(self, base_url: str) -> EmbeddingInfo:
        """The same entry with every path made absolute under `base_url` (a folder URL ending in `/`)."""
        absolute = {name: base_url + getattr(self, name) for name in PATH_FIELDS if getattr(self, name) is not None}
        if self.sprite is not None:
            absolute["sprite"] = replace(self.sprite, image_path=base_url + self.sprite.image_path)
        return replace(self, **absolute)


# Python field -> JSON key, for EmbeddingInfo and SpriteInfo.
JSON_KEYS = {
    "tensor_name": "tensorName",
    "tensor_shape": "tensorShape",
    "tensor_path": "tensorPath",
    "metadata_path": "metadataPath",
    "bookmarks_path": "bookmarksPath",
    "sprite": "sprite",
}
SPRITE_JSON_KEYS = {"image_path": "imagePath", "single_image_dim": "singleImageDim"}
# The fields that are paths relative to the page, in the order `validate` checks them.
PATH_FIELDS = ("tensor_path", "metadata_path", "bookmarks_path")


def build_config(embeddings: list[EmbeddingInfo]) -> dict[str, object]:
    """`ProjectorConfig` as the standalone projector reads it."""
    return {KEY_EMBEDDINGS: [e.to_json() for e in embeddings]}
