"""The result processor: the one thread that drains the queue.

As aws-cli's `s3/results.py` does, it hands each message to two handlers: the
`Recorder` (counts, the state file, directory syncs), the only writer of the
state, and the `Printer` (JSON lines on stdout, the bar, log lines). Each
dispatches on the message's class.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import time
from collections.abc import Callable
from typing import Any, TextIO

from papers.disk.durable import fsync_dir
from papers.download.blocked import advice
from papers.errors import PapersError, StdoutError
from papers.inputs.ids import ID_KINDS
from papers.model import Outcome, Paper, Status
from papers.output.display import Reporter, Stats, failure_text
from papers.pipeline.messages import (AlreadyDone, DownloadComplete, DownloadFailed,
                                      DownloadInterrupted, DownloadSkipped, InputDone, LogMessage,
                                      PapersQueued, ProgressUpdate, QueueMessage, Stop,
                                      TotalEstimate)
from papers.redact import redacted
from papers.state.records import changes_record, iso, record_outcome
from papers.state.store import StateStore

log = logging.getLogger("papers")

MAX_LISTED_FAILURES = 20
DIR_SYNC_INTERVAL = 0.05  # seconds: one directory fsync covers every rename in this window


def result_line(paper: Paper, outcome: Outcome) -> dict[str, Any]:
    """The JSON object printed on stdout for one finished paper (secrets in URLs masked)."""
    line = {
        "id": redacted(paper.id),
        "status": outcome.status.value,
        "path": outcome.path,
        "bytes": outcome.bytes,
        "sha256": outcome.sha256,
        "url": redacted(outcome.url),
        "pdf_url": redacted(outcome.pdf_url),
        "error": redacted(outcome.error),
    }
    if outcome.landing_page:
        line["landing_page"] = redacted(outcome.landing_page)
    if outcome.duplicate_of:
        line["duplicate_of"] = redacted(outcome.duplicate_of)
    if outcome.version:
        line["version"] = outcome.version
    if outcome.license:
        line["license"] = outcome.license
    if outcome.identity:
        line["identity"] = outcome.identity
        if outcome.identity == "mismatch" and outcome.status is Status.FAILED:
            line["error_kind"] = "wrong_paper"
    if outcome.blocked:  # a wall, named: what it is and whose
        line.update(error_kind="blocked", blocked=outcome.blocked, blocked_at=outcome.blocked_at)
    if paper.title:
        line["title"] = paper.title
    for kind in ID_KINDS:
        value = getattr(paper, kind)
        if value:
            line[kind] = value
    if outcome.status is not Status.SKIPPED:
        line["attempts"] = outcome.attempts
    match = paper.extra.get("match")
    if match:  # a reference string's: a failed one says how (ambiguous, not_found)
        line["match"] = match
        if outcome.status is Status.FAILED and match.get("status") != "matched":
            line["status"] = match["status"]
    return line


Handler = Callable[[Any], None]


class _Dispatcher:
    """Calls the handler registered in `handlers` for a message's class, if any."""

    handlers: dict[type[QueueMessage], Handler]

    def handle(self, msg: QueueMessage) -> None:
        """Handle one message."""
        handler = self.handlers.get(type(msg))
        if handler is not None:
            handler(msg)


class Recorder(_Dispatcher):
    """Counts, failures and the state file: the only writer of the state.

    Subclasses add handlers to `handlers`, keyed by message class.
    """

    def __init__(self, state: StateStore | None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, save_interval: float = 1.0,
                 sync_dir: str | None = None,
                 on_fatal: Callable[[], None] | None = None, command: str = "download",
                 run_facts: dict[str, Any] | None = None) -> None:
        self.state = state
        self.clock = clock
        self.monotonic = monotonic
        self.save_interval = save_interval
        self.sync_dir = sync_dir  # the output directory, fsynced before journal writes
        self.on_fatal = on_fatal or (lambda: None)
        self.stats = Stats()
        self.failures: list[tuple[str, str]] = []
        self.fatal_error: str | None = None   # the state cannot be written
        self.stop_reason: str | None = None   # a worker found the output cannot be written
        self._renamed: set[str] = set()  # folders with renames not yet made durable
        self._last_sync = monotonic()
        self._last_dir_sync = 0.0
        self.handlers: dict[type[QueueMessage], Handler] = {
            PapersQueued: self._on_queued,
            TotalEstimate: self._on_expected,
            InputDone: self._on_input_done,
            Stop: self._on_stop,
        }
        if state is not None:
            state.note_run(started=iso(clock()), command=command, **(run_facts or {}))

    def fail(self, error: Exception) -> None:
        """The state cannot be written: remember why (once) and stop the run."""
        if self.fatal_error is None:
            what = getattr(error, "strerror", None) or str(error) or type(error).__name__
            where = getattr(error, "filename", None)
            self.fatal_error = f"cannot record results{f' in {where}' if where else ''}: {what}"
            log.error("%s; stopping", self.fatal_error)
            self.on_fatal()

    def note_failure(self, paper_id: str, error: str | None) -> None:
        """Count a failed paper and keep the first few for the summary."""
        self.stats.failed += 1
        if len(self.failures) < MAX_LISTED_FAILURES:
            self.failures.append((redacted(paper_id), redacted(error) or "failed"))

    def idle(self) -> None:
        """Nothing waiting: a good moment to push journal lines out."""
        if self._renamed and self.monotonic() - self._last_dir_sync < DIR_SYNC_INTERVAL:
            return  # renames wait for the next grouped directory fsync, and so do their records
        self._sync_renames()
        if self.state is None:
            return
        self.state.flush()
        now = self.monotonic()
        if now - self._last_sync >= self.save_interval:
            self._last_sync = now
            self.state.sync()
            if self.state.compact_due():
                self.state.compact()

    def _sync_renames(self) -> None:
        if self._renamed and self.sync_dir:
            # Group commit: one fsync per folder makes every rename since the last one
            # durable before the journal records them (workers do not fsync it each).
            folders, self._renamed = self._renamed, set()
            self._last_dir_sync = self.monotonic()
            for folder in sorted(folders):
                fsync_dir(folder)

    def _on_queued(self, msg: Any) -> None:
        self.stats.total += msg.count

    def _on_expected(self, msg: Any) -> None:
        self.stats.expected = msg.count

    def _on_input_done(self, msg: Any) -> None:
        self.stats.input_done = True

    def _on_stop(self, msg: Any) -> None:
        self._sync_renames()
        if self.state is not None:
            self.state.note_run(ended=iso(self.clock()))
            self.state.close()


class Printer(_Dispatcher):
    """What a person or a pipeline sees: JSON lines on stdout, the bar, log lines.

    Reads the recorder's counts; writes nothing else. Subclasses add handlers.
    """

    def __init__(self, stats: Stats, reporter: Reporter | None = None, out: TextIO | None = None,
                 json_output: bool = False,
                 on_output_closed: Callable[[], None] | None = None) -> None:
        self.stats = stats
        self.reporter = reporter or Reporter()
        self.out = out
        self.json_output = json_output
        self.on_output_closed = on_output_closed
        self.output_closed = False
        self.stdout_error: StdoutError | None = None
        self.log_handlers: list[logging.Handler] = []
        self.handlers: dict[type[QueueMessage], Handler] = {
            InputDone: self._on_update,
            LogMessage: self._on_log,
            Stop: self._on_stop,
        }

    def idle(self) -> None:
        """Nothing waiting: push output out and redraw."""
        self.flush()
        self.reporter.update(self.stats)

    def emit(self, line: str) -> None:
        """One line on stdout (dropped once the reader has gone)."""
        if self.output_closed or self.out is None:
            return
        try:
            self.out.write(line + "\n")
        except (BrokenPipeError, ValueError):
            self._closed()
        except StdoutError as e:
            self._failed(e)

    def flush(self) -> None:
        """Flush stdout."""
        if self.output_closed or self.out is None:
            return
        try:
            self.out.flush()
        except (BrokenPipeError, ValueError):
            self._closed()
        except StdoutError as e:
            self._failed(e)

    def _failed(self, error: StdoutError) -> None:
        # Results cannot reach stdout (a full disk): stop as for a closed pipe, and let
        # the run say why (`raise_stdout_error`).
        self.stdout_error = error
        self._closed()

    def raise_stdout_error(self) -> None:
        """Raise the StdoutError that stopped the output, if one did."""
        if self.stdout_error is not None:
            raise StdoutError(self.stdout_error.errno, self.stdout_error.strerror)

    def _closed(self) -> None:
        # The reader of our stdout went away (`| head`): stop quietly, like `cat` does.
        self.output_closed = True
        if self.on_output_closed is not None:
            self.on_output_closed()

    def _on_update(self, msg: Any) -> None:
        self.reporter.update(self.stats)

    def _on_log(self, msg: Any) -> None:
        for handler in self.log_handlers:
            if msg.record.levelno >= handler.level:
                handler.handle(msg.record)

    def _on_stop(self, msg: Any) -> None:
        self.flush()
        self.reporter.close(self.stats)


class ResultProcessor:
    """Drains the queue and hands each message to the recorder, then the printer.

    Run it in its own thread with `run()`, or drive it synchronously in tests
    with `process()` on each message.
    """

    def __init__(self, q: queue.Queue | None, recorder: Recorder, printer: Printer,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.queue = q
        self.recorder = recorder
        self.printer = printer
        self.monotonic = monotonic
        self.stopped = False

    def run(self) -> None:
        """Process messages until STOP (thread body)."""
        assert self.queue is not None
        last_idle = self.monotonic()
        while not self.stopped:
            try:
                msg = self.queue.get(timeout=0.2)
            except queue.Empty:
                msg = None
            try:
                if msg is not None:
                    self.process(msg)
                # Flush when the queue runs dry, and at least every 0.2 s under a
                # steady stream, so a kill -9 loses almost nothing.
                if msg is None or self.queue.empty() or self.monotonic() - last_idle > 0.2:
                    last_idle = self.monotonic()
                    self.printer.idle()
                    self.recorder.idle()
            except Exception as e:  # e.g. the disk is full: stop the run, keep draining
                self.recorder.fail(e)
                if isinstance(msg, Stop):
                    self.stopped = True

    def process(self, msg: QueueMessage) -> None:
        """Handle one message."""
        if isinstance(msg, Stop):
            self.stopped = True
        self.recorder.handle(msg)
        self.printer.handle(msg)


class DownloadRecorder(Recorder):
    """Counts and records the outcomes of `papers download`; with `bibtex`, writes the
    downloaded papers into that BibTeX library when the run ends."""

    def __init__(self, *args: Any, bibtex: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.bibtex = bibtex
        # The downloaded papers for the --bibtex library, as output.library.Shelved takes
        # them: (paper, PDF, version, licence); the library loads only when written.
        self.library: list[tuple[Paper, str, str | None, str | None]] = []
        self.walls: dict[tuple[str, str], int] = {}   # (host, kind): papers blocked there
        self.handlers.update({
            ProgressUpdate: self._on_progress,
            DownloadComplete: self._on_result,
            DownloadSkipped: self._on_result,
            DownloadFailed: self._on_result,
            DownloadInterrupted: self._on_interrupted,
            AlreadyDone: self._on_already_done,
        })

    def wall_lines(self) -> list[str]:
        """The summary's line for each host that walled papers off, most papers first."""
        ranked = sorted(self.walls.items(), key=lambda kv: -kv[1])
        return [advice(kind, host, n) for (host, kind), n in ranked]

    def _on_progress(self, msg: Any) -> None:
        self.stats.bytes += msg.nbytes
        self.stats.pending_bytes += msg.expected

    def _on_stop(self, msg: Any) -> None:
        if self.bibtex:
            _write_library(self)
        super()._on_stop(msg)

    def _on_already_done(self, msg: Any) -> None:
        # From the planner's fast path: the state says downloaded and the file is in
        # place. Nothing to record; count.
        self.stats.skipped += len(msg.batch)
        if self.bibtex:
            self.library += [(paper, rec.path, rec.version, rec.license)
                             for paper, rec in msg.batch if rec.path]

    def _on_interrupted(self, msg: Any) -> None:
        # Not a result: remember the kept .part's validators so the next run resumes it.
        paper, outcome = msg.paper, msg.outcome
        self.stats.bytes += outcome.unreported
        if self.state is not None:
            self.state.put(paper.key, record_outcome(paper, outcome, self.state.get(paper.key),
                                                   self.clock()))

    def _on_result(self, msg: Any) -> None:
        paper, outcome = msg.paper, msg.outcome
        stats = self.stats
        stats.bytes += outcome.unreported
        if self.bibtex and outcome.path and outcome.status in (Status.DOWNLOADED, Status.SKIPPED):
            self.library.append((paper, outcome.path, outcome.version, outcome.license))
        if outcome.status is Status.DOWNLOADED and outcome.duplicate_of:
            stats.downloaded += 1
            stats.duplicates += 1
            log.info("%s is the same file as %s: %s", paper.id, outcome.duplicate_of, outcome.path)
        elif outcome.status is Status.DOWNLOADED:
            self._renamed.add(os.path.dirname(outcome.path) if outcome.path else self.sync_dir or "")
            stats.downloaded += 1
            log.info("downloaded %s -> %s", paper.id, outcome.path)  # the log handler redacts
        elif outcome.status is Status.SKIPPED:
            stats.skipped += 1
            log.debug("already there: %s -> %s", paper.id, outcome.path)
        elif outcome.blocked:  # said once per host at the end, not once per paper
            stats.failed += 1
            stats.blocked += 1
            where = (outcome.blocked_at or "", outcome.blocked)
            self.walls[where] = self.walls.get(where, 0) + 1
            log.info("failed %s", failure_text(paper.id, outcome.error or "blocked"))
        else:
            self.note_failure(paper.id, outcome.error)
            if outcome.fatal and self.stop_reason is None:
                self.stop_reason = outcome.error
                log.error("stopping: %s; finished files are safe, re-run to resume", outcome.error)
                self.on_fatal()
            # The closing summary (or the JSON line) says it too; as it happens only with -v.
            log.info("failed %s", failure_text(paper.id, outcome.error or "failed"))
        if self.state is not None:
            prior = self.state.get(paper.key)
            if changes_record(outcome, prior):
                self.state.put(paper.key, record_outcome(paper, outcome, prior, self.clock()))


class DownloadPrinter(Printer):
    """Prints the outcomes of `papers download`: a JSON line each with --json, and the bar."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.handlers.update({
            PapersQueued: self._on_update, ProgressUpdate: self._on_update,
            DownloadComplete: self._on_result, DownloadSkipped: self._on_result,
            DownloadFailed: self._on_result, AlreadyDone: self._on_already_done})

    def _on_result(self, msg: Any) -> None:
        if self.json_output:
            self.emit(json.dumps(result_line(msg.paper, msg.outcome), ensure_ascii=False))
        self.reporter.update(self.stats)

    def _on_already_done(self, msg: Any) -> None:
        if self.json_output:
            for paper, rec in msg.batch:
                outcome = Outcome(status=Status.SKIPPED, path=rec.path, bytes=rec.bytes or 0,
                                  sha256=rec.sha256, url=rec.url, pdf_url=rec.pdf_url,
                                  version=rec.version, license=rec.license)
                self.emit(json.dumps(result_line(paper, outcome), ensure_ascii=False))
        self.reporter.update(self.stats)


def _write_library(recorder: DownloadRecorder) -> None:
    from papers.output import library

    try:
        library.update(recorder.bibtex or "", recorder.library)
    except (OSError, PapersError) as e:
        reason = f"cannot write the library {recorder.bibtex}: {getattr(e, 'strerror', None) or e}"
        log.error("%s", reason)
        recorder.stop_reason = recorder.stop_reason or reason


def download_processor(q: queue.Queue | None, state: StateStore | None,
                       reporter: Reporter | None = None, out: TextIO | None = None,
                       json_output: bool = False, *, clock: Callable[[], float] = time.time,
                       save_interval: float = 1.0, sync_dir: str | None = None,
                       on_output_closed: Callable[[], None] | None = None,
                       on_fatal: Callable[[], None] | None = None,
                       bibtex: str | None = None, naming: str | None = None) -> ResultProcessor:
    """The processor of `papers download`: its recorder and printer, wired. `naming`
    (the --name template, or None) is noted in the state's run line."""
    recorder = DownloadRecorder(state, clock=clock, save_interval=save_interval,
                                sync_dir=sync_dir, on_fatal=on_fatal, bibtex=bibtex,
                                run_facts={"naming": naming})
    printer = DownloadPrinter(recorder.stats, reporter, out, json_output,
                              on_output_closed=on_output_closed)
    return ResultProcessor(q, recorder, printer)
