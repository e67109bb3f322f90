"""The library API of `papers download`: plan, fetch concurrently, record, report.

Nothing here imports click; the CLI maps flags to `Settings` and the returned
`Summary` to an exit code.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TextIO

from papers.inputs import InputError
from papers.messages import MessageType, Outcome, QueueMessage
from papers.models import Paper
from papers.naming import path_for
from papers.processor import ResultProcessor
from papers.reporting import NullReporter, Reporter, Stats
from papers.settings import Settings
from papers.state import StateError, StateStore

log = logging.getLogger("papers")

ABANDON_SECONDS = 2.0      # after a stop signal, in-flight papers get this long to notice
QUEUE_SIZE = 10_000        # bounded, so a fast reader cannot flood memory
UNRESOLVED = ("cannot resolve {what} to a PDF URL in this version: identifier lookup is not "
              "available yet; give a PDF URL, or a record with pdf_url")


@dataclass(slots=True)
class Summary:
    """What a run did, for the exit code and the closing summary."""

    stats: Stats
    failures: list[tuple[str, str]] = field(default_factory=list)
    interrupted: bool = False
    output_closed: bool = False
    input_error: str | None = None
    fatal_error: str | None = None
    output_dir: str = ""
    state_path: str = ""


def plan(paper: Paper, path: str, prior: dict[str, Any] | None, retry_failed: bool) -> Outcome | None:
    """Decide without any network request whether `paper` needs fetching.

    Returns the outcome to report when it does not (already downloaded, a
    known permanent failure, nothing fetchable), or None to fetch it.
    """
    if paper.problem:
        return Outcome(status="failed", error=paper.problem, permanent=False)
    if prior and prior.get("status") == "downloaded":
        done_path = prior.get("path") or path
        try:
            size = os.path.getsize(done_path)
        except OSError:
            size = -1
        if size == prior.get("bytes"):
            return Outcome(status="skipped", path=done_path, bytes=size, sha256=prior.get("sha256"),
                           url=prior.get("url"))
        # The file was deleted or changed: fetch it again.
    if not paper.urls:
        what = ", ".join(paper.identifiers) or paper.id
        return Outcome(status="failed", error=UNRESOLVED.format(what=what), permanent=False)
    if prior and prior.get("status") == "failed" and prior.get("permanent") and not retry_failed:
        return Outcome(status="failed", permanent=True, url=prior.get("url"),
                       error=f"{prior.get('error')} [failed permanently before; --retry-failed tries again]")
    return None


def _message_for(outcome: Outcome) -> MessageType:
    return {
        "downloaded": MessageType.DOWNLOAD_COMPLETE,
        "skipped": MessageType.DOWNLOAD_SKIPPED,
    }.get(outcome.status, MessageType.DOWNLOAD_FAILED)


class _InFlight:
    """Counts submitted papers not yet finished; bounds how many are queued ahead."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self.cond = threading.Condition()

    def acquire(self, cancel: threading.Event) -> bool:
        with self.cond:
            while self.count >= self.limit:
                if cancel.is_set():
                    return False
                self.cond.wait(0.2)
            self.count += 1
            return True

    def release(self, _future: Any = None) -> None:
        with self.cond:
            self.count -= 1
            self.cond.notify_all()

    def wait_empty(self, cancel: threading.Event | None, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.cond:
            while self.count:
                if cancel is not None and cancel.is_set():
                    return False
                left = 0.2 if deadline is None else min(0.2, deadline - time.monotonic())
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True


class _QueueLogHandler(logging.Handler):
    """Sends log records from other threads through the queue, so that only the
    processor thread writes to the display; the processor's own go straight out."""

    def __init__(self, q: queue.Queue, processor: ResultProcessor, thread: threading.Thread) -> None:
        super().__init__()
        self.q = q
        self.processor = processor
        self.thread = thread

    def emit(self, record: logging.LogRecord) -> None:
        if threading.current_thread() is self.thread or not self.thread.is_alive():
            self.processor.process(QueueMessage(MessageType.LOG, record=record))
        else:
            self.q.put(QueueMessage(MessageType.LOG, record=record))


def run_download(settings: Settings, papers: Iterable[Paper], *, out: TextIO | None,
                 reporter: Reporter | None = None, cancel: threading.Event | None = None,
                 clock: Callable[[], float] = time.time,
                 expected: int | None = None) -> Summary:
    """Download `papers` as `settings` say; block until done or cancelled.

    Raises StateError when the state file is locked, unreadable or corrupt
    (before anything is fetched). `expected` is a guess of the number of
    papers, for the progress bar. Setting `cancel` stops the run: no new
    papers start, in-flight ones are abandoned within ABANDON_SECONDS (their
    `.part` kept), the state is saved.
    """
    from papers.fetch import FetchConfig, Fetcher  # requests is imported only when needed
    from papers.hosts import HostLimiter
    from papers.retry import RetryPolicy

    reporter = reporter or NullReporter()
    cancel = cancel or threading.Event()
    output_dir = os.path.abspath(settings.output_dir)
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise StateError(f"output directory {output_dir}: cannot create ({e.strerror})") from None
    state = StateStore(settings.state_path)
    state.lock()
    try:
        state.load()
    except StateError:
        state.close(compact=False)
        raise

    q: queue.Queue[QueueMessage] = queue.Queue(maxsize=QUEUE_SIZE)
    output_closed = threading.Event()

    def on_output_closed() -> None:
        output_closed.set()
        cancel.set()

    processor = ResultProcessor(q, state, reporter, out, settings.json, clock=clock,
                                save_interval=settings.save_interval,
                                on_output_closed=on_output_closed, on_fatal=cancel.set)
    results_thread = threading.Thread(target=processor.run, name="papers-results", daemon=True)
    processor.log_handlers = log.handlers[:]
    log.handlers[:] = [_QueueLogHandler(q, processor, results_thread)]
    results_thread.start()
    if expected:
        q.put(QueueMessage(MessageType.TOTAL_ESTIMATE, count=expected))

    fetcher = Fetcher(
        FetchConfig(timeout=settings.timeout, max_size=settings.max_size,
                    chunk_size=settings.chunk_size, user_agent=settings.user_agent,
                    policy=RetryPolicy(max_retries=settings.max_retries,
                                       backoff_base=settings.backoff_base,
                                       backoff_max=settings.backoff_max,
                                       retry_after_max=settings.retry_after_max)),
        HostLimiter(settings.max_per_host, settings.rate_limit, cancel),
        cancel, q.put, clock=clock)

    def work(paper: Paper, path: str, prior: dict[str, Any] | None) -> None:
        if cancel.is_set():
            return
        q.put(QueueMessage(MessageType.DOWNLOAD_STARTED, paper=paper))
        try:
            outcome = fetcher.fetch(paper, path, prior)
        except Exception as e:  # a bug must cost one paper, not the run
            log.debug("internal error on %s", paper.id, exc_info=True)
            outcome = Outcome(status="failed", error=f"internal error: {type(e).__name__}: {e}")
        q.put(QueueMessage(_message_for(outcome), paper=paper, outcome=outcome))

    inflight = _InFlight(settings.workers * 2)
    executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="papers-worker")
    input_error = None
    try:
        for paper in unique(papers):
            if cancel.is_set():
                break
            q.put(QueueMessage(MessageType.PAPER_QUEUED, paper=paper))
            try:
                path = path_for(paper, output_dir)
            except ValueError as e:
                q.put(QueueMessage(MessageType.DOWNLOAD_FAILED, paper=paper,
                                   outcome=Outcome(status="failed", error=str(e), permanent=True)))
                continue
            # Safe to read from this thread: the processor writes a paper's record only
            # after its work was submitted below, and unique() stops us asking again.
            prior = state.get(paper.key)
            decided = plan(paper, path, prior, settings.retry_failed)
            if decided is not None:
                q.put(QueueMessage(_message_for(decided), paper=paper, outcome=decided))
                continue
            if not inflight.acquire(cancel):
                break
            executor.submit(work, paper, path, prior).add_done_callback(inflight.release)
    except InputError as e:
        input_error = str(e)
    finally:
        # Whatever happened above, in-flight papers settle and the state is saved.
        q.put(QueueMessage(MessageType.INPUT_DONE))
        inflight.wait_empty(cancel)
        if cancel.is_set():
            inflight.wait_empty(None, timeout=ABANDON_SECONDS)
        executor.shutdown(wait=False, cancel_futures=True)
        q.put(QueueMessage(MessageType.STOP))
        # The processor only has the queue left to drain and the state to save.
        results_thread.join(timeout=60)
        log.handlers[:] = processor.log_handlers
    return Summary(stats=processor.stats, failures=processor.failures,
                   interrupted=cancel.is_set() and not output_closed.is_set()
                   and processor.fatal_error is None,
                   output_closed=output_closed.is_set(), input_error=input_error,
                   fatal_error=processor.fatal_error,
                   output_dir=output_dir, state_path=state.path)


def unique(papers: Iterable[Paper]) -> Iterator[Paper]:
    """Each paper once: later spellings of a key already seen are dropped."""
    seen: set[str] = set()
    for paper in papers:
        if paper.key not in seen:
            seen.add(paper.key)
            yield paper


def dry_run(settings: Settings, papers: Iterable[Paper], *, out: TextIO) -> Summary:
    """Show what `run_download` would fetch, fetching nothing and writing nothing."""
    import json

    output_dir = os.path.abspath(settings.output_dir)
    state = StateStore(settings.state_path)
    state.load()
    stats = Stats()
    input_error = None
    try:
        for paper in unique(papers):
            stats.total += 1
            path = path_for(paper, output_dir)
            decided = plan(paper, path, state.get(paper.key), settings.retry_failed)
            if decided is None:
                status, url, error = "would_download", paper.urls[0], None
            else:
                status, url, error = decided.status, decided.url or (paper.urls[0] if paper.urls else None), decided.error
            if status == "failed":
                stats.failed += 1
            elif status == "skipped":
                stats.skipped += 1
            if settings.json:
                line = {"id": paper.id, "status": status, "path": path, "url": url,
                        "urls": list(paper.urls), "error": error}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            else:
                out.write(f"{status}\t{paper.id}\t{url or '-'}\t{path}" +
                          (f"\t{error}" if error else "") + "\n")
    except InputError as e:
        input_error = str(e)
    out.flush()
    return Summary(stats=stats, input_error=input_error, output_dir=output_dir, state_path=state.path)
