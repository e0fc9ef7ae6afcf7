"""The bundle in Debian's Chromium: what a person sees, and what the projector's parser made of our files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
from browser import assert_stayed_clean, colour_by, colour_options, read_dataset, serve_folder, wait_until_drawn
from support import DEFAULT_HEADER, TINY_VOCAB, WIDE_VOCAB, save_tiny_bert, tiny_matrix, write_tensors

from projector_bundle import cli
from projector_bundle.models.vocabulary import Token
from projector_bundle.output.publish import projector_link
from projector_bundle.points.labels import label_rows, select_columns
from projector_bundle.points.tensors import Tensor
from projector_bundle.projector.cells import escape_cell
from projector_bundle.projector.firstview import FIRST_VIEW_STEM
from projector_bundle.projector.formats import BYTES_SUFFIX, CONFIG_JSON, DEFAULT_FILES, REMOTE_CONFIG_JSON

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def test_page_shows_what_a_person_sees(tiny_bundle: Path, tiny_model: Path, projector) -> None:
    page, log = projector
    with serve_folder(tiny_bundle) as url:
        page.goto(url)
        wait_until_drawn(page, len(TINY_VOCAB), 8)
        tensor_menus = page.locator("vz-projector-data-panel paper-dropdown-menu input")
        assert "tiny-bert/word_embeddings" in tensor_menus.evaluate_all("inputs => inputs.map(i => i.value)")
        assert page.locator("#bundle-info .tensor-name").inner_text() == "tiny-bert/word_embeddings"
        assert page.locator("#labelby").is_visible()
        assert colour_options(page) == DEFAULT_HEADER
        assert colour_by(page, "is subword") == {"false": len(TINY_VOCAB) - 3, "true": 3}  # ##w ##ing ##s

        page.locator("vz-projector-inspector-panel #search-box input").fill("welcome")
        page.get_by_text("1 matches.").wait_for()

        data = read_dataset(page)
        assert [row["Token"] for row in data["metadata"]] == TINY_VOCAB
        np.testing.assert_array_equal(np.array(data["vectors"], dtype=np.float32), tiny_matrix(tiny_model))
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "tiny-bundle.png"))
    assert_stayed_clean(log)


def test_vectors_tsv_loads_like_the_bytes(tiny_bundle: Path, tmp_path: Path, projector) -> None:
    """projector.tensorflow.org's ?config= (and its Load dialog) parse the TSV: same points, same labels."""
    page, log = projector
    site = shutil.copytree(tiny_bundle, tmp_path / "site")
    with serve_folder(site) as url:
        page.goto(url)
        wait_until_drawn(page, len(TINY_VOCAB), 8)
        from_bytes = read_dataset(page)

        config = json.loads((site / CONFIG_JSON).read_text())
        embedding = config["embeddings"][0]
        embedding["tensorPath"] = url + DEFAULT_FILES.tsv
        embedding["metadataPath"] = url + DEFAULT_FILES.metadata
        (site / "tsv_config.json").write_text(json.dumps(config))
        page.goto(f"{url}?config={quote(url + 'tsv_config.json', safe='')}")
        wait_until_drawn(page, len(TINY_VOCAB), 8)
        assert colour_options(page) == DEFAULT_HEADER
        from_tsv = read_dataset(page)
    assert from_tsv == from_bytes
    assert_stayed_clean(log)


def test_remote_config_opens_the_same_data(tiny_model: Path, tmp_path: Path, projector) -> None:
    """A bundle built for its own URL: the page's projector.tensorflow.org link carries a config that loads.
    Published, it opens on the light first view (the 3-D PCA coordinates), through either config."""
    page, log = projector
    site = tmp_path / "site"
    site.mkdir()
    with serve_folder(site) as url:
        args = ["bundle", "--model", str(tiny_model), "--out", str(site), "--base-url", url, "--quiet"]
        assert cli.main(args) == 0
        page.goto(url)
        wait_until_drawn(page, len(TINY_VOCAB), 3)
        link = page.locator("#projector-link")
        assert link.inner_text() == "open in projector.tensorflow.org"
        href = link.get_attribute("href")
        assert href == projector_link(url)
        assert href.startswith("https://projector.tensorflow.org/?config=")
        from_page = read_dataset(page)

        # Our page runs the same demo loader as projector.tensorflow.org: give it the link's query.
        page.goto(f"{url}?{urlsplit(href).query}")
        wait_until_drawn(page, len(TINY_VOCAB), 3)
        assert read_dataset(page) == from_page
        requested = [e["tensorPath"] for e in json.loads((site / REMOTE_CONFIG_JSON).read_text())["embeddings"]]
        assert requested == [url + FIRST_VIEW_STEM + BYTES_SUFFIX, url + DEFAULT_FILES.bytes]
    assert_stayed_clean(log)


# Tokens the projector's parser would split, merge or drop if written raw.
AWKWARD = ["[PAD]", "tab\there", "new\nline", "cr\rlf\r\n", "", " ", "\u3000", "  spaced  ", "42", "café", "\\t", "end"]


def write_direct_bundle(out: Path, texts: list[str], keys: list[str]) -> None:
    """A bundle written by the real writers from a hand-made vocabulary (no tokenizer keeps such tokens)."""
    tokens = [Token(id=i, text=t) for i, t in enumerate(texts)]
    columns = select_columns(keys)
    matrix = np.random.default_rng(0).standard_normal((len(texts), 4)).astype(np.float32)
    tensor = Tensor("awkward", matrix, [c.header for c in columns], label_rows(tokens, columns), DEFAULT_FILES)
    write_tensors(out, [tensor], "awkward")


def test_awkward_tokens_keep_their_own_rows(tmp_path: Path, projector) -> None:
    page, log = projector
    write_direct_bundle(tmp_path / "site", AWKWARD, ["word", "length"])
    with serve_folder(tmp_path / "site") as url:
        page.goto(url)
        wait_until_drawn(page, len(AWKWARD), 4)
        rows = read_dataset(page)["metadata"]
        page.locator("vz-projector-inspector-panel #search-box input").fill("new\u240aline")
        page.get_by_text("1 matches.").wait_for()
    assert [row["Word"] for row in rows] == [escape_cell(t) for t in AWKWARD]
    assert [row["Word"] for row in rows][3:8] == [
        "cr\u240dlf\u240d\u240a",
        "[empty]",
        "[U+0020]",
        "[U+3000]",
        "  spaced  ",
    ]
    assert_stayed_clean(log)


@pytest.mark.parametrize(
    ("labels", "offered"),
    [
        pytest.param(None, [], id="written-raw-hides-label-and-color-by"),
        pytest.param("word", ["Length"], id="export-adds-a-colourable-column"),
    ],
)
def test_words_alone_still_offer_colouring(labels: str | None, offered: list[str], tmp_path: Path, projector) -> None:
    """Over 50 distinct words and nothing else: the projector hides "Label by" and "Color by",
    unless the export adds a column it can colour by."""
    page, log = projector
    site = tmp_path / "site"
    if labels is None:
        write_direct_bundle(site, WIDE_VOCAB, ["word"])
    else:
        model = save_tiny_bert(tmp_path / "wide", vocab=WIDE_VOCAB)
        assert cli.main(["bundle", "--model", str(model), "--out", str(site), "--labels", labels, "--quiet"]) == 0
    with serve_folder(site) as url:
        page.goto(url)
        wait_until_drawn(page, len(WIDE_VOCAB), 4 if labels is None else 8)
        assert colour_options(page) == offered
        assert page.locator("#labelby").is_visible() == bool(offered)
        assert page.locator("#colorby").is_visible() == bool(offered)
    assert_stayed_clean(log)
