"""The paths tensor: one point per occurrence per layer, `__seq_next__` links checked point by
point and followed the way the projector follows them; `--layer all`."""

from __future__ import annotations

import numpy as np
import pytest

from projector_bundle import ExportError
from projector_bundle.context.contextual import Occurrence
from projector_bundle.context.layers import expand_layers, parse_layer_text
from projector_bundle.context.trajectories import (
    PATHS_HEADER,
    SEQ_NEXT,
    build_paths,
    path_links,
)
from projector_bundle.points.tensors import TensorData

OCCURRENCES = [Occurrence("the", 1, 1), Occurrence("bank", 1, 2), Occurrence("bank", 2, 3)]
LAYERS = (0, 2, 5)


def layer_matrices(layers: tuple[int, ...] = LAYERS, n: int = len(OCCURRENCES), dim: int = 4) -> dict[int, np.ndarray]:
    """Each layer's rows distinct and recognisable: value = 100 * layer + occurrence."""
    return {
        layer: np.full((n, dim), 0, np.float32) + (100 * layer + np.arange(n, dtype=np.float32))[:, None]
        for layer in layers
    }


def projector_sequences(next_cells: list[str]) -> list[list[int]]:
    """`DataSet.computeSequences` of vz_projector/data.ts, re-implemented: an empty cell (null
    after parsing) ends a path; each unseen point with a link starts one and follows it."""
    nexts = [None if cell == "" else int(cell) for cell in next_cells]
    seen = [False] * len(nexts)
    owner: dict[int, list[int]] = {}
    sequences: list[list[int]] = []
    for i, following in enumerate(nexts):
        if seen[i]:
            continue
        seen[i] = True
        if following is None:
            continue
        if following in owner:
            owner[following].insert(0, i)
            owner[i] = owner[following]
            continue
        sequence: list[int] = []
        owner[i] = sequence
        sequences.append(sequence)
        current: int | None = i
        while current is not None and 0 <= current < len(nexts):
            sequence.append(current)
            current = nexts[current]
            if current is not None:
                seen[current] = True
    return sequences


def test_each_point_links_to_the_same_occurrence_at_the_next_layer() -> None:
    name, matrix, header, rows = build_paths("tiny", layer_matrices(), OCCURRENCES)
    assert name == "tiny/contextual_paths"
    assert header == PATHS_HEADER == ("Token", "Sentence #", "Position", "Layer", "__seq_next__")
    assert matrix.shape == (9, 4) and matrix.dtype == np.float32
    link = header.index(SEQ_NEXT)
    for index, row in enumerate(rows):
        token, sentence, position, layer = row[:4]
        # The vector is that layer's row of this occurrence.
        occurrence = next(
            i
            for i, o in enumerate(OCCURRENCES)
            if (o.token, str(o.sentence), str(o.position)) == (token, sentence, position)
        )
        assert matrix[index, 0] == 100 * int(layer) + occurrence
        if layer == str(LAYERS[-1]):
            assert row[link] == ""
            continue
        target = rows[int(row[link])]
        assert target[:3] == row[:3]  # the same token, sentence and position
        assert target[3] == str(LAYERS[LAYERS.index(int(layer)) + 1])  # at the next selected layer


def test_rows_are_layer_major_and_spelled_out() -> None:
    _, _, _, rows = build_paths("m", layer_matrices(), OCCURRENCES)
    assert rows == [
        ["the", "1", "1", "0", "3"], ["bank", "1", "2", "0", "4"], ["bank", "2", "3", "0", "5"],
        ["the", "1", "1", "2", "6"], ["bank", "1", "2", "2", "7"], ["bank", "2", "3", "2", "8"],
        ["the", "1", "1", "5", ""], ["bank", "1", "2", "5", ""], ["bank", "2", "3", "5", ""],
    ]  # fmt: skip


def test_the_projector_finds_one_whole_path_per_occurrence() -> None:
    _, _, header, rows = build_paths("m", layer_matrices(), OCCURRENCES)
    sequences = projector_sequences([row[header.index(SEQ_NEXT)] for row in rows])
    assert sequences == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]


def test_layers_keep_the_order_given() -> None:
    _, matrix, _, rows = build_paths("m", layer_matrices((6, 1)), OCCURRENCES)
    assert [row[3] for row in rows] == ["6"] * 3 + ["1"] * 3
    assert matrix[0, 0] == 600 and matrix[3, 0] == 100


def test_one_layer_has_no_links() -> None:
    _, _, _, rows = build_paths("m", layer_matrices((3,)), OCCURRENCES)
    assert [row[-1] for row in rows] == ["", "", ""]
    assert projector_sequences([row[-1] for row in rows]) == []


def test_path_links() -> None:
    assert path_links(2, 3) == [2, 3, 4, 5, None, None]
    assert path_links(0, 4) == []


def test_it_is_tensor_data_field_for_field() -> None:
    paths = build_paths("m", layer_matrices(), OCCURRENCES)
    tensor = TensorData(*paths)
    assert (tensor.name, tensor.header, tensor.rows) == (paths.name, paths.header, paths.rows)
    assert tensor.matrix is paths.matrix


def test_a_layer_with_other_rows_is_refused() -> None:
    layers = layer_matrices() | {7: np.zeros((2, 4), np.float32)}
    with pytest.raises(ExportError) as info:
        build_paths("m", layers, OCCURRENCES)
    assert str(info.value) == "layer 7 has 2 rows but there are 3 token occurrences"


def test_no_layers_is_refused() -> None:
    with pytest.raises(ExportError) as info:
        build_paths("m", {}, OCCURRENCES)
    assert str(info.value) == "--trajectories needs at least one layer"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("all", ["all"]), (" ALL ", ["all"]), ("6", [6]), ("3,6", [3, 6]), ("0,", [0])],
)
def test_parse_layer_text(text: str, expected: list[int | str]) -> None:
    assert parse_layer_text(text) == expected


@pytest.mark.parametrize("text", ["al", "3,all", "x", ""])
def test_parse_layer_text_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_layer_text(text)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(["all"], [0, 1, 2, 3, 4, 5, 6]), ([6, "all"], [6, 0, 1, 2, 3, 4, 5, 6]), ([2, 4], [2, 4]), ([], [])],
)
def test_expand_layers(requested: list[int | str], expected: list[int]) -> None:
    assert expand_layers(requested, 6) == expected
