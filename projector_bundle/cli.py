"""The command line: argparse at the edge, the library below, one error handler for every command.

bundle    resolve -> read -> label -> project -> render -> write (`pipeline.build_bundle`)
tokenize  the tokenizer walk-through of one text
inspect   vocabulary, hidden size and embedding shapes
validate  check a bundle folder the way the projector will read it
from-tensorboard  a TensorBoard log's embeddings -> the same pipeline as bundle
serve     a bundle folder over HTTP on loopback
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import shlex
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from projector_bundle import ExportError, UsageError, __version__
from projector_bundle.context.corpus import parse_words
from projector_bundle.context.layers import parse_layer_text
from projector_bundle.inputs.tables import FORMATS_HELP, TEXT_COLUMN
from projector_bundle.models.pooling import POOLING_MODES
from projector_bundle.output.manifest import utc_time
from projector_bundle.output.publish import GITHUB_FILE_LIMIT_MIB, normalise_base_url
from projector_bundle.output.writers import EXACT, EXACT_TSV_DIGITS
from projector_bundle.points.clusters import AUTO, CLUSTERS_EXPECTED, MAX_NAMED, NONE, parse_clusters
from projector_bundle.points.compare import DEFAULT_K
from projector_bundle.points.labels import DEFAULT_LABELS, LABEL_COLUMNS
from projector_bundle.points.projections import PCA, PROJECTION_KINDS
from projector_bundle.points.reductions import LIMIT_HELP
from projector_bundle.points.tensors import TENSOR_KINDS, WORD
from projector_bundle.projector.formats import DEFAULT_HOST, DEFAULT_OUT, DEFAULT_PORT
from projector_bundle.signals import Interrupted, interrupts_raised
from projector_bundle.text import plural, printable

PROG = "export.py"
VERBOSE_HELP = "let transformers print its own loading reports and bars"
# `--first-view` choices.
LIGHT, FULL = "light", "full"
FIRST_VIEWS = (LIGHT, FULL)
MODEL_HELP = "hub id or local folder (default: the packaged all-MiniLM-L6-v2, offline)"
BASE_URL_HELP = (
    "where the bundle will be served (e.g. https://OWNER.github.io/REPO/): also write "
    "a config with absolute URLs and show its projector.tensorflow.org link"
)
FORCE_HELP = (
    "write into --out even if it is a non-empty folder export.py did not write "
    "(its files of the bundle's names are replaced, the others kept)"
)
FIRST_VIEW_HELP = (
    "light: open on the first tensor's exact 3-D PCA coordinates (a few MB to fetch), the full "
    "vectors one menu choice away; full: open on the full vectors (default: light with --base-url, else full)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; library errors become one `error: ...` line and exit 1, and SIGINT,
    SIGTERM or SIGHUP one `error: interrupted` line and exit 128 + the signal's number."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        with interrupts_raised():
            return int(args.run(args, argv))
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except KeyboardInterrupt as exc:
        # As a shell reports a process a signal stopped: 128 + the signal's number.
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
        print(f"error: interrupted{by}", file=sys.stderr)
        return 128 + signum


# --- the commands: options in, library call, result out ---


def run_bundle(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.pipeline import BundleOptions, build_bundle
    from projector_bundle.progress import on_stderr, warn_on_stderr

    created = build_time_of(args)
    progress = on_stderr(args.quiet)
    options = BundleOptions(
        out=args.out,
        models=tuple(args.model or [None]),
        limit=args.limit,
        sample=args.sample,
        seed=args.seed,
        dims=args.dims,
        labels=tuple(args.labels),
        tensors=chosen_tensors(args.tensors, own_data=bool(args.texts or args.vectors)),
        sentences=args.sentences,
        layers=tuple(args.layer or ()),
        keep_special=args.keep_special,
        words=tuple(args.words or ()),
        max_points=args.max_points,
        trajectories=args.trajectories,
        projections=tuple(args.projections),
        neighbors=args.neighbors,
        clusters=args.clusters,
        compare=args.compare,
        base_url=args.base_url,
        tsv=None if args.no_tsv else args.tsv_digits or EXACT,
        max_file_mb=args.max_file_mb,
        force=args.force,
        first_view=first_view(args.first_view, args.base_url, args.projections),
        command=public_command(argv),
        created=created,
        verbose=args.verbose,
        texts=args.texts,
        text_column=args.text_column,
        pooling=args.pooling,
        vectors=args.vectors,
        metadata=args.metadata,
    )
    result = build_bundle(options, progress, warn_on_stderr)
    progress(f"done: {result.out}/ ({plural(len(result.tensors), 'tensor')}, {result.points:,} points)")
    return 0


def run_from_tensorboard(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.inputs.tensorboard import logged_inputs, read_tensorboard_log
    from projector_bundle.pipeline import BundleOptions, build_bundle
    from projector_bundle.progress import on_stderr, warn_on_stderr

    created = build_time_of(args)
    progress = on_stderr(args.quiet)
    progress(f"reading the TensorBoard log {args.logdir}")
    log = read_tensorboard_log(args.logdir)
    for message in log.warnings:
        warn_on_stderr(message)
    options = BundleOptions(
        out=args.out,
        models=(),
        tensors=(),
        embeddings=logged_inputs(log),
        clusters=args.clusters,
        projections=tuple(args.projections),
        base_url=args.base_url,
        tsv=None if args.no_tsv else EXACT,
        force=args.force,
        first_view=first_view(args.first_view, args.base_url, args.projections),
        command=public_command(argv),
        created=created,
    )
    result = build_bundle(options, progress, warn_on_stderr)
    progress(f"done: {result.out}/ ({plural(len(result.tensors), 'tensor')}, {result.points:,} points)")
    return 0


def chosen_tensors(asked: Sequence[str] | None, *, own_data: bool) -> tuple[str, ...]:
    """`--tensors` in menu order; unasked, the word table, unless the user brought data
    (`--texts`, `--vectors`): they came for their data, so it is left out."""
    if asked is None:
        return () if own_data else (WORD,)
    return tuple(k for k in TENSOR_KINDS if k in asked)


def first_view(choice: str | None, base_url: str | None, projections: Sequence[str]) -> bool:
    """Whether the page opens on the light first view: asked for, or by default where the
    bundle will be published (a visitor fetches every byte) and the PCA is shipped."""
    if choice is None:
        return base_url is not None and PCA in projections
    return choice == LIGHT


def run_tokenize(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.models.loader import resolve_model, tokenize

    result = tokenize(resolve_model(args.model, verbose=args.verbose, bars=True), args.text)
    # The readable piece (schemes: `##` marks a continuation, in every scheme), then the vocabulary's own spelling.
    for token_id, readable, token in zip(result.ids, result.readable, result.tokens, strict=False):
        print(f"{token_id}\t{readable}\t{token}")
    print(f"decoded: {result.decoded}")
    return 0


def embedding_rows(rows: int, tokens: int) -> str:
    """The input-embedding table's rows, and how many of them no token uses (tables are often padded)."""
    if rows > tokens:
        return f"{rows:,} ({plural(rows - tokens, 'row')} without a token)"
    if rows < tokens:
        return f"{rows:,} ({plural(tokens - rows, 'token')} without a row)"
    return f"{rows:,}"


def run_inspect(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.models.loader import inspect_model, resolve_model

    facts = inspect_model(resolve_model(args.model, verbose=args.verbose, bars=True))
    rows = [
        ("model", facts.name),
        ("type", facts.model_type),
        ("vocabulary size", f"{facts.vocab_size:,}"),
        ("embedding rows", embedding_rows(facts.embedding_rows, facts.vocab_size)),
        ("hidden size", f"{facts.hidden_size:,}"),
        *([("embedding size", f"{facts.embedding_size:,}")] if facts.embedding_size != facts.hidden_size else []),
        ("word-embedding weights", f"{facts.word_embedding_weights:,}"),
        ("position embeddings", format_shape(facts.position_embeddings)),
        ("token-type embeddings", format_shape(facts.token_type_embeddings)),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key + ':':<{width + 1}} {value}")
    return 0


def run_validate(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.projector.validate import ERROR, folder_problem, validate_bundle

    missing = folder_problem(args.dir)
    if missing is not None:
        raise ExportError(missing)
    problems = validate_bundle(args.dir)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == ERROR for p in problems)
    warnings = plural(len(problems) - errors, "warning")
    print(f"validate: {args.dir}: {plural(errors, 'error')}, {warnings}", file=sys.stderr)
    return 1 if errors else 0


def run_serve(args: argparse.Namespace, argv: list[str]) -> int:
    from projector_bundle.output.serve import make_server, server_url
    from projector_bundle.projector.formats import PAGE_HTML

    if not (args.directory / PAGE_HTML).is_file():
        raise ExportError(f"--directory {args.directory}: no bundle there (no {PAGE_HTML}); run make bundle first")
    with make_server(args.directory, args.host, args.port) as server:
        # stdout, flushed: the one line a person (or a script) needs from this command.
        print(f"serving {args.directory}/ at {server_url(server)} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how one stops it: no traceback
            server.serve_forever()
    return 0


def format_shape(shape: tuple[int, ...] | None) -> str:
    return "none" if shape is None else " x ".join(str(n) for n in shape)


def public_command(argv: Sequence[str]) -> str:
    """The command line as a published bundle shows it: absolute and home paths cut to their
    last part, so the page never tells about the user's file system."""

    def public(arg: str) -> str:
        flag, equals, value = arg.partition("=") if arg.startswith("--") else ("", "", arg)
        if value.startswith(("/", "~")):
            value = Path(value).name or value
        return f"{flag}{equals}{value}"

    return printable(shlex.join([PROG, *(public(a) for a in argv)]))


def build_time_of(args: argparse.Namespace) -> str | None:
    """`build_time` for a command: a bad SOURCE_DATE_EPOCH is a usage error, exit 2 before any work."""
    parser: argparse.ArgumentParser = args.parser
    try:
        return build_time()
    except ValueError as exc:
        parser.error(str(exc))


def build_time() -> str | None:
    """SOURCE_DATE_EPOCH as an ISO time, so a rebuild can be byte-identical; None when unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is None:
        return None
    try:
        return utc_time(int(epoch))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"SOURCE_DATE_EPOCH: expected whole seconds since 1970 such as 1767225600, got {epoch!r}"
        ) from None


# --- argument types: each raises a usage error naming what was expected ---


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


def int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type: a whole number of at least `minimum`, else a usage error naming what was expected."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


positive_int = int_at_least(1, "a positive integer")
non_negative_int = int_at_least(0, "a whole number of 0 or more")
# --max-file-mb: a kilobyte to a petabyte; beyond, byte counts overflow or round to nothing.
MIN_FILE_MB, MAX_FILE_MB = 0.001, 1e9
positive_mb = number_within(
    float,
    lambda v: MIN_FILE_MB <= v <= MAX_FILE_MB,
    f"a number of MiB from {MIN_FILE_MB:g} to {MAX_FILE_MB:,.0f}",
)
tsv_digits = number_within(int, lambda v: 1 <= v <= EXACT_TSV_DIGITS, f"an integer from 1 to {EXACT_TSV_DIGITS}")
port_number = number_within(int, lambda v: 0 <= v <= 65535, "a port from 0 to 65535 (0 picks a free one)")


def clusters_choice(text: str) -> str | int:
    choice = parse_clusters(text)
    if choice is None:
        raise argparse.ArgumentTypeError(f"{CLUSTERS_EXPECTED}, got {text!r}")
    return choice


def base_url(text: str) -> str:
    try:
        return normalise_base_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def key_list(choices: Sequence[str], what: str, allow_none: bool = False) -> Callable[[str], list[str]]:
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


def word_list(text: str) -> tuple[str, ...]:
    try:
        return parse_words(text)
    except ExportError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--words {text!r}: ")) from None


def layer_list(text: str) -> list[int | str]:
    try:
        return parse_layer_text(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer numbers such as 6 or 3,6, or all, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Export a transformers model's embeddings as a static TensorFlow Embedding Projector bundle.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bundle = commands.add_parser("bundle", help="write a static projector bundle")
    bundle.add_argument("--model", action="append", metavar="M", help=MODEL_HELP + "; repeat it to compare models")
    bundle.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: site)")
    bundle.add_argument("--limit", type=positive_int, metavar="N", help=LIMIT_HELP)
    bundle.add_argument(
        "--sample", type=positive_int, metavar="N", help="keep a seeded uniform sample of N points of each tensor"
    )
    bundle.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        metavar="S",
        help="the seed of --sample and --max-points (default: 0)",
    )
    bundle.add_argument(
        "--dims",
        type=positive_int,
        metavar="N",
        help="ship each tensor on its top N principal axes (an exact PCA; prints the variance kept); "
        "--neighbors still uses every dimension",
    )
    bundle.add_argument(
        "--labels",
        metavar="KEY,...",
        type=key_list(tuple(LABEL_COLUMNS), "label"),
        default=list(DEFAULT_LABELS),
        help=f"comma-separated metadata columns (default: {','.join(DEFAULT_LABELS)})",
    )
    bundle.add_argument(
        "--tensors",
        metavar="KIND,...",
        type=key_list(TENSOR_KINDS, "tensor", allow_none=True),
        help="comma-separated embedding tables per model (default: word, or none with --texts or --vectors; "
        f"choose from {','.join(TENSOR_KINDS)})",
    )
    bundle.add_argument(
        "--texts",
        metavar="FILE",
        help=f"embed each row's text with each --model, as the model prescribes: <model>/texts, first "
        f"({FORMATS_HELP}; - for stdin, one a line); the other columns become metadata",
    )
    bundle.add_argument(
        "--text-column",
        metavar="NAME",
        default=TEXT_COLUMN,
        help=f"the column of --texts that holds the text (default: {TEXT_COLUMN})",
    )
    bundle.add_argument(
        "--pooling",
        choices=POOLING_MODES,
        help="how --texts token states become one vector (default: the sentence-transformers config, "
        "else mean for encoders, last for decoder-only models)",
    )
    bundle.add_argument(
        "--vectors",
        metavar="FILE",
        help="vectors you already have, no model needed: .npy, .npz[:NAME], .parquet[:COLUMN], "
        ".csv[:COLUMN] (a list column or numeric columns), or a TensorBoard .tsv",
    )
    bundle.add_argument(
        "--metadata", metavar="FILE", help=f"the columns of --vectors, a row per vector ({FORMATS_HELP})"
    )
    bundle.add_argument(
        "--sentences", metavar="FILE", help="add contextual embeddings of these sentences (one a line; - for stdin)"
    )
    bundle.add_argument(
        "--layer",
        metavar="L,...",
        type=layer_list,
        action="extend",
        help="hidden layer(s) for --sentences and --texts, 0 = embedding output, all = every one "
        "(default: the last); repeatable",
    )
    bundle.add_argument(
        "--trajectories",
        action="store_true",
        help="with --sentences: add <model>/contextual_paths, each token's path through the selected layers",
    )
    bundle.add_argument("--keep-special", action="store_true", help="keep [CLS]/[SEP] points of --sentences")
    bundle.add_argument(
        "--words",
        metavar="W,...",
        type=word_list,
        help="with --sentences: keep only occurrences of these words (case-folded for an uncased model); "
        "a word split into several pieces is one point, the mean of its pieces, and its Token cell lists them",
    )
    bundle.add_argument(
        "--max-points",
        type=positive_int,
        metavar="N",
        help="with --sentences: keep a seeded uniform sample of at most N occurrences (N per word with --words)",
    )
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
        "--clusters",
        type=clusters_choice,
        metavar="auto|N|none",
        help=f"a Cluster column of named groups found in each tensor's full space: {AUTO} picks 2 to "
        f"{MAX_NAMED}, N asks for N (default: {AUTO} for texts and vectors, {NONE} for model tables)",
    )
    bundle.add_argument(
        "--compare",
        type=positive_int,
        nargs="?",
        const=DEFAULT_K,
        metavar="K",
        help="compare the spaces over the same items (repeated --model: word tables by token, layers by row; "
        "one model: its --layer's): per item, the overlap of its K nearest neighbours (default "
        f"{DEFAULT_K}) with the first space's, a moved rank, an aligned view, and each layout's trust",
    )
    bundle.add_argument(
        "--base-url",
        type=base_url,
        metavar="URL",
        help=BASE_URL_HELP,
    )
    bundle.add_argument(
        "--first-view",
        choices=FIRST_VIEWS,
        help=FIRST_VIEW_HELP,
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
        metavar="MIB",
        help=f"warn about any file larger than this many MiB, with ways to shrink it: {GITHUB_FILE_LIMIT_MIB} is "
        "GitHub's limit for a file committed to git (default: no warning, a note about that limit; the Pages "
        "workflow's artifact has no such per-file limit)",
    )
    bundle.add_argument("--quiet", action="store_true", help="no progress on stderr")
    bundle.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    bundle.add_argument(
        "--force",
        action="store_true",
        help=FORCE_HELP,
    )
    bundle.set_defaults(run=run_bundle, parser=bundle)

    tok = commands.add_parser("tokenize", help="show the token ids of TEXT and decode them")
    tok.add_argument("--model", metavar="M", help=MODEL_HELP)
    tok.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    tok.add_argument("text", metavar="TEXT")
    tok.set_defaults(run=run_tokenize)

    insp = commands.add_parser("inspect", help="vocabulary, hidden size and embedding shapes")
    insp.add_argument("--model", metavar="M", help=MODEL_HELP)
    insp.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    insp.set_defaults(run=run_inspect)

    check = commands.add_parser("validate", help="check a projector bundle folder; one line per problem")
    check.add_argument("dir", metavar="DIR", type=Path)
    check.set_defaults(run=run_validate)

    board = commands.add_parser(
        "from-tensorboard",
        help="write a static bundle of a TensorBoard log's embeddings",
    )
    board.add_argument(
        "logdir",
        metavar="LOGDIR",
        type=Path,
        help="the log folder (SummaryWriter's), or its projector_config.pbtxt; every run below it is read",
    )
    board.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle folder (default: site)")
    board.add_argument(
        "--projections",
        metavar="KIND,...",
        type=key_list(PROJECTION_KINDS, "projection", allow_none=True),
        default=[PCA],
        help="full-data projections shipped as bookmarks, before the log's own (default: pca; none)",
    )
    board.add_argument(
        "--clusters",
        type=clusters_choice,
        default=NONE,
        metavar="auto|N|none",
        help=f"a Cluster column of named groups found in each tensor's full space (default: {NONE}: the log's "
        "metadata as it was logged)",
    )
    board.add_argument("--base-url", type=base_url, metavar="URL", help=BASE_URL_HELP)
    board.add_argument("--first-view", choices=FIRST_VIEWS, help=FIRST_VIEW_HELP)
    board.add_argument("--no-tsv", action="store_true", help="skip the vectors TSV (the page reads the .bytes file)")
    board.add_argument("--quiet", action="store_true", help="no progress on stderr")
    board.add_argument("--force", action="store_true", help=FORCE_HELP)
    board.set_defaults(run=run_from_tensorboard, parser=board)

    serve = commands.add_parser("serve", help="serve a bundle folder on loopback (the projector cannot load file://)")
    serve.add_argument("--directory", type=Path, default=DEFAULT_OUT, help="the bundle folder (default: site)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"a loopback address (default: {DEFAULT_HOST})")
    serve.add_argument(
        "--port", type=port_number, default=DEFAULT_PORT, help=f"0 picks a free port (default: {DEFAULT_PORT})"
    )
    serve.set_defaults(run=run_serve)
    return parser


def usage_text(width: int = 100) -> str:
    """Every command's --help at a fixed width, as docs/cli.md shows it."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parsers = [(f"{PROG} --help", parser), *((f"{PROG} {n} --help", p) for n, p in commands.choices.items())]
    parts = []
    for command, each in parsers:
        each.formatter_class = functools.partial(argparse.HelpFormatter, width=width)
        parts.append(f"$ {command}\n{each.format_help()}")
    return "\n".join(parts)


if __name__ == "__main__":
    raise SystemExit(main())
