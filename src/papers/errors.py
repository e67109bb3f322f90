"""Every error papers raises, in one tree; each class carries the exit status it ends a run with.

    PapersError                   2  ERROR        stop before (or instead of) the work
    ├── UsageError                2  ERROR        a bad flag or argument, a missing input file
    ├── ConfigError               2  ERROR        a bad setting; the message names its source
    ├── InputError                2  ERROR        malformed input; the message names file and line
    ├── StateError                2  ERROR        the state file is locked, unreadable, corrupt or newer
    ├── OutputError               2  ERROR        the output directory or file cannot be written
    ├── Cancelled               130  INTERRUPTED  the run is stopping (Ctrl-C, SIGTERM, SIGHUP)
    └── PaperError                1  FAILED       one paper failed; the run goes on
        ├── TransferError         1               libcurl got no usable response (with an ErrorKind)
        ├── DiskError             1               writing a `.part` failed: our side, not the server's
        └── ApiError              1               a scholarly API did not answer usefully
    StdoutError (an OSError)     74  OUTPUT       stdout cannot be written (a full disk, an I/O error)
    StdoutClosed (BrokenPipe)   141  PIPE         stdout's reader went away (`| head`)

`cli.main` is the one place that turns an error that reaches it into its exit
status and a one-line message. PaperError and Cancelled never get that far:
the worker that meets one records the paper's outcome instead.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager


class ExitStatus(enum.IntEnum):
    """How `papers` exits; the README and every command's --help list these."""

    OK = 0              # every paper downloaded or already there
    FAILED = 1          # at least one paper failed (the others are on disk)
    ERROR = 2           # bad usage, input, config, state file or output directory
    INTERRUPTED = 130   # SIGINT, SIGTERM or SIGHUP: state saved, `.part` files kept
    OUTPUT = 74         # stdout cannot be written (disk full, I/O error): state saved
    PIPE = 141          # stdout was closed by its reader (`| head`): state saved


class ErrorKind(enum.Enum):
    """Whether asking again can help."""

    TRANSIENT = "transient"      # retry now, with backoff: resets, timeouts, 5xx
    UNREACHABLE = "unreachable"  # not in this run (no DNS, no route), but in a later one
    PERMANENT = "permanent"      # the same answer every time: bad URL, untrusted certificate


class PapersError(Exception):
    """The base of every papers error; `str(e)` is one line for a person."""

    exit_status = ExitStatus.ERROR


class UsageError(PapersError):
    """A bad flag or argument, or an input file that is not there."""


class ConfigError(PapersError):
    """A bad setting; the message names it and where it came from."""


class InputError(PapersError):
    """Malformed input; the message names the source and line."""


class StateError(PapersError):
    """The state file cannot be used; the message says which file and what to do."""


class OutputError(PapersError):
    """The output directory or file cannot be created or written."""


class Cancelled(PapersError):
    """The run is stopping; abandon this paper (its `.part` is kept)."""

    exit_status = ExitStatus.INTERRUPTED

    def __str__(self) -> str:
        return super().__str__() or "interrupted"


class PaperError(PapersError):
    """One paper (or one request for it) failed; the run goes on."""

    exit_status = ExitStatus.FAILED


class TransferError(PaperError):
    """A transfer failed before a usable response; `reason` is one line for a person."""

    def __init__(self, reason: str, kind: ErrorKind) -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class DiskError(PaperError):
    """Writing a `.part` failed (disk full, permissions): our fault, not the server's."""


class ApiError(PaperError):
    """An API did not answer usefully; the message is one safe line."""


class QuotaExhausted(ApiError):
    """An API refused because an allowance (credits, calls a day) is used up: asking again
    in this run cannot help, unlike a rate limit."""


class StdoutClosed(BrokenPipeError):
    """Stdout's reader went away (`| head`). A BrokenPipeError without an errno: caught
    where a closed pipe is, but not taken by click for its own EPIPE exit (status 1)."""

    exit_status = ExitStatus.PIPE


class StdoutError(OSError):
    """Writing stdout failed for another reason than its reader going away (EPIPE):
    a full disk, an I/O error. An OSError, so that code writing results meets it as
    one; `cli.main` says `cannot write to stdout: <strerror>` and exits OUTPUT."""

    exit_status = ExitStatus.OUTPUT


@contextmanager
def reading(path: str, error: type[PapersError], what: str = "") -> Iterator[None]:
    """Turn a failure to open `path` for reading into `error`, one line naming `what`
    and the path (`config file X: no such file`)."""
    try:
        yield
    except FileNotFoundError:
        raise error(f"{what}{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{what}{path}: is a directory, not a file") from None
    except OSError as e:
        raise error(f"{what}{path}: cannot read ({e.strerror})") from None


#: The exit statuses as `--help` lists them.
EXIT_CODES_HELP = """\b
Exit codes:
  0    every paper downloaded or already there
  1    at least one paper failed (the others are on disk)
  2    bad usage, input, config or state file
  74   stdout cannot be written (a full disk, an I/O error): state saved
  130  interrupted (Ctrl-C, SIGTERM, SIGHUP): state saved, resume by re-running
  141  stdout closed by its reader (e.g. `| head`): state saved
"""
