#!/usr/bin/env python3
"""Export a transformers model's embeddings as a static TensorFlow Embedding Projector bundle.

    export.py bundle   [--model M] [--out DIR] [--limit N] [--labels KEY ...] [--base-url URL]
                       [--no-tsv | --tsv-digits N] [--max-file-mb MB]
    export.py tokenize [--model M] TEXT
    export.py inspect  [--model M]
    export.py validate DIR

The bundle pipeline: resolve the model -> read the embedding matrix and vocabulary
-> compute label columns -> write the bundle files -> render the page.
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
from projector_bundle.formats import DEFAULT_FILES
from projector_bundle.labels import DEFAULT_LABELS, LABEL_COLUMNS, label_rows, select_columns
from projector_bundle.publish import DEFAULT_MAX_FILE_MB, check_file_sizes, normalise_base_url, projector_link
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
    from projector_bundle.bundle import Tensor, check_target, write_bundle
    from projector_bundle.colouring import ensure_colourable
    from projector_bundle.model import read_word_embeddings, resolve_model, show_progress_bars
    from projector_bundle.page import PageInfo, TensorSummary, projector_version

    log = Progress(quiet=args.quiet)
    show_progress_bars(log.bars)
    check_target(args.out, force=args.force)  # before loading a model that may be large

    log("resolving the model")
    ref = resolve_model(args.model)

    log(f"reading the embedding matrix and vocabulary of {ref.name}")
    words = read_word_embeddings(ref, args.limit)
    if args.limit is not None and args.limit > words.vocab_rows:
        warn(f"--limit {args.limit:,} is more than the {words.vocab_rows:,} vocabulary rows; exporting all of them")

    log(f"labelling {len(words.tokens):,} tokens")
    columns = ensure_colourable(select_columns(args.labels), words.tokens)
    if len(columns) > len(args.labels):
        log(f"no column of --labels {','.join(args.labels)} can colour points; adding {columns[-1].key}")
    tensor = Tensor(
        name=f"{short_name(ref.name)}/word_embeddings",
        matrix=words.matrix,
        header=[c.header for c in columns],
        rows=label_rows(words.tokens, columns),
        files=DEFAULT_FILES,
    )

    log(f"writing {args.out}")
    page = PageInfo(
        title=f"{ref.name} embeddings",
        model_name=ref.name,
        tensors=(TensorSummary(tensor.name, *tensor.matrix.shape),),
        tool_version=__version__,
        created=build_time(),
        command=shlex.join(["export.py", *argv]),
        projector_version=projector_version(),
        projector_link=None if args.base_url is None else projector_link(args.base_url),
    )
    problems = write_bundle(
        args.out,
        [tensor],
        page,
        tsv=not args.no_tsv,
        tsv_digits=args.tsv_digits,
        base_url=args.base_url,
        model_revision=ref.revision,
        force=args.force,
        progress=log.bar,
    )
    for problem in problems:
        warn(problem.message)
    sizes = {p.name: p.stat().st_size for p in args.out.iterdir() if p.is_file()}
    oversize = check_file_sizes(sizes, args.max_file_mb, vector_tsvs={tensor.files.tsv})
    if oversize:
        warn(oversize)
    log(f"done: {args.out}/ ({tensor.matrix.shape[0]:,} points x {tensor.matrix.shape[1]})")
    return 0


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
    from projector_bundle.validate import has_errors, plural, validate_bundle

    if not args.dir.is_dir():
        raise ExportError(f"{args.dir}: no such folder")
    problems = validate_bundle(args.dir)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    print(
        f"validate: {args.dir}: {plural(errors, 'error')}, {plural(len(problems) - errors, 'warning')}", file=sys.stderr
    )
    return 1 if has_errors(problems) else 0


def format_shape(shape: tuple[int, ...] | None) -> str:
    return "none" if shape is None else " x ".join(str(n) for n in shape)


def short_name(model_name: str) -> str:
    """The last part of a hub id or folder path, for tensor names."""
    return Path(model_name.rstrip("/")).name or model_name


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="export.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model_help = "hub id or local folder (default: the packaged all-MiniLM-L6-v2, offline)"

    bundle = commands.add_parser("bundle", help="write a static projector bundle")
    bundle.add_argument("--model", help=model_help)
    bundle.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: site)")
    bundle.add_argument("--limit", type=positive_int, help="export only the first N vocabulary rows")
    bundle.add_argument(
        "--labels",
        type=label_keys,
        default=list(DEFAULT_LABELS),
        help=f"comma-separated metadata columns (default: {','.join(DEFAULT_LABELS)})",
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
