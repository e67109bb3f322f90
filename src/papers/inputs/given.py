"""What the user gave a command to read: PAPER arguments, `-i` files and stdin, checked
before anything is created or locked."""

from __future__ import annotations

import codecs
import os
import sys
from dataclasses import dataclass

from papers.errors import UsageError


@dataclass(frozen=True)
class Inputs:
    """Where a command's papers come from."""

    papers: tuple[str, ...]
    files: list[str]
    fmt: str | None
    column: str | None
    encoding: str | None = None

    def iter(self, stdin):
        from papers.inputs.readers import iter_papers

        return iter_papers(self.papers, self.files, stdin, self.fmt, self.column, self.encoding)

    def estimate(self):
        from papers.inputs.readers import estimate_count

        return estimate_count(self.papers, self.files)


def given_inputs(papers, inputs, fmt, column, encoding, command) -> Inputs:
    """The `command`'s inputs: UsageError for a file that is not there, an unknown
    encoding, or nothing to read (no PAPER, no -i, and stdin a terminal)."""
    files = list(inputs)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(f"--encoding {encoding}: not an encoding Python knows "
                             "(e.g. utf-8, latin-1, cp1252, utf-16)") from None
    for path in files:
        # Checked before anything is created or locked: a typo costs one line, nothing else.
        if path != "-" and not os.path.isfile(path):
            raise UsageError(f"{path}: no such file" if not os.path.exists(path)
                             else f"{path}: not a regular file")
    if not papers and not files:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no papers given: pass PAPER arguments, -i FILE, or pipe a list on "
                             f"stdin (see papers {command} --help)")
        files = ["-"]
    return Inputs(tuple(papers), files, fmt, column, encoding)
