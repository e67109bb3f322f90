"""The runner shared by download and consolidate: a worker pool feeding one processor
thread, and what a run returns (a `Summary` with one `Ending`)."""

from __future__ import annotations

import enum
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from papers.model import Paper
from papers.output.display import Stats
from papers.pipeline.messages import InputDone, LogMessage, QueueMessage, Stop
from papers.pipeline.processor import ResultProcessor
from papers.settings import UNPAYWALL_DAILY_CALLS, Settings

if TYPE_CHECKING:
    from papers.discovery.resolver import Resolver
    from papers.discovery.sources.base import Source
    from papers.net.hosts import HostLimiter
    from papers.net.netconf import NetConfig
    from papers.net.retry import RetryPolicy

log = logging.getLogger("papers")

ABANDON_SECONDS = 2.0      # after a stop signal, in-flight work gets this long to notice
QUEUE_SIZE = 10_000        # bounded, so a fast reader cannot flood memory
BATCH = 256                # papers counted (or found done) per message from the planner


class _InFlight:
    """Counts submitted work not yet finished; bounds how much is queued ahead."""

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
            self.processor.process(LogMessage(record))
        else:
            self.q.put(LogMessage(record))


class Pipeline:
    """Starts the processor thread and a ThreadPoolExecutor; `close` shuts both down.

    Use as a context manager: whatever happens inside, in-flight work settles
    (or is abandoned after a stop signal), STOP is sent and the processor
    saves the state.
    """

    def __init__(self, make_processor: Callable[[queue.Queue], ResultProcessor], workers: int,
                 cancel: threading.Event, on_input_end: Callable[[], None] | None = None,
                 extra: int = 0) -> None:
        self.q: queue.Queue[QueueMessage] = queue.Queue(maxsize=QUEUE_SIZE)
        self.processor = make_processor(self.q)
        self.cancel = cancel
        self.thread = threading.Thread(target=self.processor.run, name="papers-results", daemon=True)
        self.inflight = _InFlight(workers * 2)
        self.executor = ThreadPoolExecutor(max_workers=workers + extra,
                                           thread_name_prefix="papers-worker")
        self._saved_handlers: list[logging.Handler] = []
        self.workers = workers
        self.extra = extra                 # loops beyond `workers`, started by `start_loop(extra=)`
        self.loops = 0                     # workers started on a loop (start_loop)
        self.on_input_end = on_input_end

    def __enter__(self) -> "Pipeline":
        self.processor.printer.log_handlers = log.handlers[:]
        self._saved_handlers = log.handlers[:]
        log.handlers[:] = [_QueueLogHandler(self.q, self.processor, self.thread)]
        self.thread.start()
        return self

    def put(self, msg: QueueMessage) -> None:
        """Send a message to the processor."""
        self.q.put(msg)

    def submit(self, fn: Callable[..., None], *args: Any) -> bool:
        """Run `fn(*args)` on a worker; blocks while enough work is queued. False if stopping."""
        if not self.inflight.acquire(self.cancel):
            return False
        self.executor.submit(fn, *args).add_done_callback(self.inflight.release)
        return True

    def start_loop(self, loop: Callable[[], None], extra: bool = False) -> None:
        """Run `loop` on one more worker, while fewer than `workers` run it (each pulls
        its own work until there is none): one per job queued, so that a run of three
        papers starts three threads, not `--workers`. `extra`: up to `extra` more, for a
        worker that lends its turn out while it checks a PDF."""
        with self.inflight.cond:  # the planner and the lookup stage both start them
            if self.loops >= self.workers + (self.extra if extra else 0):
                return
            self.loops += 1
            self.inflight.count += 1
        self.executor.submit(loop).add_done_callback(self.inflight.release)

    def __exit__(self, *exc: Any) -> None:
        if self.on_input_end is not None:
            self.on_input_end()
        self.put(InputDone())
        self.inflight.wait_empty(self.cancel)
        if self.cancel.is_set():
            self.inflight.wait_empty(None, timeout=ABANDON_SECONDS)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.put(Stop())
        # The processor only has the queue left to drain and the state to save.
        self.thread.join(timeout=60)
        log.handlers[:] = self._saved_handlers


class Ending(enum.Enum):
    """How a run ended, most serious first; the CLI maps each to an exit status."""

    OUTPUT_CLOSED = "output_closed"  # stdout's reader went away (`| head`)
    STATE_FAILED = "state_failed"    # the state file cannot be written: `reason`
    BAD_INPUT = "bad_input"          # the input broke off: `reason`
    STOPPED = "stopped"              # the output cannot be written (disk full): `reason`
    INTERRUPTED = "interrupted"      # a signal stopped it
    COMPLETE = "complete"            # every paper was processed


@dataclass(slots=True)
class Summary:
    """What a run did, for the exit code and the closing summary."""

    stats: Stats
    failures: list[tuple[str, str]] = field(default_factory=list)
    ending: Ending = Ending.COMPLETE
    reason: str | None = None        # what ended it, unless COMPLETE or INTERRUPTED
    output_dir: str = ""
    state_path: str = ""
    notes: list[str] = field(default_factory=list)  # for the closing summary (what set the pace)
    walls: list[str] = field(default_factory=list)  # one line a walled host, with its fix


def ending_of(cancelled: bool, output_closed: bool, state_error: str | None,
              input_error: str | None, stop_reason: str | None) -> tuple[Ending, str | None]:
    """The one ending of a run from all that happened in it, most serious first."""
    for ending, reason in ((Ending.STATE_FAILED, state_error), (Ending.BAD_INPUT, input_error),
                           (Ending.STOPPED, stop_reason)):
        if reason is not None and not output_closed:
            return ending, reason
    if output_closed:
        return Ending.OUTPUT_CLOSED, None
    return (Ending.INTERRUPTED if cancelled else Ending.COMPLETE), None


def policy_of(settings: Settings) -> "RetryPolicy":
    """The retry policy the settings ask for."""
    from papers.net.retry import RetryPolicy

    return RetryPolicy(max_retries=settings.max_retries, backoff_base=settings.backoff_base,
                       backoff_max=settings.backoff_max, retry_after_max=settings.retry_after_max)


def warn_unpaywall(settings: Settings, expected: int | None) -> None:
    """Say before a run starts that it may pass Unpaywall's 100,000 calls a day."""
    if expected and expected > UNPAYWALL_DAILY_CALLS and "unpaywall" in settings.use_sources \
            and settings.source("unpaywall").enabled:
        log.warning("this run may ask Unpaywall about up to %s papers; Unpaywall asks for at most "
                    "%s calls a day (disable it with --sources, or split the list over days)",
                    f"{expected:,}", f"{UNPAYWALL_DAILY_CALLS:,}")


def make_sources(settings: Settings, limiter: "HostLimiter", cancel: threading.Event,
                 net: "NetConfig | None" = None) -> "list[Source]":
    """The sources the settings enable, sharing one API client."""
    from papers.discovery.sources.registry import build_sources
    from papers.net.api import ApiClient

    net = net or settings.net()
    client = ApiClient(limiter, cancel, policy_of(settings), settings.timeout, net, settings.secrets)
    return build_sources(settings, client)


def make_resolver(settings: Settings, limiter: "HostLimiter", cancel: threading.Event,
                  net: "NetConfig | None" = None) -> "Resolver":
    """A Resolver over the sources the settings enable."""
    from papers.discovery.resolver import Resolver

    return Resolver(make_sources(settings, limiter, cancel, net), settings.secrets)


def unique(papers: Iterable[Paper]) -> Iterator[Paper]:
    """Each paper once: later spellings of a key already seen are dropped."""
    seen: set[str] = set()
    for paper in papers:
        if paper.key not in seen:
            seen.add(paper.key)
            yield paper
