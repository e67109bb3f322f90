"""The library API of `papers download`: plan, fetch concurrently, record, report.

Nothing here imports click; the CLI maps flags to `Settings` and the returned
`Summary` to an exit code.
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

from papers.errors import Cancelled, ConfigError, InputError, OutputError
from papers.messages import (AlreadyDone, Outcome, PapersQueued, Status, TotalEstimate,
                             result_message)
from papers import library
from papers.models import Paper, candidate_urls
from papers.naming import Namer
from papers.planner import UNRESOLVED, Decision, Done, Fetch, Planner, Report
from papers.processor import ResultProcessor, download_processor
from papers.reporting import NullReporter, Reporter, Stats
from papers.runner import BATCH, Pipeline, Summary, ending_of, make_resolver, policy_of
from papers.redact import redact
from papers.settings import Settings
from papers.state import PaperRecord, StateStore, can_create_in

if TYPE_CHECKING:
    from papers.fetch import FetchConfig, Fetcher
    from papers.hosts import HostScheduler, Reservation
    from papers.netconf import NetConfig
    from papers.resolve import Resolver

log = logging.getLogger("papers")


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
    from papers.fetch import Fetcher  # the HTTP client loads only when a run starts
    from papers.hosts import HostLimiter, HostScheduler

    reporter = reporter or NullReporter()
    cancel = cancel or threading.Event()
    output_dir = _check_output_dir(settings.output_dir)
    _check_shard_count(output_dir, settings)
    bibtex = library.check(settings.bibtex) if settings.bibtex else None
    state = StateStore.open(settings.state_path, PaperRecord)
    try:
        on_disk = _make_output_dir(output_dir)
    except OutputError:
        state.close(compact=False)
        state.unmake()
        raise
    real_dir = os.path.realpath(output_dir)
    can_resolve = any(settings.source(n).enabled for n in settings.use_sources)
    # The planner copies the records before the processor starts: it never reads the live store.
    planner = Planner(real_dir, state.records, on_disk, settings.retry_failed, can_resolve,
                      settings.doi_resolver, settings.naming, settings.max_size, settings.shard)
    quiet_gc.settle()
    named_before = state.last_run.get("naming", _UNKNOWN)  # the last run's --name
    output_closed = threading.Event()

    def on_output_closed() -> None:
        output_closed.set()
        cancel.set()

    def make_processor(q: queue.Queue) -> ResultProcessor:
        return download_processor(q, state, reporter, out, settings.json, clock=clock,
                                  save_interval=settings.save_interval, sync_dir=real_dir,
                                  on_output_closed=on_output_closed, on_fatal=cancel.set,
                                  bibtex=bibtex, naming=settings.naming)

    net = settings.net()  # one reading of proxies, CA bundle and User-Agent for both clients
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    scheduler = HostScheduler(limiter, max(1024, settings.workers * 64), cancel)
    pipeline = Pipeline(make_processor, settings.workers, cancel, on_input_end=scheduler.close)
    fetcher = Fetcher(_fetch_config(settings, net, planner.namer), limiter, cancel, pipeline.put,
                      clock=clock)
    worker = _Worker(settings, net, can_resolve, scheduler, fetcher, pipeline.put)
    input_error = None
    with pipeline:
        if expected:
            pipeline.put(TotalEstimate(expected))
        try:
            _plan_all(planner, papers, pipeline.put, scheduler, cancel,
                      lambda: pipeline.start_loop(worker.loop))
        except InputError as e:
            input_error = str(e)
    fetcher.close()
    pipeline.processor.printer.raise_stdout_error()
    recorder = pipeline.processor.recorder
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), recorder.fatal_error,
                               input_error, recorder.stop_reason)
    return Summary(stats=recorder.stats, failures=recorder.failures, ending=ending,
                   reason=reason, output_dir=output_dir, state_path=state.path,
                   notes=[n for n in [_fleet_note(settings), limiter.pace_note(),
                                      _naming_note(named_before, settings.naming, recorder.stats)]
                          if n])


_UNKNOWN = object()


def _naming_note(before: Any, now: str | None, stats: Any) -> str | None:
    """When --name changed since the last run: that the files already there kept theirs."""
    if before is _UNKNOWN or before == now or not stats.skipped:
        return None
    return (f"{stats.skipped} file(s) already there keep the names they were given; "
            f"the naming now asked for ({now or 'the default'}) applies to new downloads")


def _fleet_note(settings: Settings) -> str | None:
    """With --shard: that this shard had only its share of the per-host budget."""
    shard = settings.shard
    if shard is None or shard.count == 1:
        return None
    rate = f"{settings.rate_limit:g} requests/s" if settings.rate_limit else "no request-rate limit"
    return (f"shard {shard}: the per-host budget is the fleet's, split over {shard.count} shards: "
            f"{rate} and {settings.max_per_host} connection(s) per host here")


def _check_shard_count(output_dir: str, settings: Settings) -> None:
    """A run's shards all split the input by the same N: a shard whose N differs from the
    shard states already in the output directory would take papers another shard has."""
    import glob
    import re

    if settings.shard is None or settings.state:
        return
    for path in glob.glob(os.path.join(glob.escape(output_dir), ".papers-state.*-of-*.json")):
        m = re.fullmatch(r"\.papers-state\.(\d+)-of-(\d+)\.json", os.path.basename(path))
        if m and int(m.group(2)) != settings.shard.count:
            raise ConfigError(f"--shard {settings.shard}: {output_dir} holds the states of a run in "
                              f"{m.group(2)} shards ({os.path.basename(path)}); every shard of a run "
                              f"needs the same N (use --shard K/{m.group(2)}, or another -o)")


def _fetch_config(settings: Settings, net: "NetConfig", namer: Namer) -> "FetchConfig":
    """The fetcher's settings; `namer` is the planner's, so that the names the workers
    give (after a lookup, or by the URL that delivered) never take a planned one."""
    from papers.fetch import FetchConfig

    return FetchConfig(timeout=settings.timeout, max_size=settings.max_size,
                       chunk_size=settings.chunk_size, min_speed=settings.min_speed,
                       min_speed_window=settings.min_speed_window, policy=policy_of(settings),
                       net=net, doi_resolver=settings.doi_resolver,
                       namer=namer, metadata=settings.metadata == "json")


def _check_output_dir(path: str) -> str:
    """The output directory's absolute path, checked before anything is created:
    OutputError if it (or the folder it would go in) is a file or cannot be written."""
    output_dir = os.path.abspath(path)
    existing = output_dir
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is a file" if existing == output_dir else f"cannot be made: {existing} is a file"
        raise OutputError(f"output directory {output_dir} {what}, not a directory"
                          if existing == output_dir else f"output directory {output_dir} {what}")
    if not can_create_in(existing):
        raise OutputError(f"output directory {output_dir}: cannot write in {existing} "
                          "(read-only, or owned by another user)")
    return output_dir


def _make_output_dir(output_dir: str) -> set[str] | None:
    """Make the output directory if need be; the names in it now (None if unknown)."""
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"output directory {output_dir}: cannot create ({e.strerror})") from None
    # What is in it now: papers whose files are absent skip those checks.
    try:
        return set(os.listdir(output_dir))  # names are all the planner needs
    except OSError:
        return None


class _Worker:
    """What every download worker runs: take a job from the scheduler, look its PDF
    candidates up if it has none, fetch it, and put its result on the queue."""

    def __init__(self, settings: Settings, net: "NetConfig", can_resolve: bool,
                 scheduler: "HostScheduler", fetcher: "Fetcher", put: Callable[[Any], None]) -> None:
        self.settings, self.net, self.can_resolve = settings, net, can_resolve
        self.scheduler, self.limiter, self.cancel = scheduler, fetcher.limiter, fetcher.cancel
        self.fetcher, self.put = fetcher, put
        self._resolver: Resolver | None = None
        self._resolver_lock = threading.Lock()

    def loop(self) -> None:
        """Work until the scheduler has no more jobs."""
        while (got := self.scheduler.get()) is not None:
            reservation, job = got
            try:
                self.work(job, reservation)
            finally:
                if not reservation.taken:
                    self.limiter.release(reservation.key)

    def work(self, job: Fetch, reservation: "Reservation") -> None:
        """One paper, start to finish."""
        if self.cancel.is_set():
            return
        paper = job.paper
        log.debug("fetching %s", paper.id)
        try:
            paper, outcome, lookup_error = self._candidates(paper)
            if outcome is None:
                if paper is not job.paper:  # the lookup added candidates, and metadata
                    job = self._looked_up(job, paper)
                outcome = self.fetcher.fetch(job, reservation, lookup_error)
        except Cancelled:
            return
        except Exception as e:  # a bug must cost one paper, not the run
            log.debug("internal error on %s", paper.id, exc_info=True)
            outcome = Outcome(status=Status.FAILED, error=f"internal error: {type(e).__name__}: {e}")
        self.put(result_message(paper, outcome))

    def _looked_up(self, job: Fetch, paper: Paper) -> Fetch:
        """`job` for `paper` as the lookup completed it: with a --name template, named
        by the title, authors and year the lookup found."""
        namer = self.fetcher.config.namer
        if namer is None or namer.template is None:
            return replace(job, paper=paper)
        path = namer.path(paper)
        if path == job.path:
            return replace(job, paper=paper)
        return replace(job, paper=paper, path=path, final_may_exist=True, part_may_exist=True)

    def _candidates(self, paper: Paper) -> tuple[Paper, Outcome | None, str | None]:
        """(paper with PDF candidates, its outcome if the lookup settled it, why none was found)."""
        if paper.urls:
            return paper, None, None
        if not self.can_resolve:
            return paper, None, UNRESOLVED.format(what=", ".join(paper.identifiers) or paper.id)
        paper, outcome = _resolve_inline(self.resolver(), paper)
        if outcome is not None and paper.doi and self.settings.doi_resolver:
            # Nothing found by the sources: the DOI's own landing page is the last resort.
            return paper, None, outcome.error
        return paper, outcome, None

    def resolver(self) -> "Resolver":
        """The Resolver, made on first use: a run of plain URLs never imports the API clients."""
        with self._resolver_lock:
            if self._resolver is None:
                self._resolver = make_resolver(self.settings, self.limiter, self.cancel, self.net)
            return self._resolver


def _plan_all(planner: Planner, papers: Iterable[Paper], put: Callable[[Any], None],
              scheduler: "HostScheduler", cancel: threading.Event,
              queued_fetch: Callable[[], None]) -> None:
    """Plan every paper: fetches go to the scheduler (each then calls `queued_fetch`),
    the rest to the processor.

    Counts and already-done papers travel in batches of BATCH: one message per
    paper would cost more than a re-run's paper itself.
    """
    queued = 0
    done: list[tuple[Paper, Any]] = []
    try:
        for paper in papers:
            decision = planner.decide(paper)
            if decision is None:
                continue  # another spelling of a paper already planned
            queued += 1
            if queued == BATCH:
                put(PapersQueued(queued))
                queued = 0
                if cancel.is_set():  # checked per batch too; scheduler.put checks each
                    return
            if isinstance(decision, Done):
                done.append((decision.paper, decision.prior))  # its outcome is built only if printed
                if len(done) >= BATCH:
                    put(AlreadyDone(done))
                    done = []
            elif isinstance(decision, Report):
                put(result_message(decision.paper, decision.outcome))
            elif scheduler.put(decision.host, decision):
                queued_fetch()
            else:
                return
    finally:
        if queued:
            put(PapersQueued(queued))
        if done:
            put(AlreadyDone(done))


class _QuietGC:
    """Keep the cyclic GC off the run's long-lived data and out of its hot loop.

    The state and the planner's tables hold a million entries of strings and
    tuples, no cycles. Loaded with the GC off and then frozen, no collection walks
    them; otherwise each collection while loading walks every record loaded so
    far. A re-run then allocates millions of short-lived objects, so collections
    are made rare too. Both pay: "GC" in bench/RESULTS.md.
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


def dry_run(settings: Settings, papers: Iterable[Paper], *, out: TextIO) -> Summary:
    """Show what `run_download` would fetch: the same planner, with the fetching left out."""
    import json

    output_dir = os.path.abspath(settings.output_dir)
    state = StateStore(settings.state_path, PaperRecord)
    state.load()
    can_resolve = any(settings.source(n).enabled for n in settings.use_sources)
    planner = Planner(os.path.realpath(output_dir), state.records, None, settings.retry_failed,
                      can_resolve, settings.doi_resolver, settings.naming, settings.max_size,
                      settings.shard)
    stats = Stats()
    input_error = None
    try:
        for paper in papers:
            decision = planner.decide(paper)
            if decision is None:
                continue
            stats.total += 1
            status, path, url, error = _simulated(decision, can_resolve, settings.doi_resolver)
            stats.failed += status == Status.FAILED
            stats.skipped += status == Status.SKIPPED
            if settings.json:
                line = json.dumps({"id": paper.id, "status": status, "path": path, "url": url,
                                   "urls": list(candidate_urls(paper, settings.doi_resolver)),
                                   "error": error}, ensure_ascii=False)
            else:
                line = f"{status}\t{paper.id}\t{url or '-'}\t{path}" + (f"\t{error}" if error else "")
            # Masked as a real run's output is: credentials in URLs, keys, the email.
            out.write(redact(line, settings.secrets) + "\n")
    except InputError as e:
        input_error = str(e)
    out.flush()
    ending, reason = ending_of(False, False, None, input_error, None)
    return Summary(stats=stats, ending=ending, reason=reason, output_dir=output_dir,
                   state_path=state.path)


def _simulated(decision: Decision, can_resolve: bool,
               doi_resolver: str | None) -> tuple[str, str, str | None, str | None]:
    """(status, path, url, error) that a real run would start from for `decision`."""
    paper = decision.paper
    first = paper.urls[0] if paper.urls else None
    if isinstance(decision, Report):
        o = decision.outcome
        return o.status, o.path or "", o.url or first, o.error
    if isinstance(decision, Done):
        return Status.SKIPPED, decision.prior.path, decision.prior.url, None
    if not paper.urls and can_resolve:
        return "would_look_up", decision.path, None, None
    return "would_download", decision.path, candidate_urls(paper, doi_resolver)[0], None
