"""The vectors TSV's number text: exact the way the browser parses it, and short."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import ROOT, every_kind_of_float32, read_tensor_tsv, unwritable_home

from projector_bundle.output import tsvfloat
from projector_bundle.output.writers import format_rows_python, format_tsv_chunks, write_tensor_tsv
from projector_bundle.projector.formats import DEFAULT_FILES

AARCH64_CC = "aarch64-linux-gnu-gcc"
ELF_MACHINE_AARCH64 = 183  # e_machine of an ELF file built for AArch64


def browser_parse(text: str) -> np.ndarray:
    """What the projector does per cell: Number() (decimal -> nearest float64), then Float32Array."""
    return np.array([float(cell) for cell in text.split()], dtype=np.float64).astype(np.float32)


def assert_same_float32(parsed: np.ndarray, expected: np.ndarray) -> None:
    expected = expected.ravel()
    nan = np.isnan(expected)
    assert np.isnan(parsed[nan]).all()
    np.testing.assert_array_equal(parsed[~nan].view(np.uint32), expected[~nan].view(np.uint32))


@pytest.fixture(scope="module")
def compiled() -> None:
    assert tsvfloat.load_library() is not None, "cc could not build projector_bundle/tsvfloat.c"


def test_c_formatter_is_exact_for_every_kind_of_float32(compiled: None) -> None:
    matrix = every_kind_of_float32()
    text = bytes(tsvfloat.format_rows(matrix)).decode("ascii")
    assert_same_float32(browser_parse(text), matrix)


def test_python_fallback_is_exact_for_every_kind_of_float32() -> None:
    matrix = every_kind_of_float32(20_000, seed=1)
    assert_same_float32(browser_parse(format_rows_python(matrix).decode("ascii")), matrix)


def test_non_finite_values_use_javascript_spellings(compiled: None) -> None:
    row = np.array([[np.nan, np.inf, -np.inf, -0.0, 0.0]], dtype=np.float32)
    expected = "NaN\tInfinity\t-Infinity\t-0\t0\n"
    assert bytes(tsvfloat.format_rows(row)).decode() == expected
    assert format_rows_python(row).decode() == "NaN\tInfinity\t-Infinity\t-0\t0\n"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0123, ".0123"), (-0.0123, "-.0123"), (0.5, ".5"), (1.0, "1"), (123.25, "123.25"), (1e10, "1e10"),
     (1e-7, "1e-7"), (-8.908266e-5, "-8.908266e-5"), (16777217.0, "16777216"), (3.4028235e38, "3.4028235e+38")],
)  # fmt: skip
def test_values_are_written_in_their_shortest_form(compiled: None, value: float, text: str) -> None:
    assert bytes(tsvfloat.format_rows(np.array([[value]], dtype=np.float32))).decode() == text + "\n"


def test_never_longer_than_the_shortest_round_trip_digits(compiled: None) -> None:
    # numpy's Dragon4 (`unique=True`) gives the shortest digits that identify a float32.
    matrix = (np.random.default_rng(2).standard_normal((50, 400)) * 0.02).astype(np.float32)
    ours = bytes(tsvfloat.format_rows(matrix)).decode().split()
    for value, cell in zip(matrix.ravel(), ours, strict=True):
        positional = np.format_float_positional(value, unique=True, trim="-").replace("0.", ".", 1)
        scientific = np.format_float_scientific(value, unique=True, trim="-")
        assert len(cell) <= min(len(positional), len(scientific)), (value, cell, positional)


def test_the_baseline_path_writes_the_same_text(compiled: None) -> None:
    # On CPUs with AVX-512 the formatter plans eight values at a time; the plain path must agree.
    lib = tsvfloat.load_library()
    baseline = lib.tsvfloat_format_rows_baseline
    baseline.argtypes, baseline.restype = lib.tsvfloat_format_rows.argtypes, ctypes.c_size_t
    rng = np.random.default_rng(5)
    weights = np.concatenate(
        [rng.standard_normal(100_000) * 0.02, rng.choice([-1, 1], 100_000) * 10 ** rng.uniform(-16, 8, 100_000)]
    )
    matrix = np.concatenate([every_kind_of_float32(100_000, seed=5).ravel(), weights.astype(np.float32)])
    matrix = matrix[: len(matrix) // 7 * 7].reshape(-1, 7)  # 8-value groups that span rows
    out = np.empty(tsvfloat.buffer_bytes(matrix.size), dtype=np.uint8)
    size = baseline(matrix.ctypes.data, *matrix.shape, out.ctypes.data)
    assert bytes(tsvfloat.format_rows(matrix)) == out[:size].tobytes()


def test_rows_and_separators(compiled: None) -> None:
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    assert bytes(tsvfloat.format_rows(matrix)).decode() == "0\t.25\t.5\n.75\t1\t1.25\n"


def test_chunks_cover_every_row_in_order(compiled: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("projector_bundle.output.writers.TSV_CHUNK_VALUES", 40)  # 5 rows of 8 per chunk, many chunks
    matrix = (np.random.default_rng(3).standard_normal((103, 8)) * 0.02).astype(np.float32)
    assert [rows for rows, _ in format_tsv_chunks(matrix)] == [5] * 20 + [3]
    seen: list[int] = []
    write_tensor_tsv(tmp_path / "v.tsv", matrix, progress=seen.append)
    assert sum(seen) == 103
    np.testing.assert_array_equal(read_tensor_tsv(tmp_path / "v.tsv"), matrix)


def test_without_a_compiler_the_writer_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tsvfloat.build.cache_clear()
    try:
        assert tsvfloat.load_library() is None
        assert tsvfloat.format_rows(np.zeros((1, 1), dtype=np.float32)) is None
        matrix = every_kind_of_float32(500, seed=4)
        write_tensor_tsv(tmp_path / "v.tsv", matrix)
        assert_same_float32(browser_parse((tmp_path / "v.tsv").read_text()), matrix)
        assert not list((tmp_path / "cache").rglob("*.so"))
    finally:
        tsvfloat.build.cache_clear()


# --- where the formatter is built: a read-only home, no compiler, another architecture ---


def test_a_read_only_home_builds_the_formatter_in_a_private_folder(
    compiled: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    matrix = every_kind_of_float32(2_000, seed=6)
    expected = bytes(tsvfloat.format_rows(matrix))
    with unwritable_home(tmp_path / "home") as home:
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        tsvfloat.build.cache_clear()
        try:
            assert tsvfloat.cache_dir() == home / ".cache" / "projector_bundle"
            assert tsvfloat.build_problem() is None
            assert bytes(tsvfloat.format_rows(matrix)) == expected
            assert not (home / ".cache").exists()
        finally:
            tsvfloat.build.cache_clear()


def test_a_library_that_cannot_be_loaded_is_rebuilt_elsewhere(
    compiled: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A cut-short (or foreign) file under the cache's name is not loaded."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    broken = tmp_path / "projector_bundle" / tsvfloat.library_name("cc")
    broken.parent.mkdir()
    broken.write_bytes(b"\x7fELF cut short")
    monkeypatch.delenv("CC", raising=False)
    tsvfloat.build.cache_clear()
    try:
        assert tsvfloat.build_problem() is None
        assert bytes(tsvfloat.format_rows(np.array([[0.5, 1e-7]], dtype=np.float32))) == b".5\t1e-7\n"
    finally:
        tsvfloat.build.cache_clear()


def export_with(env: dict[str, str], model: Path, out: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "export.py"), "bundle", "--model", str(model), "--out", str(out)]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def test_a_read_only_home_and_no_compiler_still_export(tiny_model: Path, tiny_bundle: Path, tmp_path: Path) -> None:
    """The bundle step end to end: with a read-only home the same bytes; without `cc` on PATH
    the same values in Python's longer text, and one progress line that says so."""
    tsv = DEFAULT_FILES.tsv
    with unwritable_home(tmp_path / "home") as home:
        env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "CC")}
        env |= {"HOME": str(home), "HF_HUB_OFFLINE": "1"}
        built = export_with(env, tiny_model, tmp_path / "built")
        assert built.returncode == 0, built.stderr
        assert (tmp_path / "built" / tsv).read_bytes() == (tiny_bundle / tsv).read_bytes()
        assert "in Python" not in built.stderr

        fallback = export_with(env | {"PATH": str(tmp_path / "no-bin")}, tiny_model, tmp_path / "fallback")
        assert fallback.returncode == 0, fallback.stderr
        notices = [line for line in fallback.stderr.splitlines() if "in Python" in line]
        assert notices == [
            "export: formatting the vectors TSV in Python (the same values, longer text, slower): "
            "no C compiler (cc is not on PATH; set CC to use another)"
        ]
        text = (tmp_path / "fallback" / tsv).read_bytes()
        assert text != (tiny_bundle / tsv).read_bytes()  # %.9g: longer
        np.testing.assert_array_equal(read_tensor_tsv(tmp_path / "fallback" / tsv), read_tensor_tsv(tiny_bundle / tsv))
        assert not (home / ".cache").exists()


def test_the_baseline_road_builds_for_aarch64(tmp_path: Path) -> None:
    """tsvfloat.c with the runtime flags and a cross compiler (`make cross` installs it): the x86
    intrinsics and the AVX-512 road must compile out, leaving an AArch64 shared library."""
    compiler = shutil.which(AARCH64_CC)
    assert compiler is not None, f"{AARCH64_CC} is missing: run `make cross` (apt-get install gcc-aarch64-linux-gnu)"
    library = tmp_path / "tsvfloat-aarch64.so"
    subprocess.run([compiler, *tsvfloat.CFLAGS, "-Wall", "-Werror", "-o", str(library), str(tsvfloat.SOURCE), "-lm"],
                   check=True, capture_output=True)  # fmt: skip
    header = library.read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == ELF_MACHINE_AARCH64
