"""How long steps report progress: a line per step, and a bar for the steps that take seconds.

The library takes a `Progress` and never prints by itself; the CLI hands it one that writes
to stderr (stdout is kept for what the user asked to see). Warnings are not progress: they
go to stderr even with --quiet (`warn_on_stderr`, the pipeline's default).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TextIO

# Makes a bar for a step: (description, total units) -> context giving the function that advances it.
ProgressBar = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


def no_bar(description: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
    return nullcontext(lambda done: None)


class Progress:
    """Step lines, and tqdm bars for the long steps when `bars` is on; silent by default."""

    def __init__(self, stream: TextIO | None = None, *, bars: bool = False) -> None:
        self.stream = stream
        self.bars = bars and stream is not None

    def __call__(self, message: str) -> None:
        if self.stream is not None:
            print(f"export: {message}", file=self.stream, flush=True)

    @contextmanager
    def bar(self, description: str, total: int | None, unit: str = "row") -> Iterator[Callable[[int], None]]:
        """A bar for a step of `total` units (None: not known, a count and a rate); yields what advances it."""
        if not self.bars:
            yield lambda done: None
            return
        from tqdm import tqdm

        with tqdm(total=total, desc=f"export: {description}", unit=unit, unit_scale=True, file=self.stream) as bar:
            yield bar.update


SILENT = Progress()


def warn_on_stderr(message: str) -> None:
    """A warning is shown even with --quiet: the run went on, but the user should know."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def on_stderr(quiet: bool) -> Progress:
    """The CLI's progress: lines unless --quiet, bars only when stderr is a terminal."""
    return SILENT if quiet else Progress(sys.stderr, bars=sys.stderr.isatty())
