"""Each rule between options is checked once, in the library: the same message and exit 2
through export.py as the UsageError `build_bundle` raises, and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import run_failing

from projector_bundle import UsageError
from projector_bundle.pipeline import BundleOptions, build_bundle

SENTENCE_TOKENS = "it picks points among the sentences' tokens"
CASES = [
    (["--layer", "1"], {"layers": (1,)}, "--layer needs --sentences (layers are read from running the model)"),
    (["--trajectories"], {"trajectories": True},
     "--trajectories needs --sentences (the paths run through the layers of the sentences' tokens)"),
    (["--words", "bank"], {"words": ("bank",)}, f"--words needs --sentences ({SENTENCE_TOKENS})"),
    (["--max-points", "5"], {"max_points": 5}, f"--max-points needs --sentences ({SENTENCE_TOKENS})"),
    (["--keep-special"], {"keep_special": True},
     "--keep-special needs --sentences (it keeps the [CLS]/[SEP] points of the sentences' tokens)"),
    (["--first-view", "light", "--projections", "none"], {"first_view": True, "projections": ()},
     "--first-view light: needs the PCA bookmark (--projections pca)"),
    (["--neighbors", "101"], {"neighbors": 101}, "--neighbors 101: expected at most 100, got 101"),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "options", "message"), CASES)
def test_a_usage_mistake_reads_the_same_from_the_cli_and_the_library(
    flags: list[str], options: dict[str, object], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    assert run_failing(["bundle", "--out", str(out), *flags], capsys, 2) == f"error: {message}\n"
    with pytest.raises(UsageError) as info:
        build_bundle(BundleOptions(out=out, **options))  # type: ignore[arg-type]
    assert str(info.value) == message
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_unknown_tensor_kind_is_a_usage_mistake(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        build_bundle(BundleOptions(out=tmp_path / "site", tensors=("word", "layers")))
    assert str(info.value) == "--tensors layers: unknown; choose from word, position, type"


def test_the_same_flags_with_sentences_pass_the_check(tiny_model: Path, tmp_path: Path) -> None:
    """The rule is about --sentences alone: with it, the same options build a bundle."""
    sentences = tmp_path / "s.txt"
    sentences.write_text("the river bank\n", encoding="utf-8")
    options = BundleOptions(
        out=tmp_path / "site",
        models=(str(tiny_model),),
        sentences=str(sentences),
        layers=(1,),
        trajectories=True,
        words=("bank",),
        max_points=5,
        keep_special=True,
    )
    result = build_bundle(options)
    assert [name for name, _, _ in result.tensors][-1] == "tiny-bert/contextual_paths"


def test_verbosity_travels_with_the_options(tiny_model: Path, tmp_path: Path) -> None:
    """--verbose is an option of each run, not a setting an earlier run leaves behind."""
    from transformers.utils import logging

    loaded = {"models": (str(tiny_model),), "tensors": ("position",)}  # a table read through transformers
    build_bundle(BundleOptions(out=tmp_path / "loud", verbose=True, **loaded))  # type: ignore[arg-type]
    assert logging.get_verbosity() == logging.WARNING
    build_bundle(BundleOptions(out=tmp_path / "quiet", **loaded))  # type: ignore[arg-type]
    assert logging.get_verbosity() == logging.ERROR


def test_warnings_go_to_the_one_callback(tiny_model: Path, tmp_path: Path) -> None:
    warnings: list[str] = []
    build_bundle(BundleOptions(out=tmp_path / "site", models=(str(tiny_model),), limit=1000), warn=warnings.append)
    assert warnings == ["--limit 1,000 is more than the 24 vocabulary rows; exporting all of them"]
