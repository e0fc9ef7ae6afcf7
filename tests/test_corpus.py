"""Corpora that stream: --words, pooled pieces, --max-points sampling and memory bounded by the points kept."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from families import build_gpt2
from support import leftovers, read_tensor_bytes, run_failing, snapshot

from projector_bundle import cli
from projector_bundle.context.contextual import READ_CHUNK, PointChoice, embed_corpus, model_batches
from projector_bundle.context.corpus import Reservoir
from projector_bundle.context.sentences import Sentence
from projector_bundle.projector.formats import CONFIG_JSON

LAYER1 = "tiny-bert/contextual_layer1"
# "Hellow" is one word of two pieces, hello ##w; "Bank," is "bank" for the uncased tiny BERT.
CORPUS = ["the river bank", "Hellow world and welcome", "welcome to nothing", "the Bank, the account", "banks"]


def entries_of(bundle: Path) -> dict[str, dict]:
    return {e["tensorName"]: e for e in json.loads((bundle / CONFIG_JSON).read_text())["embeddings"]}


def rows_of(bundle: Path, name: str) -> list[list[str]]:
    path = bundle / entries_of(bundle)[name]["metadataPath"]
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]


def matrix_of(bundle: Path, name: str) -> np.ndarray:
    entry = entries_of(bundle)[name]
    return read_tensor_bytes(bundle / entry["tensorPath"], entry["tensorShape"][1])


def export(model: Path, folder: Path, lines: list[str], *flags: str) -> Path:
    """`folder/site`, a bundle of `model` over `lines` (written to `folder/corpus.txt`) with `flags`."""
    folder.mkdir(exist_ok=True)
    corpus = folder / "corpus.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = folder / "site"
    args = ["bundle", "--model", str(model), "--out", str(out), "--sentences", str(corpus), "--tensors", "type"]
    assert cli.main([*args, "--projections", "none", "--quiet", *flags]) == 0
    return out


# --- --words ---


def test_words_keep_only_their_occurrences_with_the_word_first(tiny_model: Path, tmp_path: Path) -> None:
    out = export(tiny_model, tmp_path, CORPUS, "--words", "bank,Hellow")
    rows = rows_of(out, LAYER1)
    assert rows == [
        ["Word", "Token", "Sentence #", "Position", "Sentence", "Layer"],
        ["bank", "▁bank", "1", "3", "the river bank", "1"],
        ["hellow", "▁hello w", "2", "1", "Hellow world and welcome", "1"],  # both pieces, one point
        ["bank", "▁bank", "4", "2", "the Bank, the account", "1"],  # case folded, comma left out
    ]  # "banks" is another word


def test_a_word_of_several_pieces_is_the_mean_of_their_states(tiny_model: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    out = export(tiny_model, tmp_path, CORPUS, "--words", "hellow,welcome", "--layer", "0,1")
    model, tokenizer = AutoModel.from_pretrained(tiny_model).eval(), AutoTokenizer.from_pretrained(tiny_model)
    encoded = tokenizer(CORPUS[1], return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])[1:3] == ["hello", "##w"]
    with torch.no_grad():
        states = model(**encoded, output_hidden_states=True).hidden_states
    for layer in (0, 1):
        alone = states[layer][0].numpy()
        matrix = matrix_of(out, f"tiny-bert/contextual_layer{layer}")
        # Rows: hellow and welcome of sentence 2, then welcome of sentence 3.
        np.testing.assert_allclose(matrix[0], alone[1:3].mean(axis=0), atol=1e-5)
        np.testing.assert_allclose(matrix[1], alone[5], atol=1e-5)  # [CLS] hello ##w world and welcome
        assert not np.allclose(matrix[0], alone[1], atol=1e-3)  # not the first piece alone
    assert [row[:2] for row in rows_of(out, "tiny-bert/contextual_layer0")[1:]] == [
        ["hellow", "▁hello w"],
        ["welcome", "▁welcome"],
        ["welcome", "▁welcome"],
    ]


def test_a_cased_tokenizer_matches_case_exactly(tmp_path: Path) -> None:
    model = build_gpt2(tmp_path / "gpt2")
    lines = ["the river bank", "the Bank account", "hello bank, world"]
    out = export(model, tmp_path, lines, "--words", "bank", "--tensors", "word")
    rows = rows_of(out, "gpt2/contextual_layer1")
    assert [(row[0], row[2]) for row in rows[1:]] == [("bank", "1"), ("bank", "3")]


def test_words_work_with_every_layer_the_paths_and_the_geometry(tiny_model: Path, tmp_path: Path) -> None:
    out = export(tiny_model, tmp_path, CORPUS, "--words", "bank,hellow", "--layer", "all", "--trajectories")
    paths = rows_of(out, "tiny-bert/contextual_paths")
    assert paths[0] == ["Word", "Token", "Sentence #", "Position", "Layer", "__seq_next__"]
    assert [row[0] for row in paths[1:]] == ["bank", "hellow", "bank"] * 2
    assert [row[-1] for row in paths[1:]] == ["3", "4", "5", "", "", ""]
    layers = json.loads((out / "layer_geometry.json").read_text())["models"][0]["layers"]
    # Words, not pieces, are grouped: "bank" occurs in two sentences, "hellow" in one.
    assert [(g["layer"], g["points"], g["sentences"], g["words"]) for g in layers] == [(0, 3, 3, 1), (1, 3, 3, 1)]


# --- --max-points ---

MANY = [f"the {word} {'of the ' * (n % 3)}{word}" for n in range(40) for word in ("bank", "river")]


def test_max_points_keeps_a_seeded_sample_per_word(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    first = export(tiny_model, tmp_path, MANY, "--words", "bank,river", "--max-points", "5")
    warnings = capsys.readouterr().err.splitlines()
    second = export(tiny_model, tmp_path / "again", MANY, "--words", "bank,river", "--max-points", "5")
    assert snapshot(first) == snapshot(second)  # the same run keeps the same points, byte for byte
    rows = rows_of(first, LAYER1)[1:]
    for word in ("bank", "river"):
        # Each sentence holds the word twice: 80 occurrences of each word, and 5 kept of each.
        kept = [(int(row[2]), int(row[3])) for row in rows if row[0] == word]
        assert len(kept) == 5
        assert kept == sorted(kept)  # in corpus order
        expected: Reservoir[tuple[int, int]] = Reservoir(5, seed=0)
        for number, line in enumerate(MANY, 1):
            if word in line.split():
                last = len(line.split())
                for position in (2, last):
                    expected.offer(word, (number, position))
        assert kept == expected.items(word)  # Algorithm R over the occurrences, seeded
        assert kept != expected_first(MANY, word)  # a sample, not the first five
    assert warnings == [
        "warning: --max-points 5: kept 5 of the 80 occurrences of 'bank' in a seeded uniform sample",
        "warning: --max-points 5: kept 5 of the 80 occurrences of 'river' in a seeded uniform sample",
    ]


def expected_first(lines: list[str], word: str) -> list[tuple[int, int]]:
    return [(n, p) for n, line in enumerate(lines, 1) if word in line.split() for p in (2, len(line.split()))][:5]


def test_max_points_without_words_samples_every_token(tiny_model: Path, tmp_path: Path, capsys) -> None:
    out = export(tiny_model, tmp_path, MANY, "--max-points", "7")
    assert len(rows_of(out, LAYER1)) == 1 + 7
    assert rows_of(out, LAYER1)[0][0] == "Token"
    total = sum(len(line.split()) for line in MANY)
    assert capsys.readouterr().err.splitlines() == [
        f"warning: --max-points 7: kept 7 of the {total:,} token occurrences in a seeded uniform sample"
    ]


def test_max_points_above_the_occurrences_keeps_them_all_without_a_warning(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = export(tiny_model, tmp_path, CORPUS, "--words", "bank", "--max-points", "10")
    assert len(rows_of(out, LAYER1)) == 1 + 2
    assert capsys.readouterr().err == ""


# --- memory is bounded by the points kept ---


def test_held_points_never_exceed_the_sample(tiny_model: Path) -> None:
    from transformers import AutoModel, AutoTokenizer

    model, tokenizer = AutoModel.from_pretrained(tiny_model), AutoTokenizer.from_pretrained(tiny_model)
    lines = ["the river bank", "welcome to the world", "the bank account of the river", "hello world"]
    pulled = 0

    def corpus(count: int) -> Iterator[Sentence]:
        nonlocal pulled
        for n in range(count):
            pulled += 1
            yield Sentence(n + 1, lines[n % len(lines)])

    sample: Reservoir = Reservoir(3, seed=0)
    held, ahead = [], []
    read = 0

    def advance(done: int) -> None:
        nonlocal read
        read += done
        held.append(sample.held())
        ahead.append(pulled - read)

    sentences = 20 * READ_CHUNK
    choice = PointChoice(words=("bank", "river"), max_points=3)
    context = embed_corpus(model, tokenizer, corpus(sentences), [1], choice, advance=advance, sample=sample)
    assert read == pulled == sentences
    assert max(held) == 6  # 3 per word, at every step: dropped points are let go at once
    assert max(ahead) == 0  # read one chunk at a time, never the whole corpus
    assert len(context.occurrences) == context.layers[1].shape[0] == 6
    assert context.counts.seen == {"bank": 10 * READ_CHUNK, "river": 10 * READ_CHUNK}
    # The model ran only where a point was kept when it was read: a few dozen, not 2,560.
    assert context.counts.tokenized == sentences // 2
    assert context.counts.embedded < 100
    # Only the kept points' sentences are held, shortened.
    assert set(context.sentences) == {o.sentence for o in context.occurrences}


def test_model_batches_are_bounded_by_sentences_and_tokens() -> None:
    assert model_batches([5] * 5, 2, 100) == [[0, 1], [2, 3], [4]]
    assert model_batches([10, 10, 30, 10], 32, 90) == [[0, 1, 2], [3]]  # padded to 30: 4 x 30 is 120
    assert model_batches([10, 10, 30, 10], 32, 60) == [[0, 1], [2, 3]]
    assert model_batches([10, 10, 30, 10], 32, 59) == [[0, 1], [2], [3]]
    assert model_batches([200, 1], 32, 100) == [[0], [1]]  # too long for any batch: alone
    assert model_batches([], 32, 100) == []


# --- several models read the corpus again; standard input is held for them ---


@pytest.mark.parametrize("stdin", [True, False])
def test_two_models_over_one_corpus(
    stdin: bool, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support import save_tiny_bert

    other = save_tiny_bert(tmp_path / "other" / "tiny-bert", seed=1)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(corpus.read_bytes())))
    out = tmp_path / "site"
    source = "-" if stdin else str(corpus)
    args = ["bundle", "--model", str(tiny_model), "--model", str(other), "--out", str(out), "--sentences", source]
    assert cli.main([*args, "--words", "bank", "--tensors", "type", "--projections", "none", "--quiet"]) == 0
    for name in (LAYER1, "tiny-bert-2/contextual_layer1"):
        assert [row[2] for row in rows_of(out, name)[1:]] == ["1", "4"]


# --- messages ---


def test_long_sentences_are_counted_as_they_stream(tiny_model: Path, tmp_path: Path, capsys) -> None:
    long = " ".join(itertools.repeat("the bank", 20))  # 40 words, the tiny model takes 32 tokens
    corpus = tmp_path / "corpus.txt"
    export(tiny_model, tmp_path, ["the river", long, "hello", long])
    assert capsys.readouterr().err.splitlines() == [
        f"warning: --sentences {corpus}: 2 of 4 sentences are longer than the model's 32 tokens "
        "and are cut to it (lines 2, 4)"
    ]


def test_a_word_found_nowhere_is_a_warning_and_no_word_found_an_error(
    tiny_model: Path, tmp_path: Path, previous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(tiny_model, tmp_path, CORPUS, "--words", "bank,café,into")
    corpus = tmp_path / "corpus.txt"
    assert capsys.readouterr().err.splitlines() == [
        f"warning: --words: 'café', 'into' occur nowhere in --sentences {corpus}"
    ]
    before = snapshot(previous)
    args = ["bundle", "--model", str(tiny_model), "--out", str(previous), "--sentences", str(corpus)]
    err = run_failing([*args, "--words", "café,into"], capsys)
    assert err.splitlines()[-1] == f"error: --words café,into: none occurs in the 5 sentences of {corpus}"
    assert snapshot(previous) == before
    assert leftovers(previous) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sentences", "s.txt", "--max-points", "0"], "argument --max-points: expected a positive integer, got 0"),
        (["--sentences", "s.txt", "--max-points", "-3"], "argument --max-points: expected a positive integer, got -3"),
        (["--sentences", "s", "--words", ","], "--words: expected words separated by commas, with no empty word"),
        (["--sentences", "s", "--words", "a b"], "argument --words: 'a b' holds a space; a point is one word"),
    ],
)  # fmt: skip
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bundle", *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].endswith(message)
    assert sum("error:" in line for line in err) == 1


def test_binary_input_fails_before_the_model_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A model folder that does not exist is never reached: the corpus is checked first.
    args = ["bundle", "--model", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site"), "--sentences", "/dev/zero"]
    err = run_failing([*args, "--words", "bank"], capsys)
    assert err.splitlines() == ["error: --sentences /dev/zero: not text (a NUL byte at offset 0); expected UTF-8 text"]


def test_a_model_that_fails_on_the_sentences_is_one_error_line(
    tmp_path: Path, previous: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A tokenizer with more ids than its model's table (a mismatched pair): the model's
    IndexError becomes one line naming the lines it was reading, and the bundle stays."""
    import torch
    from support import TINY_VOCAB, save_tiny_bert
    from transformers import BertConfig, BertModel

    model = save_tiny_bert(tmp_path / "model")
    torch.manual_seed(0)
    small = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=16, max_position_embeddings=32)  # fmt: skip
    BertModel(small).save_pretrained(model)  # the tokenizer still has 24 tokens
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(f"{TINY_VOCAB[-1]} {TINY_VOCAB[-2]}\n", encoding="utf-8")
    before = snapshot(previous)
    args = ["bundle", "--model", str(model), "--out", str(previous), "--sentences", str(corpus), "--tensors", "type"]
    err = run_failing(args, capsys)
    assert err.splitlines()[-1].startswith("error: --sentences: the model failed on lines 1-1: index out of range")
    assert snapshot(previous) == before
    assert leftovers(previous) == []
