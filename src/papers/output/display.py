"""Display of a run: a tqdm bar on stderr, plain log lines, or nothing.

Counting lives in `Stats`, owned by the result processor; a reporter only
shows it, so `--no-progress` swaps the display and nothing else.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import Any, TextIO

from papers.redact import redact


@dataclass(slots=True)
class Stats:
    """Counts of a run, updated only by the result processor."""

    total: int = 0          # papers read from the input so far
    expected: int = 0       # estimate of the final total while the input is still being read
    input_done: bool = False
    downloaded: int = 0
    found: int = 0          # consolidate: papers with PDF candidates
    skipped: int = 0
    failed: int = 0
    not_found: int = 0      # consolidate: asked everywhere, no PDF exists
    duplicates: int = 0     # of the downloaded, those that are another paper's file
    blocked: int = 0        # of the failed, those that met a wall (said once per host)
    bytes: int = 0          # bytes received from the network in this run
    pending_bytes: int = 0  # bytes still to come of the large bodies in flight (their lengths)

    @property
    def done(self) -> int:
        """Papers finished either way."""
        return self.downloaded + self.found + self.skipped + self.failed + self.not_found


def human_bytes(n: float) -> str:
    """`1536` -> `1.5 KB` (powers of 1000, as download tools show rates)."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Reporter:
    """Interface of a display; the base class shows nothing (the null reporter)."""

    def update(self, stats: Stats) -> None:
        """Counts changed."""

    def log(self, line: str) -> None:
        """Show one line to a person without tearing the display."""

    def close(self, stats: Stats) -> None:
        """The run is over."""


class LineReporter(Reporter):
    """No bar: log lines go straight to a stream (stderr)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def log(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


_BAR = "{desc}: {n_fmt}/{total_fmt} |{bar}| [{elapsed}{postfix}]"
_BAR_ETA = "{desc}: {n_fmt}/{total_fmt} |{bar}| [{elapsed}<{left}{postfix}]"


def time_left(stats: Stats, elapsed: float) -> float | None:
    """Seconds until the run ends, or None while nothing says: the papers still to do at
    the pace so far, or the bytes the large downloads in flight still have to come at
    the rate so far, whichever is longer (a few big files would end a papers-only
    count at once)."""
    papers = elapsed / stats.done * (stats.total - stats.done) if stats.done else None
    rate = stats.bytes / elapsed if elapsed > 0 else 0.0
    data = stats.pending_bytes / rate if stats.pending_bytes > 0 and rate > 0 else None
    known = [t for t in (papers, data) if t is not None]
    return max(known) if known else None


def _bar_class(tqdm: Any) -> Any:
    class Bar(tqdm):  # type: ignore[misc, valid-type]
        """tqdm's bar with `{left}`: papers' own time remaining (`time_left`)."""

        left = "?"

        @property
        def format_dict(self) -> dict[str, Any]:
            return {**super().format_dict, "left": self.left}

    return Bar


class TqdmReporter(Reporter):
    """A tqdm bar on stderr: papers done of total, time remaining once the total is
    known, ok/failed counts, and bytes with their rate (downloads) or what was found
    (consolidate, which moves no file: `bytes=False`)."""

    def __init__(self, stream: TextIO | None = None, clock=time.monotonic, bytes: bool = True) -> None:
        from tqdm import tqdm  # imported only when a bar is shown

        self._tqdm = tqdm
        self.stream = stream or sys.stderr
        self.clock = clock
        self.bytes = bytes
        self.started = clock()
        self._last_postfix = 0.0
        # A terminal that reports no width (a bare pty) would get an empty bar.
        sized = _width(self.stream) > 0
        self.bar = _bar_class(tqdm)(total=0, unit="paper", desc="papers", file=self.stream, leave=True,
                        dynamic_ncols=sized, ncols=None if sized else shutil.get_terminal_size().columns,
                        mininterval=0.2, bar_format=_BAR)

    def update(self, stats: Stats) -> None:
        bar = self.bar
        # The total is counted in batches: never show fewer than are done.
        total = max(stats.total, stats.done) if stats.input_done else max(stats.total, stats.expected, stats.done)
        if bar.total != total:
            bar.total = total
        if (stats.input_done or stats.expected) and bar.bar_format != _BAR_ETA:
            bar.bar_format = _BAR_ETA  # the total is known: time remaining means something
        delta = stats.done - bar.n
        now = self.clock()
        if delta or now - self._last_postfix > 0.5:
            self._last_postfix = now
            left = time_left(stats, now - self.started)
            bar.left = "?" if left is None else self._tqdm.format_interval(left)
            bar.set_postfix_str(self._postfix(stats, now), refresh=False)
            bar.update(delta)

    def _postfix(self, stats: Stats, now: float) -> str:
        if not self.bytes:
            done = f", from the checkpoint {stats.skipped}" if stats.skipped else ""
            return f"with PDF {stats.found}, without {stats.not_found}, failed {stats.failed}{done}"
        rate = stats.bytes / max(now - self.started, 1e-6)
        return (f"ok {stats.downloaded + stats.skipped}, failed {stats.failed}, "
                f"{human_bytes(stats.bytes)}, {human_bytes(rate)}/s")

    def log(self, line: str) -> None:
        self._tqdm.write(line, file=self.stream)

    def close(self, stats: Stats) -> None:
        self.update(stats)
        self.bar.refresh()
        self.bar.close()


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


class ReporterLogHandler(logging.Handler):
    """Routes `logging` records through a reporter so that log lines never tear the bar."""

    def __init__(self, reporter: Reporter) -> None:
        super().__init__()
        self.reporter = reporter
        self.setFormatter(logging.Formatter("papers: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Every line, whoever logged it: a URL may carry a key or a password.
            self.reporter.log(redact(self.format(record)))
        except Exception:  # logging must never break a download
            self.handleError(record)


def failure_text(paper_id: str, error: str) -> str:
    """`id: error`, or the error alone when it starts with the id already (a bad input
    entry's error names its `file:line`, which is its id)."""
    return error if error.startswith(f"{paper_id}: ") else f"{paper_id}: {error}"


def display_for(settings: Any, bar_allowed: bool = True,
                bytes: bool = True) -> tuple[Reporter, bool]:
    """The reporter for a run (a bar when stderr is a terminal, or --progress says so),
    with the `papers` logger routed through it; and whether it shows a bar."""
    show_bar = settings.progress if settings.progress is not None else sys.stderr.isatty()
    show_bar = show_bar and bar_allowed and settings.verbosity >= 0
    reporter = TqdmReporter(sys.stderr, bytes=bytes) if show_bar else LineReporter(sys.stderr)
    logger = logging.getLogger("papers")
    logger.handlers[:] = [ReporterLogHandler(reporter)]
    logger.propagate = False
    logger.setLevel({-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(
        min(settings.verbosity, 2), logging.DEBUG))
    return reporter, show_bar
