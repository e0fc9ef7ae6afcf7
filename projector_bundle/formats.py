"""One source of truth for the names and keys of a bundle.

The projector reads `projector_config.json` (see tensorboard's
`plugins/projector/projector_config.proto` and `vz_projector/data-provider.ts`);
the writers, the page and the tests all take names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

CONFIG_JSON = "projector_config.json"
PAGE_HTML = "index.html"
PROJECTOR_JS = "projector_binary.js"
PROJECTOR_NOTICE = "projector_binary.LICENSE.txt"

# Keys of the standalone projector's config (ProjectorConfig / EmbeddingInfo).
KEY_EMBEDDINGS = "embeddings"
KEY_TENSOR_NAME = "tensorName"
KEY_TENSOR_SHAPE = "tensorShape"
KEY_TENSOR_PATH = "tensorPath"
KEY_METADATA_PATH = "metadataPath"
KEY_BOOKMARKS_PATH = "bookmarksPath"

# The projector treats a tensorPath with this suffix as raw little-endian float32.
BYTES_SUFFIX = ".bytes"
TSV_SUFFIX = ".tsv"
# Bookmarks: a JSON list of the projector's saved `State`s (vz_projector/data.ts).
BOOKMARKS_SUFFIX = ".bookmarks.json"


@dataclass(frozen=True)
class TensorFiles:
    """The file names of one tensor inside a bundle."""

    stem: str
    metadata: str

    @property
    def tsv(self) -> str:
        return self.stem + TSV_SUFFIX

    @property
    def bytes(self) -> str:
        return self.stem + BYTES_SUFFIX

    @property
    def bookmarks(self) -> str:
        return self.stem + BOOKMARKS_SUFFIX


# The first tensor keeps the plain names users of the exercise expect.
DEFAULT_FILES = TensorFiles(stem="vectors", metadata="metadata.tsv")


def tensor_files(stem: str | None = None) -> TensorFiles:
    """File names for a tensor: the defaults, or `<stem>.tsv/.bytes/.metadata.tsv`."""
    if stem is None:
        return DEFAULT_FILES
    return TensorFiles(stem=stem, metadata=f"{stem}.metadata.tsv")
