#!/usr/bin/env python3
"""Export a transformers model's embeddings as a static TensorFlow Embedding Projector bundle.

    export.py bundle   [--model M ...] [--out DIR] [--limit N] [--labels KEY,...] [--tensors KIND,...]
                       [--sentences FILE] [--layer L,...] [--projections pca,umap|none] [--neighbors K]
                       [--base-url URL] [--no-tsv | --tsv-digits N] [--max-file-mb MB] [--force]
    export.py tokenize [--model M] TEXT
    export.py inspect  [--model M]
    export.py validate DIR

The bundle pipeline: resolve the models -> read the embedding matrices and vocabularies
(and run the models over --sentences) -> compute label columns -> write the bundle
files -> render the page.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from projector_bundle import ExportError, __version__
from projector_bundle.labels import DEFAULT_LABELS, LABEL_COLUMNS, select_columns
from projector_bundle.projections import PCA, PROJECTION_KINDS
from projector_bundle.publish import DEFAULT_MAX_FILE_MB, check_file_sizes, normalise_base_url, projector_link
from projector_bundle.tensors import TENSOR_KINDS, WORD
from projector_bundle.writers import EXACT_TSV_DIGITS

DEFAULT_OUT = Path("site")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args, sys.argv[1:] if argv is None else argv)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


def run_bundle(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.bundle import check_target, write_bundle
    from projector_bundle.model import resolve_model, show_progress_bars
    from projector_bundle.page import PageInfo, TensorSummary, projector_version
    from projector_bundle.sentences import read_sentences
    from projector_bundle.tensors import TensorRequest, add_neighbors, model_prefixes, plan_tensors, read_model_tensors

    log = Progress(quiet=args.quiet)
    show_progress_bars(log.bars)
    check_projections(args.projections)
    if args.layer and not args.sentences:
        raise ExportError(f"--layer {args.layer[0]}: needs --sentences (layers are read from running the model)")
    check_target(args.out, force=args.force)  # before loading a model that may be large
    request = TensorRequest(
        kinds=tuple(k for k in TENSOR_KINDS if k in args.tensors),
        limit=args.limit,
        labels=tuple(select_columns(args.labels)),
        sentences=tuple(read_sentences(args.sentences)) if args.sentences else (),
        sentences_source=args.sentences or "",
        layers=tuple(args.layer or ()),
        keep_special=args.keep_special,
    )

    log("resolving the model" + ("s" if len(args.model or ()) > 1 else ""))
    refs = [resolve_model(name) for name in args.model or [None]]

    # Read the matrices and vocabularies, and label them.
    data = []
    for ref, prefix in zip(refs, model_prefixes([r.name for r in refs]), strict=True):
        data += read_model_tensors(ref, prefix, request, log, warn)
    if args.neighbors:
        log(f"finding {args.neighbors} nearest neighbours of every point")
        data = [add_neighbors(t, args.neighbors, log.bar) for t in data]
    if args.projections:
        log(f"computing {', '.join(args.projections)} of every tensor")
    tensors = plan_tensors(data, args.projections)

    log(f"writing {args.out}")
    names = ", ".join(ref.name for ref in refs)
    page = PageInfo(
        title=f"{names} embeddings",
        model_name=names,
        tensors=tuple(TensorSummary(t.name, *t.matrix.shape) for t in tensors),
        tool_version=__version__,
        created=build_time(),
        command=shlex.join(["export.py", *argv]),
        projector_version=projector_version(),
        projector_link=None if args.base_url is None else projector_link(args.base_url),
    )
    problems = write_bundle(
        args.out,
        tensors,
        page,
        tsv=not args.no_tsv,
        tsv_digits=args.tsv_digits,
        base_url=args.base_url,
        model_revision=refs[0].revision if len(refs) == 1 else None,
        force=args.force,
        progress=log.bar,
    )
    for problem in problems:
        warn(problem.message)
    sizes = {p.name: p.stat().st_size for p in args.out.iterdir() if p.is_file()}
    oversize = check_file_sizes(sizes, args.max_file_mb, vector_tsvs={t.files.tsv for t in tensors})
    if oversize:
        warn(oversize)
    points = sum(t.matrix.shape[0] for t in tensors)
    log(f"done: {args.out}/ ({len(tensors)} tensor{'s' if len(tensors) > 1 else ''}, {points:,} points)")
    return 0


def check_projections(kinds: list[str]) -> None:
    from projector_bundle.projections import UMAP, umap_available

    if UMAP in kinds and not umap_available():
        raise ExportError("--projections umap: needs the umap-learn package (pip install umap-learn)")


def run_tokenize(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.model import resolve_model, tokenize

    result = tokenize(resolve_model(args.model), args.text)
    for token_id, token in zip(result.ids, result.tokens, strict=False):
        print(f"{token_id}\t{token}")
    print(f"decoded: {result.decoded}")
    return 0


def run_inspect(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.model import inspect_model, resolve_model

    facts = inspect_model(resolve_model(args.model))
    rows = [
        ("model", facts.name),
        ("type", facts.model_type),
        ("vocabulary size", f"{facts.vocab_size:,}"),
        ("hidden size", f"{facts.hidden_size:,}"),
        ("word-embedding weights", f"{facts.word_embedding_weights:,}"),
        ("position embeddings", format_shape(facts.position_embeddings)),
        ("token-type embeddings", format_shape(facts.token_type_embeddings)),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key + ':':<{width + 1}} {value}")
    return 0


def run_validate(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.validate import ERROR, plural, validate_bundle

    if not args.dir.is_dir():
        raise ExportError(f"{args.dir}: no such folder")
    problems = validate_bundle(args.dir)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == ERROR for p in problems)
    print(
        f"validate: {args.dir}: {plural(errors, 'error')}, {plural(len(problems) - errors, 'warning')}", file=sys.stderr
    )
    return 1 if errors else 0


def format_shape(shape: tuple[int, ...] | None) -> str:
    return "none" if shape is None else " x ".join(str(n) for n in shape)


def build_time() -> str:
    """Now, or SOURCE_DATE_EPOCH when set, so that a rebuild can be byte-identical."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def warn(message: str) -> None:
    """A warning is shown even with --quiet: the run goes on, but the user should know."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


class Progress:
    """Progress lines on stderr, and bars for the long steps when stderr is a terminal;
    stdout is kept for what the user asked to see."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars = not quiet and sys.stderr.isatty()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"export: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def bar(self, description: str, total: int, unit: str = "row") -> Iterator[Callable[[int], None]]:
        """A tqdm bar on stderr for a step of `total` units; yields the function that advances it."""
        if not self.bars:
            yield lambda done: None
            return
        from tqdm import tqdm

        with tqdm(total=total, desc=f"export: {description}", unit=unit, unit_scale=True, file=sys.stderr) as bar:
            yield bar.update


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def number_within(
    convert: Callable[[str], float], fits: Callable[[float], bool], expected: str
) -> Callable[[str], float]:
    """An argparse type: `convert(text)` when `fits` it, else a usage error naming what was expected."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


positive_mb = number_within(float, lambda v: 0 < v < math.inf, "a positive number of megabytes")
tsv_digits = number_within(int, lambda v: 1 <= v <= EXACT_TSV_DIGITS, f"an integer from 1 to {EXACT_TSV_DIGITS}")


def base_url(text: str) -> str:
    try:
        return normalise_base_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def label_keys(text: str) -> list[str]:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in keys if k not in LABEL_COLUMNS]
    if unknown or not keys:
        raise argparse.ArgumentTypeError(
            f"unknown label {', '.join(unknown) or repr(text)}; choose from {', '.join(LABEL_COLUMNS)}"
        )
    return keys


def key_list(choices: tuple[str, ...], what: str, allow_none: bool = False):
    """A comma-separated list of keys from `choices` (or `none`, for an empty list)."""

    def parse(text: str) -> list[str]:
        if allow_none and text.strip() == "none":
            return []
        keys = [k.strip() for k in text.split(",") if k.strip()]
        unknown = [k for k in keys if k not in choices]
        if unknown or not keys:
            extra = " or none" if allow_none else ""
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(unknown) or repr(text)}; choose from {', '.join(choices)}{extra}"
            )
        return list(dict.fromkeys(keys))

    return parse


def layer_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()] or [int(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer numbers such as 6 or 3,6, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="export.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model_help = "hub id or local folder (default: the packaged all-MiniLM-L6-v2, offline)"

    bundle = commands.add_parser("bundle", help="write a static projector bundle")
    bundle.add_argument("--model", action="append", metavar="M", help=model_help + "; repeat it to compare models")
    bundle.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: site)")
    bundle.add_argument("--limit", type=positive_int, help="export only the first N vocabulary rows")
    bundle.add_argument(
        "--labels",
        type=label_keys,
        default=list(DEFAULT_LABELS),
        help=f"comma-separated metadata columns (default: {','.join(DEFAULT_LABELS)})",
    )
    bundle.add_argument(
        "--tensors",
        metavar="KIND,...",
        type=key_list(TENSOR_KINDS, "tensor"),
        default=[WORD],
        help=f"comma-separated embedding tables per model (default: word; choose from {','.join(TENSOR_KINDS)})",
    )
    bundle.add_argument(
        "--sentences", metavar="FILE", help="add contextual embeddings of these sentences (one a line; - for stdin)"
    )
    bundle.add_argument(
        "--layer",
        metavar="L,...",
        type=layer_list,
        action="extend",
        help="hidden layer(s) for --sentences, 0 = embedding output (default: the last); repeatable",
    )
    bundle.add_argument("--keep-special", action="store_true", help="keep [CLS]/[SEP] points of --sentences")
    bundle.add_argument(
        "--projections",
        metavar="KIND,...",
        type=key_list(PROJECTION_KINDS, "projection", allow_none=True),
        default=[PCA],
        help="full-data projections shipped as bookmarks (default: pca; umap needs umap-learn; none)",
    )
    bundle.add_argument(
        "--neighbors", type=positive_int, metavar="K", help="add a column with each point's K nearest points"
    )
    bundle.add_argument(
        "--base-url",
        type=base_url,
        help="where the bundle will be served (e.g. https://OWNER.github.io/REPO/): also write "
        "a config with absolute URLs and show its projector.tensorflow.org link",
    )
    tsv = bundle.add_mutually_exclusive_group()
    tsv.add_argument("--no-tsv", action="store_true", help="skip the vectors TSV (the page reads the .bytes file)")
    tsv.add_argument(
        "--tsv-digits",
        type=tsv_digits,
        metavar="N",
        help=f"significant digits in the vectors TSV (default: exact, {EXACT_TSV_DIGITS})",
    )
    bundle.add_argument(
        "--max-file-mb",
        type=positive_mb,
        default=DEFAULT_MAX_FILE_MB,
        metavar="MB",
        help=f"warn about any file larger than this (default: {DEFAULT_MAX_FILE_MB}, GitHub's limit for a pushed file)",
    )
    bundle.add_argument("--quiet", action="store_true", help="no progress on stderr")
    bundle.add_argument(
        "--force", action="store_true", help="replace --out even if it is a non-empty folder export.py did not write"
    )
    bundle.set_defaults(run=run_bundle)

    tok = commands.add_parser("tokenize", help="show the token ids of TEXT and decode them")
    tok.add_argument("--model", help=model_help)
    tok.add_argument("text", metavar="TEXT")
    tok.set_defaults(run=run_tokenize)

    insp = commands.add_parser("inspect", help="vocabulary, hidden size and embedding shapes")
    insp.add_argument("--model", help=model_help)
    insp.set_defaults(run=run_inspect)

    check = commands.add_parser("validate", help="check a projector bundle folder; one line per problem")
    check.add_argument("dir", metavar="DIR", type=Path)
    check.set_defaults(run=run_validate)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
