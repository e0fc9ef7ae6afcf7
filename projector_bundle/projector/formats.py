"""One source of truth for the names and keys of a bundle.

The projector reads `projector_config.json` (see tensorboard's
`plugins/projector/projector_config.proto` and `vz_projector/data-provider.ts`);
the writers, the page and the tests all take names from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Where `bundle` writes and `serve` serves, unless told otherwise.
DEFAULT_OUT = Path("site")
# Where `serve` listens unless told otherwise: loopback only.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
CONFIG_JSON = "projector_config.json"
# The same config with absolute URLs (`--base-url`), for projector.tensorflow.org's `?config=`.
REMOTE_CONFIG_JSON = "projector_config.remote.json"
PROJECTOR_WEB = "https://projector.tensorflow.org/"
PAGE_HTML = "index.html"
PROJECTOR_JS = "projector_binary.js"
PROJECTOR_NOTICE = "projector_binary.LICENSE.txt"
# Our page script (templates/view.js): opens each tensor on its exact bookmark, deep links.
VIEW_JS = "view.js"
# Written last into every bundle this tool makes: provenance, shapes, sizes and sha256
# of every other file. Its presence is how `bundle` knows a folder is safe to replace.
MANIFEST_JSON = "manifest.json"

# The projector treats a tensorPath with this suffix as raw little-endian float32.
BYTES_SUFFIX = ".bytes"
TSV_SUFFIX = ".tsv"
FLOAT32_BYTES = 4

# What JavaScript's String.prototype.trim() strips: ECMAScript's WhiteSpace (tab,
# VT, FF, BOM and every Unicode Zs space) and LineTerminator (LF, CR, LS, PS).
# The projector skips a metadata or vectors line that is empty after trim(), so a
# label made only of these would be lost and every later label shifted by one.
JS_WHITESPACE = (
    "\t\n\v\f\r\ufeff\u2028\u2029"
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)

# The projector's streamParse decodes a TSV in chunks of this many bytes, each on its
# own (FileReader.readAsText), so a character cut by a chunk boundary becomes U+FFFD.
PROJECTOR_CHUNK_BYTES = 1_000_000

# Sizes shown to users, and --max-file-mb, are in MiB: the unit of GitHub's file limit.
MIB = 1024 * 1024
# GitHub refuses a file over 100 MiB in a git push: a bundle committed to a repository must stay
# under it. The Pages workflow deploys site/ as an artifact instead, which has no such per-file limit.
GITHUB_FILE_LIMIT = 100 * MIB
# The case that limit is about, said once wherever a file is over it.
GIT_FILE_CASE = "GitHub refuses such a file when site/ is committed to git; the Pages workflow's artifact takes it"

# The metadata column that links point i to the next point of its polyline, by index
# (`getSequenceNextPointIndex` in vz_projector/data.ts). Its cells are written raw:
# the projector reads an empty cell as null, which ends the path there.
SEQ_NEXT = "__seq_next__"
# `--compare`'s numeric columns of a later space: a number, or empty (null to the projector, so
# neither coloured nor counted) for an item the first space lacks. Written raw, like SEQ_NEXT.
OVERLAP_HEADER = "kNN overlap"
MOVED_HEADER = "moved"
RAW_COLUMNS = (SEQ_NEXT, OVERLAP_HEADER, MOVED_HEADER)

# Bookmarks: a JSON list of the projector's saved `State`s (vz_projector/data.ts).
BOOKMARKS_SUFFIX = ".bookmarks.json"


# Manifest roles: what each file of a tensor is for.
ROLE_BYTES, ROLE_TSV, ROLE_METADATA, ROLE_BOOKMARKS, ROLE_SPRITE = "bytes", "tsv", "metadata", "bookmarks", "sprite"
# A sprite image (thumbnails of the points: `label_img`, or a TensorBoard log's) keeps its own suffix after this.
SPRITE_SUFFIX = ".sprite"


@dataclass(frozen=True)
class TensorFiles:
    """The file names of one tensor inside a bundle."""

    stem: str
    metadata: str

    def roles(self, *, tsv: bool, bookmarks: bool, sprite: str | None = None) -> dict[str, str]:
        """Role -> file name, for the files a tensor of this bundle really has (`sprite`: its image's suffix)."""
        files = {ROLE_BYTES: self.bytes, ROLE_METADATA: self.metadata}
        if tsv:
            files[ROLE_TSV] = self.tsv
        if bookmarks:
            files[ROLE_BOOKMARKS] = self.bookmarks
        if sprite is not None:
            files[ROLE_SPRITE] = self.sprite(sprite)
        return files

    @property
    def tsv(self) -> str:
        return self.stem + TSV_SUFFIX

    @property
    def bytes(self) -> str:
        return self.stem + BYTES_SUFFIX

    @property
    def bookmarks(self) -> str:
        return self.stem + BOOKMARKS_SUFFIX

    def sprite(self, suffix: str) -> str:
        """The sprite image's name: `vectors.sprite.png` for a PNG."""
        return self.stem + SPRITE_SUFFIX + suffix


# The first tensor keeps the plain names users of the exercise expect.
DEFAULT_FILES = TensorFiles(stem="vectors", metadata="metadata.tsv")


def tensor_files(stem: str | None = None) -> TensorFiles:
    """File names for a tensor: the defaults, or `<stem>.tsv/.bytes/.metadata.tsv`."""
    if stem is None:
        return DEFAULT_FILES
    return TensorFiles(stem=stem, metadata=f"{stem}.metadata.tsv")
