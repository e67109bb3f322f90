"""The library API of `papers download`: plan, fetch concurrently, record, report.

Nothing here imports click; the CLI maps flags to `Settings` and the returned
`Summary` to an exit code.
"""

from __future__ import annotations

import enum
import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from papers.errors import InputError, StateError
from papers.messages import (AlreadyDone, Outcome, PapersQueued, Status, TotalEstimate,
                             result_message)
from papers.models import Paper, candidate_urls
from papers.naming import path_for
from papers.pipeline import Pipeline
from papers.processor import STATE_FIELDS, ResultProcessor, download_processor
from papers.reporting import NullReporter, Reporter, Stats
from papers.settings import Settings
from papers.state import StateStore

if TYPE_CHECKING:
    from papers.hosts import HostLimiter
    from papers.netconf import NetConfig
    from papers.resolve import Resolver
    from papers.retry import RetryPolicy

log = logging.getLogger("papers")

UNRESOLVED = ("cannot look up {what}: every source is disabled; give a PDF URL, "
              "or a record with pdf_url")


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


def plan(paper: Paper, path: str, prior: dict[str, Any] | None, retry_failed: bool,
         can_resolve: bool = True, doi_resolver: str | None = None) -> Outcome | None:
    """Decide without any network request whether `paper` needs fetching.

    Returns the outcome to report when it does not (already downloaded, a
    known permanent failure, nothing fetchable), or None to fetch it.
    `can_resolve`: some source can look identifiers up; a DOI can also go to
    `doi_resolver`.
    """
    if paper.problem:
        return Outcome(status=Status.FAILED, error=paper.problem, permanent=False)
    if prior and prior.get("status") == "downloaded":
        done_path = prior.get("path") or path
        try:
            size = os.path.getsize(done_path)
        except OSError:
            size = -1
        if size == prior.get("bytes"):
            return Outcome(status=Status.SKIPPED, path=done_path, bytes=size, sha256=prior.get("sha256"),
                           url=prior.get("url"), pdf_url=prior.get("pdf_url"))
        # The file was deleted or changed: fetch it again.
    if not paper.urls and not can_resolve and not (paper.doi and doi_resolver):
        what = ", ".join(paper.identifiers) or paper.id
        return Outcome(status=Status.FAILED, error=UNRESOLVED.format(what=what), permanent=False)
    if prior and prior.get("status") == "failed" and prior.get("permanent") and not retry_failed:
        return Outcome(status=Status.FAILED, permanent=True, url=prior.get("url"),
                       error=f"{prior.get('error')} [failed permanently before; --retry-failed tries again]")
    return None


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
    with _QuietGC() as quiet_gc:
        return _download(settings, papers, out, reporter, cancel, clock, expected, quiet_gc)


def _download(settings: Settings, papers: Iterable[Paper], out: TextIO | None,
              reporter: Reporter | None, cancel: threading.Event | None,
              clock: Callable[[], float], expected: int | None, quiet_gc: _QuietGC) -> Summary:
    from papers.fetch import FetchConfig, Fetcher  # the HTTP client loads only when a run starts
    from papers.errors import Cancelled
    from papers.hosts import HostLimiter, HostScheduler, Reservation, host_of

    reporter = reporter or NullReporter()
    cancel = cancel or threading.Event()
    output_dir = os.path.abspath(settings.output_dir)
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise StateError(f"output directory {output_dir}: cannot create ({e.strerror})") from None
    real_dir = os.path.realpath(output_dir)
    dir_prefix = real_dir.rstrip(os.sep) + os.sep
    # What is in the output dir now: papers whose files are absent skip those checks.
    try:
        on_disk = set(os.listdir(real_dir))  # plain names: a third of scandir's cost
    except OSError:
        on_disk = None
    state = StateStore.open(settings.state_path, STATE_FIELDS)
    seen: set[str] = set()
    quiet_gc.settle()
    output_closed = threading.Event()

    def on_output_closed() -> None:
        output_closed.set()
        cancel.set()

    def make_processor(q: queue.Queue) -> ResultProcessor:
        return download_processor(q, state, reporter, out, settings.json, clock=clock,
                                  save_interval=settings.save_interval, sync_dir=real_dir,
                                  on_output_closed=on_output_closed, on_fatal=cancel.set)

    net = settings.net()
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    scheduler = HostScheduler(limiter, max(1024, settings.workers * 64), cancel)
    pipeline = Pipeline(make_processor, settings.workers, cancel, on_input_end=scheduler.close)
    processor = pipeline.processor
    put = pipeline.put
    fetcher = Fetcher(
        FetchConfig(timeout=settings.timeout, max_size=settings.max_size,
                    chunk_size=settings.chunk_size, min_speed=settings.min_speed,
                    min_speed_window=settings.min_speed_window, policy=policy_of(settings),
                    net=net, doi_resolver=settings.doi_resolver),
        limiter, cancel, put, clock=clock)
    resolver_lock = threading.Lock()
    resolver_box: list[Resolver] = []

    def resolver() -> "Resolver":
        # Made on first use: a run of plain URLs never imports the API clients.
        with resolver_lock:
            if not resolver_box:
                resolver_box.append(make_resolver(settings, limiter, cancel, net))
            return resolver_box[0]

    can_resolve = any(settings.source(n).enabled for n in settings.use_sources)

    def worker_loop() -> None:
        while True:
            got = scheduler.get()
            if got is None:
                return
            reservation, (paper, path, prior, hints) = got
            try:
                work(paper, path, prior, reservation, hints)
            finally:
                if not reservation.taken:
                    limiter.release(reservation.key)

    def work(paper: Paper, path: str, prior: dict[str, Any] | None, reservation: Reservation,
             hints: tuple[bool, bool]) -> None:
        if cancel.is_set():
            return
        log.debug("fetching %s", paper.id)
        try:
            outcome = lookup_error = None
            if not paper.urls and can_resolve:
                paper, outcome = _resolve_inline(resolver(), paper)
            elif not paper.urls:
                lookup_error = UNRESOLVED.format(what=", ".join(paper.identifiers) or paper.id)
            if outcome is not None and paper.doi and settings.doi_resolver:
                # Nothing found by the sources: the DOI's own landing page is the last resort.
                outcome, lookup_error = None, outcome.error
            if outcome is None:
                outcome = fetcher.fetch(paper, path, prior, reservation, hints, lookup_error)
        except Cancelled:
            return
        except Exception as e:  # a bug must cost one paper, not the run
            log.debug("internal error on %s", paper.id, exc_info=True)
            outcome = Outcome(status=Status.FAILED, error=f"internal error: {type(e).__name__}: {e}")
        put(result_message(paper, outcome))

    input_error = None
    with pipeline:
        pipeline.start_loops(worker_loop)
        if expected:
            put(TotalEstimate(expected))
        try:
            at = tuple.__getitem__  # positional reads of a Record, without its mapping layer
            state_get = state.records.get
            plen = len(dir_prefix)
            i_status, i_path = STATE_FIELDS.index("status"), STATE_FIELDS.index("path")
            queued = 0
            skipped: list[tuple[Paper, Any]] = []  # sent in batches: a re-run is mostly these
            seen_add = seen.add
            for paper in papers:
                n = len(seen)
                seen_add(paper.key)
                if len(seen) == n:
                    continue  # another spelling of a paper already planned (unique(), inlined)
                # Counted in batches: one message per paper would cost more than the paper.
                queued += 1
                if queued == 256:
                    put(PapersQueued(queued))
                    queued = 0
                    if cancel.is_set():  # checked per batch too; scheduler.put checks each
                        break
                # Safe to read from this thread: the processor writes a paper's record only
                # after its work was submitted below, and `seen` stops us asking again.
                prior = state_get(paper.key)
                if prior is not None and on_disk is not None and at(prior, i_status) == "downloaded":
                    # The fast way through a re-run: the file was in the output dir at the
                    # start (final names only ever hold complete files).
                    done = at(prior, i_path) or ""
                    if done.startswith(dir_prefix) and done[plen:] in on_disk:
                        skipped.append((paper, prior))  # the outcome is built only if printed
                        if len(skipped) >= 256:
                            put(AlreadyDone(skipped))
                            skipped = []
                        continue
                try:
                    path = path_for(paper, real_dir, resolved=True)
                except ValueError as e:
                    put(result_message(paper, Outcome(Status.FAILED, error=str(e), permanent=True)))
                    continue
                decided = plan(paper, path, prior, settings.retry_failed, can_resolve,
                               settings.doi_resolver)
                if decided is not None:
                    put(result_message(paper, decided))
                    continue
                host = host_of(paper.urls[0]) if paper.urls else None
                name = os.path.basename(path)
                hints = (True, True) if on_disk is None else (name in on_disk, name + ".part" in on_disk)
                if not scheduler.put(host, (paper, path, prior, hints)):
                    break
        except InputError as e:
            input_error = str(e)
        finally:
            if queued:
                put(PapersQueued(queued))
            if skipped:
                put(AlreadyDone(skipped))
    fetcher.close()
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), processor.recorder.fatal_error,
                               input_error, processor.recorder.stop_reason)
    return Summary(stats=processor.recorder.stats, failures=processor.recorder.failures, ending=ending,
                   reason=reason, output_dir=output_dir, state_path=state.path)


class _QuietGC:
    """Keep the cyclic GC off the run's long-lived data and out of its hot loop.

    The state and the set of keys seen hold a million entries of strings and
    tuples, no cycles. Loaded with the GC off and then frozen, no collection walks
    them (a frozen set stays frozen as it grows); otherwise the first collection
    after loading walks every record. A re-run allocates millions of short-lived
    objects: at the default thresholds their collections cost ~1.3 s per million.
    """

    def __enter__(self) -> "_QuietGC":
        self.enabled = gc.isenabled()
        self.threshold = gc.get_threshold()
        gc.disable()
        return self

    def settle(self) -> None:
        """The long-lived data is built: freeze it and let the GC run, rarely."""
        gc.freeze()
        gc.set_threshold(100_000, 50, 100)
        if self.enabled:
            gc.enable()

    def __exit__(self, *exc: object) -> None:
        gc.set_threshold(*self.threshold)
        gc.unfreeze()
        if self.enabled:
            gc.enable()


def policy_of(settings: Settings) -> "RetryPolicy":
    """The retry policy the settings ask for."""
    from papers.retry import RetryPolicy

    return RetryPolicy(max_retries=settings.max_retries, backoff_base=settings.backoff_base,
                       backoff_max=settings.backoff_max, retry_after_max=settings.retry_after_max)


def make_resolver(settings: Settings, limiter: "HostLimiter", cancel: threading.Event,
                  net: "NetConfig | None" = None) -> "Resolver":
    """A Resolver over the sources the settings enable."""
    from papers.apiclient import ApiClient
    from papers.resolve import Resolver
    from papers.sources import build_sources

    net = net or settings.net()
    client = ApiClient(limiter, cancel, policy_of(settings), settings.timeout, net, settings.secrets)
    return Resolver(build_sources(settings, client), settings.secrets)


def _resolve_inline(resolver: "Resolver", paper: Paper) -> tuple[Paper, Outcome | None]:
    """Find PDF candidates for a paper given only by identifiers."""
    from papers.resolve import paper_with_candidates

    record = resolver.resolve([paper])[0]
    resolved = paper_with_candidates(paper, record)
    if resolved.urls:
        return resolved, None
    # Source errors are worth another try later; a clean "none found" is not.
    return resolved, Outcome(status=Status.FAILED, error=record["reason"],
                             permanent=record["status"] == "not_found")


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
    state = StateStore(settings.state_path, STATE_FIELDS)
    state.load()
    stats = Stats()
    input_error = None
    can_resolve = any(settings.source(n).enabled for n in settings.use_sources)
    try:
        for paper in unique(papers):
            stats.total += 1
            path = path_for(paper, output_dir)
            decided = plan(paper, path, state.get(paper.key), settings.retry_failed, can_resolve,
                           settings.doi_resolver)
            urls = candidate_urls(paper, settings.doi_resolver)
            if decided is None and not paper.urls and can_resolve:
                status, url, error = "would_look_up", None, None
            elif decided is None:
                status, url, error = "would_download", urls[0], None
            else:
                status, url, error = decided.status, decided.url or (paper.urls[0] if paper.urls else None), decided.error
            if status == "failed":
                stats.failed += 1
            elif status == "skipped":
                stats.skipped += 1
            if settings.json:
                line = {"id": paper.id, "status": status, "path": path, "url": url,
                        "urls": list(urls), "error": error}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            else:
                out.write(f"{status}\t{paper.id}\t{url or '-'}\t{path}" +
                          (f"\t{error}" if error else "") + "\n")
    except InputError as e:
        input_error = str(e)
    out.flush()
    ending, reason = ending_of(False, False, None, input_error, None)
    return Summary(stats=stats, ending=ending, reason=reason, output_dir=output_dir,
                   state_path=state.path)
