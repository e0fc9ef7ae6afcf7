"""Publishing a bundle: absolute URLs for projector.tensorflow.org, and file sizes a git host accepts.

Everything here is pure: the CLI hands in names, sizes and URLs, and prints what comes back.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from urllib.parse import quote, urlsplit

from projector_bundle.projector.formats import GITHUB_FILE_LIMIT, MB, PROJECTOR_WEB, REMOTE_CONFIG_JSON
from projector_bundle.projector.schema import EmbeddingInfo, build_config
from projector_bundle.text import describe_size

# GitHub's limit is 100 MiB; the same number in decimal megabytes is a bound on the safe side.
DEFAULT_MAX_FILE_MB = GITHUB_FILE_LIMIT // (1024 * 1024)


def normalise_base_url(text: str) -> str:
    """`--base-url` as the folder URL every bundle path is appended to: http(s), a host, ending in `/`.

    Raises:
        ValueError: with the message argparse shows after `argument --base-url:`.
    """
    # urlsplit drops tabs and newlines silently, but the text is written as given: refuse them.
    if any(c.isspace() or unicodedata.category(c).startswith("C") for c in text):
        raise ValueError(f"expected a URL without spaces or control characters, got {text!r}")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"expected an http:// or https:// URL, got {text!r}")
    if "@" in parts.netloc:
        # Written into the page and the remote config as given, for anyone to read.
        shown = text.replace(parts.netloc.rpartition("@")[0], "***", 1)
        raise ValueError(
            f"expected a URL without a user name or password, which the bundle would publish, got {shown!r}"
        )
    if not parts.hostname:
        raise ValueError(f"expected a URL with a host, got {text!r}")
    try:
        port = parts.port
    except ValueError:  # not a number, or over 65535
        port = 0
    if port == 0:
        raise ValueError(f"expected a port from 1 to 65535 in the URL, got {text!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a folder URL without ?query or #fragment, got {text!r}")
    # The bundle's files lie inside the folder, so "https://o.github.io/repo" means "…/repo/".
    return text if text.endswith("/") else text + "/"


def build_remote_config(embeddings: Sequence[EmbeddingInfo], base_url: str) -> dict[str, object]:
    """The config with every path made absolute, for a page served from another origin."""
    return build_config([e.with_base_url(base_url) for e in embeddings])


def projector_link(base_url: str) -> str:
    """The projector.tensorflow.org link that opens the remote config.

    The projector splits its query string on `&` and `=` before decoding, so the config URL
    must be percent-encoded whole.
    """
    return f"{PROJECTOR_WEB}?config={quote(base_url + REMOTE_CONFIG_JSON, safe='')}"


def size_warning(sizes: Mapping[str, int], max_file_mb: float, vector_tsvs: Collection[str]) -> str | None:
    """A warning naming the files over the bound and the ways to shrink them, or None.

    `vector_tsvs` names the vectors TSVs, the files that --no-tsv and --tsv-digits shrink.
    """
    over = {name: size for name, size in sorted(sizes.items()) if size > max_file_mb * MB}
    if not over:
        return None
    files = ", ".join(f"{name} is {describe_size(size)}" for name, size in over.items())
    ways = ["--limit N (fewer rows)"]
    if any(name in vector_tsvs for name in over):
        ways += ["--no-tsv (the page reads the .bytes file)", "--tsv-digits 4 (a shorter TSV)"]
    ways.append("a larger --max-file-mb where the host allows it")
    return (
        f"{files}: over {max_file_mb:g} MB (--max-file-mb), which GitHub refuses in a git push; "
        f"ways out: {', '.join(ways)}"
    )
