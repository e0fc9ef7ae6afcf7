"""`--layer all --trajectories` end to end: the paths tensor, its raw links, the geometry file and section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import leftovers, read_tensor_bytes, run_failing, sentences_bundle, snapshot

from projector_bundle import cli
from projector_bundle.context.geometry import GEOMETRY_JSON
from projector_bundle.context.trajectories import PATHS_HEADER
from projector_bundle.output.writers import write_metadata
from projector_bundle.projector.formats import CONFIG_JSON, PAGE_HTML, SEQ_NEXT
from projector_bundle.projector.validate import validate_bundle

OCCURRENCES = 11  # hello ##w world and welcome: 5 pieces; the other two sentences 3 each
PATHS = "tiny-bert/contextual_paths"


@pytest.fixture(scope="module")
def paths_bundle(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sentences_bundle(tiny_model, tmp_path_factory.mktemp("paths"), "--layer", "all", "--trajectories", "--quiet")


def config_of(bundle: Path) -> dict[str, dict]:
    return {e["tensorName"]: e for e in json.loads((bundle / CONFIG_JSON).read_text())["embeddings"]}


def test_layer_all_adds_every_layer_then_the_paths(paths_bundle: Path) -> None:
    config = config_of(paths_bundle)
    assert list(config) == [
        "tiny-bert/word_embeddings",
        "tiny-bert/contextual_layer0",
        "tiny-bert/contextual_layer1",
        PATHS,
    ]
    assert config[PATHS]["tensorShape"] == [2 * OCCURRENCES, 8]
    paths = read_tensor_bytes(paths_bundle / config[PATHS]["tensorPath"], 8)
    for block, layer in enumerate(("contextual_layer0", "contextual_layer1")):
        entry = config[f"tiny-bert/{layer}"]
        layer_matrix = read_tensor_bytes(paths_bundle / entry["tensorPath"], 8)
        assert (paths[block * OCCURRENCES : (block + 1) * OCCURRENCES] == layer_matrix).all()


def test_the_links_are_written_raw(paths_bundle: Path) -> None:
    metadata_path = paths_bundle / config_of(paths_bundle)[PATHS]["metadataPath"]
    lines = metadata_path.read_text(encoding="utf-8").split("\n")
    assert lines.pop() == ""  # the final newline
    assert lines[0].split("\t") == list(PATHS_HEADER)
    links = [line.split("\t")[-1] for line in lines[1:]]
    # Layer 0's points link to layer 1's; layer 1's cells are empty (null to the projector), not "[empty]".
    assert links == [str(i + OCCURRENCES) for i in range(OCCURRENCES)] + [""] * OCCURRENCES
    assert [line.split("\t")[3] for line in lines[1:]] == ["0"] * OCCURRENCES + ["1"] * OCCURRENCES


def test_the_paths_bookmark_colours_by_layer(paths_bundle: Path) -> None:
    bookmarks = json.loads((paths_bundle / config_of(paths_bundle)[PATHS]["bookmarksPath"]).read_text())
    assert [b["selectedColorOptionName"] for b in bookmarks] == ["Layer"]


def test_the_paths_bundle_validates_clean(paths_bundle: Path) -> None:
    assert validate_bundle(paths_bundle) == []


def test_layer_geometry_json_has_one_record_per_layer(paths_bundle: Path) -> None:
    document = json.loads((paths_bundle / GEOMETRY_JSON).read_text(encoding="utf-8"))
    [model] = document["models"]
    assert model["model"] == "tiny-bert"
    assert [record["layer"] for record in model["layers"]] == [0, 1]
    for record in model["layers"]:
        assert (record["points"], record["sentences"]) == (OCCURRENCES, 3)
        assert record["words"] == 2  # "the" and "bank" occur in two sentences each
        assert -1 <= record["anisotropy"] <= 1 and 0 < record["mev"] <= 1
    manifest = json.loads((paths_bundle / "manifest.json").read_text(encoding="utf-8"))
    assert GEOMETRY_JSON in manifest["files"]


def test_the_page_shows_the_geometry_section(paths_bundle: Path) -> None:
    html = (paths_bundle / PAGE_HTML).read_text(encoding="utf-8")
    assert html.count('<details id="layer-geometry">') == 1
    assert html.count('<table class="geometry-table">') == 1 and html.count("<svg ") == 4
    assert html.index("#layer-geometry {") < html.index("</head>")  # the style sits in the head
    data = html.split('<script id="bundle-info-data" type="application/json">')[1].split("</script>")[0]
    assert "geometry" not in json.loads(data)


def test_without_sentences_the_page_has_no_geometry(tiny_bundle: Path) -> None:
    assert not (tiny_bundle / GEOMETRY_JSON).exists()
    html = (tiny_bundle / PAGE_HTML).read_text(encoding="utf-8")
    assert "layer-geometry" not in html


def test_trajectories_need_sentences(tiny_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(previous)
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), "--trajectories"], capsys, 2)
    message = "error: --trajectories needs --sentences (the paths run through the layers of the sentences' tokens)"
    assert err.splitlines() == [message]
    assert snapshot(previous) == before and leftovers(previous) == []


def test_layer_all_needs_sentences(tiny_model: Path, previous: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_failing(["bundle", "--model", str(tiny_model), "--out", str(previous), "--layer", "all"], capsys, 2)
    assert err.splitlines() == ["error: --layer needs --sentences (layers are read from running the model)"]


@pytest.mark.parametrize("text", ["al", "all,1", "1,x"])
def test_bad_layer_text(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", "--layer", text])
    assert exit_info.value.code == 2
    expected = f"argument --layer: expected layer numbers such as 6 or 3,6, or all, got {text!r}"
    assert capsys.readouterr().err.splitlines()[-1].endswith(expected)


def test_write_metadata_keeps_link_cells_raw(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv"
    write_metadata(path, ("Token", SEQ_NEXT), [["", "1"], ["a\tb", ""]])
    # Other cells are still escaped; the link cells are not, so the empty one stays empty.
    assert path.read_bytes() == f"Token\t{SEQ_NEXT}\n[empty]\t1\na\u2409b\t\n".encode()
