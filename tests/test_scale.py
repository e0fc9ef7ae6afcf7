"""Large inputs: word matching and reservoir sampling for corpora, and page-size advice."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projector_bundle import ExportError
from projector_bundle.context.contextual import pool_states
from projector_bundle.context.corpus import (
    Reservoir,
    WordMatch,
    match_words,
    mentions_any,
    parse_words,
)
from projector_bundle.points.reductions import (
    LIMIT_HELP,
    MAX_PAGE_POINTS,
    PlannedFile,
    check_sample,
    sample_rows,
    size_advice,
)

MB = 1_000_000


# --- --words ---


def test_parse_words() -> None:
    assert parse_words("bank, river,bank") == ("bank", "river")
    for text, why in [("bank,,river", "with no empty word"), ("", "with no empty word")]:
        with pytest.raises(ExportError, match=why):
            parse_words(text)
    with pytest.raises(ExportError) as info:
        parse_words("river bank")
    assert str(info.value) == "--words 'river bank': 'river bank' holds a space; a point is one word"


def test_words_are_matched_whole_across_their_pieces_by_a_real_tokenizer(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    assert tokenizer.is_fast
    sentence = "The banks, the Bank and banking: Hellow world."
    encoded = tokenizer(sentence, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    lowercase = tokenizer.do_lower_case
    found = match_words(sentence, encoded.word_ids(), encoded["offset_mapping"], ["banks", "Bank", "hellow"],
                        lowercase=lowercase)  # fmt: skip
    assert [(m.word, [tokens[p] for p in m.positions]) for m in found] == [
        ("banks", ["bank", "##s"]),
        ("bank", ["bank"]),
        ("hellow", ["hello", "##w"]),
    ]
    # "banking" is another word, not an occurrence of "bank".
    found = match_words(sentence, encoded.word_ids(), encoded["offset_mapping"], ["bank"], lowercase=lowercase)
    assert [m.positions for m in found] == [(6,)]  # [CLS] the bank ##s , the bank


def test_a_sentencepiece_style_word_keeps_its_punctuation_out() -> None:
    # A tokenizer that splits only on spaces: "bank," is one word of pieces "▁bank" and ",".
    sentence = "a bank, here"
    word_ids = [None, 0, 1, 1, 2, None]
    offsets = [(0, 0), (0, 1), (2, 6), (6, 7), (8, 12), (0, 0)]
    assert match_words(sentence, word_ids, offsets, ["bank"], lowercase=False) == [WordMatch("bank", (2,))]
    assert match_words(sentence, word_ids, offsets, ["Bank"], lowercase=False) == []


def test_mentions_any_and_pooling() -> None:
    assert mentions_any("The BANK.", ["bank"], lowercase=True)
    assert not mentions_any("The BANK.", ["bank"], lowercase=False)
    import torch

    states = torch.arange(24, dtype=torch.float32).reshape(2, 4, 3)  # 2 rows of 4 positions, layer 0
    pooled = pool_states([states, states + 100], [1], [(0, (1, 2)), (1, (3,))])
    np.testing.assert_array_equal(pooled, [[[104.5, 105.5, 106.5]], [[121, 122, 123]]])
    assert pooled.dtype == np.float32


# --- --max-points ---


def test_max_points_zero_is_refused() -> None:
    with pytest.raises(ExportError) as info:
        Reservoir(0)
    assert str(info.value) == "--max-points 0: expected 1 or more"


@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 20), n=st.integers(0, 200), seed=st.integers(0, 10))
def test_a_reservoir_keeps_min_k_n_items_in_arrival_order(k: int, n: int, seed: int) -> None:
    reservoir: Reservoir[int] = Reservoir(k, seed)
    kept = [reservoir.offer("w", i) for i in range(n)]
    items = reservoir.items("w")
    assert len(items) == min(k, n)
    assert items == sorted(items)
    assert len(set(items)) == len(items)
    assert all(kept[i] for i in items)  # an item kept at the end was kept when offered
    assert reservoir.seen("w") == n
    again: Reservoir[int] = Reservoir(k, seed)
    for i in range(n):
        again.offer("w", i)
    assert again.items("w") == items


def test_a_reservoir_is_uniform() -> None:
    """Each of 20 items should be kept in 5 of 20 slots: 25% of 4,000 seeded runs."""
    counts = collections.Counter()
    for seed in range(4000):
        reservoir: Reservoir[int] = Reservoir(5, seed)
        for i in range(20):
            reservoir.offer(None, i)
        counts.update(reservoir.items())
    frequencies = np.array([counts[i] / 4000 for i in range(20)])
    # Binomial standard deviation at p=0.25, n=4000 is 0.0068; 5 sigma stays clear of chance.
    assert np.abs(frequencies - 0.25).max() < 0.035


def test_per_word_reservoirs_do_not_depend_on_interleaving() -> None:
    one: Reservoir[int] = Reservoir(3, seed=1)
    two: Reservoir[int] = Reservoir(3, seed=1)
    for i in range(50):
        one.offer("bank", i)
    for i in range(50):
        two.offer("bank", i)
        two.offer("river", i)
    assert one.items("bank") == two.items("bank")
    assert sorted(two.keys()) == ["bank", "river"]


def test_tickets_let_the_model_run_only_for_kept_items() -> None:
    reservoir: Reservoir[str] = Reservoir(2, seed=0)
    tickets = [reservoir.slot("w") for _ in range(10)]
    kept = [t for t in tickets if t is not None]
    assert 2 <= len(kept) < 10
    for ticket in kept:  # a ticket displaced by a later one is silently dropped
        reservoir.put(ticket, f"item {ticket.arrival}")
    assert len(reservoir.items("w")) == 2
    unfilled: Reservoir[str] = Reservoir(2)
    unfilled.slot("w")
    with pytest.raises(ValueError, match="never put"):
        unfilled.items("w")


# --- --sample and page-size advice ---


def test_sample_rows_is_seeded_sorted_and_without_repeats() -> None:
    rows = sample_rows(250_002, 1000, seed=3)
    assert len(set(rows.tolist())) == 1000
    assert (np.diff(rows) > 0).all()
    np.testing.assert_array_equal(rows, sample_rows(250_002, 1000, seed=3))
    assert not np.array_equal(rows, sample_rows(250_002, 1000, seed=4))
    np.testing.assert_array_equal(sample_rows(5, 9), np.arange(5))
    with pytest.raises(ExportError, match=r"^--sample 0: expected 1 or more$"):
        check_sample(0, 10)
    with pytest.raises(ExportError, match=r"^--sample 10: the tensor has only 10 points; expected fewer, got 10$"):
        check_sample(10, 10)


def test_limit_help_says_what_the_first_rows_are() -> None:
    assert "BPE and SentencePiece" in LIMIT_HELP and "most frequent" in LIMIT_HELP


def xlmr_files(points: int = 250_002, dim: int = 768) -> list[PlannedFile]:
    return [
        PlannedFile("vectors.bytes", points * dim * 4, "bytes"),
        PlannedFile("vectors.tsv", points * dim * 10, "tsv"),
        PlannedFile("metadata.tsv", points * 40, "metadata"),
    ]


def test_a_page_that_is_fine_gets_no_advice() -> None:
    assert size_advice(30_522, 768, xlmr_files(30_522)[:1] + xlmr_files(30_522)[2:], 100 * MB) is None


def test_too_many_points_is_fixed_only_by_fewer_rows() -> None:
    advice = size_advice(250_002, 768, xlmr_files(), 100 * MB)
    assert advice is not None
    assert advice.reasons == (
        "250,002 points, more than the 100,000 a page stays responsive with",
        "vectors.bytes is 768.0 MB, over the 100.0 MB file limit",
        "vectors.tsv is 1,920.0 MB, over the 100.0 MB file limit",
    )
    # The TSV bounds the rows: 100 MB / 7,680 bytes a row = 13,020 rows, rounded down.
    assert advice.ways == ("--limit 13000 (the first rows)", "--sample 13000 (a seeded uniform sample)")
    assert advice.message("words").startswith("tensor words is too heavy for a page: 250,002 points")


def test_a_heavy_vectors_file_is_fixed_by_dims_or_by_the_tsv_options() -> None:
    files = xlmr_files(60_000)  # bytes 184 MB, TSV 461 MB, metadata 2.4 MB
    advice = size_advice(60_000, 768, files, 100 * MB)
    assert advice is not None
    assert advice.ways == (
        "--limit 13000 (the first rows)",
        "--sample 13000 (a seeded uniform sample)",
        "--dims 160 (an exact PCA; --neighbors still uses all 768 dimensions)",
    )
    no_tsv = size_advice(60_000, 768, [files[0]], 200 * MB)
    assert no_tsv is None
    assert size_advice(60_000, 768, files, 200 * MB).ways[2:] == (  # TSV 461 MB: no digits make it fit
        "--dims 330 (an exact PCA; --neighbors still uses all 768 dimensions)",
        "--no-tsv (the page reads the .bytes file)",
    )
    only_tsv = size_advice(30_000, 768, xlmr_files(30_000), 200 * MB)  # TSV 230 MB, 3 digits: 184 MB
    assert only_tsv is not None
    assert only_tsv.ways == (
        "--limit 26000 (the first rows)",
        "--sample 26000 (a seeded uniform sample)",
        "--dims 660 (an exact PCA; --neighbors still uses all 768 dimensions)",
        "--no-tsv (the page reads the .bytes file)",
        "--tsv-digits 3 (a shorter, inexact vectors TSV)",
    )


def test_a_heavy_metadata_file_is_fixed_only_by_fewer_rows() -> None:
    files = [PlannedFile("vectors.bytes", 10 * MB, "bytes"), PlannedFile("metadata.tsv", 300 * MB, "metadata")]
    advice = size_advice(50_000, 50, files, 100 * MB)
    assert advice is not None
    assert advice.ways == ("--limit 16000 (the first rows)", "--sample 16000 (a seeded uniform sample)")


@settings(max_examples=60, deadline=None)
@given(
    points=st.integers(2, 2_000_000),
    dim=st.integers(2, 4096),
    tsv_per_value=st.integers(3, 14),
    limit_mb=st.integers(1, 200),
)
def test_every_way_offered_actually_fixes_the_page(points: int, dim: int, tsv_per_value: int, limit_mb: int) -> None:
    limit = limit_mb * MB
    files = [
        PlannedFile("v.bytes", points * dim * 4, "bytes"),
        PlannedFile("v.tsv", points * dim * tsv_per_value, "tsv"),
        PlannedFile("m.tsv", points * 12, "metadata"),
    ]
    advice = size_advice(points, dim, files, limit)
    heavy = points > MAX_PAGE_POINTS or any(f.size > limit for f in files)
    assert (advice is None) == (not heavy)
    for way in advice.ways if advice else ():
        flag, value = way.split(" ")[:2]
        n = int(value) if value.isdigit() else None
        if flag in ("--limit", "--sample"):
            assert 1 <= n <= MAX_PAGE_POINTS and n < points
            assert all(f.size * n / points <= limit for f in files)
        elif flag == "--dims":
            assert 2 <= n < dim and points <= MAX_PAGE_POINTS
            assert all(f.size * n / dim <= limit for f in files if f.role != "metadata")
        elif flag == "--no-tsv":
            assert all(f.size <= limit for f in files if f.role != "tsv")
        else:
            assert flag == "--tsv-digits" and points * dim * (n + 5) <= limit
