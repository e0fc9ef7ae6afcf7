"""Write a bundle: every file into a staging folder beside the target, checked, then swapped in,
so a failed run leaves the last good bundle as it was."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from projector_bundle import ExportError
from projector_bundle.output.manifest import Provenance, TensorEntry, WrittenFile, build_manifest, hash_files
from projector_bundle.output.publish import build_remote_config
from projector_bundle.output.swap import check_target, staging_folder, swap_in
from projector_bundle.output.writers import (
    EXACT,
    TsvDigits,
    write_chunks,
    write_json,
    write_metadata,
    write_tensor_bytes,
    write_tensor_tsv,
)
from projector_bundle.points.tensors import Tensor
from projector_bundle.progress import ProgressBar, no_bar
from projector_bundle.projector.formats import CONFIG_JSON, MANIFEST_JSON, PAGE_HTML, REMOTE_CONFIG_JSON
from projector_bundle.projector.page import copy_projector
from projector_bundle.projector.schema import build_config
from projector_bundle.projector.validate import ERROR, Problem, validate_bundle


@dataclass(frozen=True)
class WrittenBundle:
    """What `write_bundle` left at the target: each file's size, and the validator's warnings."""

    sizes: dict[str, int]
    warnings: list[Problem]


def write_bundle(
    out: Path,
    tensors: Sequence[Tensor],
    page_html: str,
    provenance: Provenance,
    *,
    tsv: TsvDigits | None = EXACT,
    base_url: str | None = None,
    force: bool = False,
    progress: ProgressBar = no_bar,
    extra_json: Mapping[str, object] | None = None,
    reduced: Mapping[str, Mapping[str, object]] | None = None,
) -> WrittenBundle:
    """Write every file of the bundle into a fresh folder, validate it, then swap it in for `out`.

    `tsv` is how the vectors TSVs are written (EXACT, N significant digits), None for none;
    a `base_url` adds the config with absolute URLs;
    `extra_json` maps more file names to the values to write there as JSON (e.g. layer_geometry.json);
    `reduced` maps a tensor name to how its vectors were cut (`--sample`, `--dims`), for the manifest.
    The validator's errors abort the export before the swap.
    """
    check_target(out, force=force)  # again: the folder may have changed since the run began
    with staging_folder(out) as staging:
        try:
            files = write_files(staging, tensors, page_html, provenance, tsv=tsv,
                                base_url=base_url, progress=progress, extra_json=extra_json or {},
                                reduced=reduced or {})  # fmt: skip
            problems = validate_bundle(staging, reread=False, check_sizes=False)
            errors = [p for p in problems if p.severity == ERROR]
            if errors:
                more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
                raise ExportError(
                    f"--out {out}: the new bundle is invalid, {out} was left as it was: {errors[0].message}{more}"
                )
            swap_in(staging, out, force=force)
        except OSError as exc:
            raise ExportError(f"--out {out}: writing the bundle failed: {exc.strerror or exc}") from None
    sizes = {name: file.size for name, file in files.items()}
    return WrittenBundle(sizes, [p for p in problems if p.severity != ERROR])


def write_files(
    folder: Path,
    tensors: Sequence[Tensor],
    page_html: str,
    provenance: Provenance,
    *,
    tsv: TsvDigits | None,
    base_url: str | None,
    progress: ProgressBar,
    extra_json: Mapping[str, object],
    reduced: Mapping[str, Mapping[str, object]],
) -> dict[str, WrittenFile]:
    """The bundle's files: per tensor vectors, metadata and bookmarks; the configs, the page,
    the projector, and last the manifest of them all. Returns each file's size and hash,
    taken as it was written (only the copied projector files are read back)."""
    written: dict[str, WrittenFile] = {}
    for t in tensors:
        written[t.files.bytes] = write_tensor_bytes(folder / t.files.bytes, t.matrix)
        if tsv is not None:
            with progress(f"writing {t.files.tsv}", t.matrix.shape[0]) as advance:
                written[t.files.tsv] = write_tensor_tsv(folder / t.files.tsv, t.matrix, advance, digits=tsv)
        if t.files.metadata not in written:  # a light first view shares the full tensor's rows
            written[t.files.metadata] = write_metadata(folder / t.files.metadata, t.header, t.rows)
        if t.bookmarks:
            written[t.files.bookmarks] = write_json(folder / t.files.bookmarks, list(t.bookmarks), indent=False)
        if t.sprite is not None:
            name = t.files.sprite(t.sprite.suffix)
            written[name] = write_chunks(folder / name, [t.sprite.data])
    embeddings = [t.embedding_info() for t in tensors]
    written[CONFIG_JSON] = write_json(folder / CONFIG_JSON, build_config(embeddings))
    if base_url is not None:
        written[REMOTE_CONFIG_JSON] = write_json(folder / REMOTE_CONFIG_JSON, build_remote_config(embeddings, base_url))
    copy_projector(folder)
    written[PAGE_HTML] = write_chunks(folder / PAGE_HTML, [page_html.encode("utf-8")])
    for name, value in extra_json.items():
        written[name] = write_json(folder / name, value)
    files = hash_files(folder, written)
    entries = [manifest_entry(t, tsv is not None, reduced.get(t.name, {})) for t in tensors]
    files[MANIFEST_JSON] = write_json(folder / MANIFEST_JSON, build_manifest(provenance, entries, files))
    return files


def manifest_entry(tensor: Tensor, tsv: bool, reduced: Mapping[str, object]) -> TensorEntry:
    rows, dim = tensor.matrix.shape
    sprite = None if tensor.sprite is None else tensor.sprite.suffix
    files = tensor.files.roles(tsv=tsv, bookmarks=bool(tensor.bookmarks), sprite=sprite)
    return TensorEntry(name=tensor.name, shape=(rows, dim), columns=tuple(tensor.header), files=files, reduced=reduced)
