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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TextIO

from papers.disk.files import check_output_dir, make_output_dir
from papers.disk.naming import Namer
from papers.download.planner import UNRESOLVED, Decision, Done, Fetch, Planner, Report
from papers.download.stage import Router, Stage, can_match
from papers.errors import Cancelled, ConfigError, InputError, OutputError
from papers.inputs.records import reference_text
from papers.model import Outcome, Paper, Status, candidate_urls
from papers.net.hosts import host_of
from papers.output import library
from papers.output.display import Reporter, Stats
from papers.pipeline.messages import (AlreadyDone, PapersQueued, ProgressUpdate, TotalEstimate,
                                      result_message)
from papers.pipeline.processor import ResultProcessor, download_processor
from papers.pipeline.runner import BATCH, Pipeline, Summary, ending_of, policy_of, warn_unpaywall
from papers.redact import redact
from papers.settings import Settings
from papers.state.records import PaperRecord
from papers.state.store import StateStore

if TYPE_CHECKING:
    from papers.download.attempt import FetchConfig
    from papers.download.fetch import Fetcher
    from papers.download.scheduler import HostScheduler, Reservation
    from papers.net.netconf import NetConfig

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
    from papers.download.fetch import Fetcher  # the HTTP client loads only when a run starts
    from papers.download.scheduler import HostScheduler, checking_workers
    from papers.net.hosts import HostLimiter

    reporter = reporter or Reporter()
    cancel = cancel or threading.Event()
    output_dir, bibtex, state, on_disk = _open_run(settings)
    real_dir = os.path.realpath(output_dir)
    can_resolve, matchable = _can_resolve(settings), can_match(settings)
    # The planner copies the records before the processor starts: it never reads the live store.
    planner = Planner(real_dir, state.records, on_disk, settings.retry_failed, can_resolve,
                      settings.doi_resolver, settings.naming, settings.max_size, settings.shard,
                      matchable)
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
    scheduler = HostScheduler(limiter, max(1024, settings.workers * 64), cancel, settings.workers)
    stage = Stage(settings, limiter, cancel, net) if can_resolve else None
    if stage is not None:
        warn_unpaywall(settings, expected)  # an upper bound: the cascade asks it last
    pipeline = Pipeline(make_processor, settings.workers, cancel,
                        on_input_end=lambda: _end_input(stage, scheduler),
                        extra=checking_workers(settings.workers, settings.identity_check))
    fetcher = Fetcher(_fetch_config(settings, net, planner.namer), limiter, cancel, pipeline.put,
                      clock=clock, turns=(turns := _Turns(scheduler, pipeline)))
    worker = turns.worker = _Worker(settings, scheduler, fetcher, pipeline.put, stage)
    to_workers = _ToWorkers(scheduler, pipeline, worker, planner.namer, settings.doi_resolver)
    if stage is not None:
        stage.wire(to_workers, lambda paper, o: pipeline.put(result_message(paper, o)))
    route = Router(stage, to_workers, lambda paper, o: pipeline.put(result_message(paper, o)),
                   settings.choice())
    input_error = _feed(pipeline, planner, papers, expected, cancel, route)
    fetcher.close()
    pipeline.processor.printer.raise_stdout_error()
    recorder = pipeline.processor.recorder
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), recorder.fatal_error,
                               input_error, recorder.stop_reason)
    notes = [_fleet_note(settings), limiter.pace_note(),
             _naming_note(named_before, settings.naming, recorder.stats),
             *(stage.notes() if stage else ())]
    return Summary(stats=recorder.stats, failures=recorder.failures, ending=ending,
                   reason=reason, output_dir=output_dir, state_path=state.path,
                   notes=[n for n in notes if n], walls=recorder.wall_lines())


def _feed(pipeline: Pipeline, planner: Planner, papers: Iterable[Paper], expected: int | None,
          cancel: threading.Event, fetch: Callable[[Fetch], bool]) -> str | None:
    """Run the pipeline over the planned input; the reason the input broke off, if it did."""
    with pipeline:
        if expected:
            pipeline.put(TotalEstimate(expected))
        try:
            _plan_all(planner, papers, pipeline.put, cancel, fetch)
        except InputError as e:
            return str(e)
    return None


def _can_resolve(settings: Settings) -> bool:
    """Some source can look identifiers up."""
    return any(settings.source(n).enabled for n in settings.use_sources)


def _open_run(settings: Settings) -> tuple[str, Any, StateStore, set[str] | None]:
    """Check and make what a run writes to: (output directory, --bibtex library, the
    state, the names in the directory now). Nothing is left behind when one fails."""
    output_dir = check_output_dir(settings.output_dir)
    _check_shard_count(output_dir, settings)
    bibtex = library.check(settings.bibtex) if settings.bibtex else None
    state = StateStore.open(settings.state_path, PaperRecord)
    try:
        on_disk = make_output_dir(output_dir)
    except OutputError:
        state.close(compact=False)
        state.unmake()
        raise
    return output_dir, bibtex, state, on_disk


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
    from papers.download.attempt import FetchConfig

    return FetchConfig(timeout=settings.timeout, max_size=settings.max_size,
                       chunk_size=settings.chunk_size, min_speed=settings.min_speed,
                       min_speed_window=settings.min_speed_window, policy=policy_of(settings),
                       net=net, doi_resolver=settings.doi_resolver,
                       namer=namer, metadata=settings.metadata == "json",
                       identity_check=settings.identity_check)


class _Turns:
    """A worker's turn lent out while PDFium reads its file: one more worker thread, up
    to the run's extra ones, so that the next transfer need not wait for the check."""

    def __init__(self, scheduler: "HostScheduler", pipeline: Pipeline) -> None:
        self.scheduler, self.pipeline = scheduler, pipeline
        self.worker: "_Worker | None" = None

    @contextmanager
    def lent(self) -> Iterator[None]:
        if self.worker is not None:
            self.pipeline.start_loop(self.worker.loop, extra=True)
        with self.scheduler.lent():
            yield


class _Worker:
    """What every download worker runs: take a job from the scheduler, fetch it, and put
    its result on the queue; a job whose candidates all failed goes back to the lookup
    stage while some source has not been asked."""

    def __init__(self, settings: Settings, scheduler: "HostScheduler", fetcher: "Fetcher",
                 put: Callable[[Any], None], cascade: "Stage | None") -> None:
        self.settings = settings
        self.scheduler, self.limiter, self.cancel = scheduler, fetcher.limiter, fetcher.cancel
        self.fetcher, self.put, self.cascade = fetcher, put, cascade

    def loop(self) -> None:
        """Work until the scheduler has no more jobs (as one of --workers at a time: the
        scheduler gives a job only then)."""
        while (got := self.scheduler.get()) is not None:
            reservation, job = got
            try:
                self.work(job, reservation)
            finally:
                self.scheduler.finished()
                if not reservation.taken:
                    self.limiter.release(reservation.key)

    def work(self, job: Fetch, reservation: "Reservation") -> None:
        """One paper's candidates, start to finish."""
        finished = True
        try:
            if self.cancel.is_set():
                return
            outcome, tried = self._fetch(job, reservation)
            if outcome is None:
                return
            if outcome.status is Status.FAILED and not outcome.fatal and job.lookup is not None:
                outcome = self.cascade.failed(job, outcome, tried)
                if outcome is None:  # the next source is asked; its candidates come back here
                    finished = False
                    return
            self.put(result_message(job.paper, outcome))
        finally:
            if finished and job.lookup is not None:
                self.cascade.done(job)

    def _fetch(self, job: Fetch, reservation: "Reservation") -> tuple[Outcome | None, list[Any]]:
        """The fetch's outcome (None when stopping), and the candidates that failed."""
        paper = job.paper
        log.debug("fetching %s", paper.id)
        lookup_error = None
        if not paper.urls and job.lookup is None and self.cascade is None:
            lookup_error = UNRESOLVED.format(what=", ".join(paper.identifiers) or paper.id)
        try:
            outcome, tried = self.fetcher.attempt(job, reservation, lookup_error)
        except Cancelled:
            return None, []
        except Exception as e:  # a bug must cost one paper, not the run
            log.debug("internal error on %s", paper.id, exc_info=True)
            return Outcome(status=Status.FAILED, error=f"internal error: {type(e).__name__}: {e}"), []
        if outcome.unreported and outcome.status is Status.FAILED and job.lookup is not None:
            self.put(ProgressUpdate(outcome.unreported))  # its bytes count, whatever comes next
            outcome = replace(outcome, unreported=0)
        return outcome, tried


class _ToWorkers:
    """Hands a job to the scheduler and makes sure a worker runs for it. A job from the
    lookup stage is renamed by what the lookup found, and queued by its first URL's host."""

    def __init__(self, scheduler: "HostScheduler", pipeline: Pipeline, worker: _Worker,
                 namer: Namer, doi_resolver: str | None) -> None:
        self.scheduler, self.pipeline, self.worker = scheduler, pipeline, worker
        self.namer, self.doi_resolver = namer, doi_resolver

    def __call__(self, job: Fetch) -> bool:
        """False if the run is stopping."""
        host = job.host
        if job.lookup is not None:
            job = _looked_up(self.namer, job)
            urls = candidate_urls(job.paper, self.doi_resolver if job.doi_fallback else None)
            host = host_of(urls[0]) if urls else None
        if not self.scheduler.put(host, job):
            return False
        self.pipeline.start_loop(self.worker.loop)
        return True


def _looked_up(namer: Namer, job: Fetch) -> Fetch:
    """`job` as the lookup completed its paper: with a --name template, or for a matched
    reference (planned with nothing to name it by), named by the title, authors and year
    the lookup found."""
    if namer.template is None and job.lookup.reference is None:
        return job
    path = namer.path(job.paper)
    if path == job.path:
        return job
    return replace(job, path=path, final_may_exist=True, part_may_exist=True)


def _end_input(stage: Stage | None, scheduler: "HostScheduler") -> None:
    """The input is planned: once the lookup stage has nothing left, the workers may end."""
    if stage is not None:
        stage.close_input()
    scheduler.close()


def _plan_all(planner: Planner, papers: Iterable[Paper], put: Callable[[Any], None],
              cancel: threading.Event, fetch: Callable[[Fetch], bool]) -> None:
    """Plan every paper: fetches go to `fetch` (False: the run is stopping), the rest
    to the processor.

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
            elif not fetch(decision):
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
    are made rare too. Both pay: "GC" in bench/AB.md.
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


def dry_run(settings: Settings, papers: Iterable[Paper], *, out: TextIO) -> Summary:
    """Show what `run_download` would fetch: the same planner, with the fetching left out."""
    import json

    output_dir = os.path.abspath(settings.output_dir)
    state = StateStore(settings.state_path, PaperRecord)
    state.load()
    can_resolve = _can_resolve(settings)
    planner = Planner(os.path.realpath(output_dir), state.records, None, settings.retry_failed,
                      can_resolve, settings.doi_resolver, settings.naming, settings.max_size,
                      settings.shard, can_match(settings))
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
        if not paper.identifiers and reference_text(paper) is not None:
            return "would_match", decision.path, None, None
        return "would_look_up", decision.path, None, None
    return "would_download", decision.path, candidate_urls(paper, doi_resolver)[0], None
