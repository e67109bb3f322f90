"""The library API of `papers consolidate`: enrich papers and find every PDF candidate."""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple, TextIO

from papers.disk.durable import write_atomic
from papers.errors import ApiError, Cancelled, ConfigError, InputError
from papers.inputs.records import reference_text
from papers.model import Paper
from papers.output.display import Reporter
from papers.pipeline.messages import PaperConsolidated, PaperQueued, TotalEstimate
from papers.pipeline.processor import Printer, Recorder, ResultProcessor
from papers.pipeline.runner import (Pipeline, Summary, ending_of, make_resolver, unique,
                                    warn_unpaywall)
from papers.settings import Settings
from papers.state.store import StateStore

if TYPE_CHECKING:
    from papers.discovery.resolver import Resolver

log = logging.getLogger("papers")

CHUNK = 200     # papers per work unit at most: batch sources ask for them in a few requests
MIN_CHUNK = 50  # ... and at least (OpenAlex's batch)



def default_state_path(output_file: str | None) -> str:
    """Where consolidate keeps its checkpoint when --state is not given."""
    if output_file:
        return output_file + ".papers-state.json"
    return os.path.abspath(".papers-consolidate-state.json")


#: The checkpoint's note of the sources that were enabled when a record was made; a
#: re-run that enables one more asks again. Never output.
ASKED_WITH = "_asked_with"


def public(rec: dict[str, Any]) -> dict[str, Any]:
    """A checkpointed record as it is output: without the checkpoint's own notes."""
    return {k: v for k, v in rec.items() if k != ASKED_WITH} if ASKED_WITH in rec else rec


def reusable(prior: dict[str, Any] | None, asked_with: tuple[str, ...]) -> bool:
    """Whether a checkpointed record answers for this run: complete, not failed, and
    made with every source this run enables (an older checkpoint: every source it names)."""
    if prior is None or not prior.get("complete") or prior.get("status") == "failed":
        return False
    made_with = prior.get(ASKED_WITH) or list(prior.get("sources") or ())
    return set(asked_with) <= set(made_with)


class ConsolidateRecorder(Recorder):
    """Counts and checkpoints consolidated records; with an output file, writes it at the end."""

    def __init__(self, *args: Any, output_file: str | None = None,
                 asked_with: tuple[str, ...] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.output_file = output_file
        self.asked_with = list(asked_with)
        self.order: list[str] = []
        self.handlers[PaperQueued] = self._on_paper_queued
        self.handlers[PaperConsolidated] = self._on_consolidated

    def _on_paper_queued(self, msg: Any) -> None:
        self.stats.total += 1
        if self.output_file:
            self.order.append(msg.paper.key)

    def _on_consolidated(self, msg: Any) -> None:
        rec, stats = msg.record, self.stats
        unmatched = (rec.get("match") or {}).get("status") in ("ambiguous", "not_found")
        if msg.skipped:
            stats.skipped += 1
        elif unmatched:  # a reference string no work clearly is: a failure, with why
            self.note_failure(msg.paper.id, rec.get("reason"))
        elif rec["status"] == "found":
            stats.found += 1
        elif rec["status"] == "not_found":
            stats.not_found += 1
        else:
            self.note_failure(msg.paper.id, rec.get("reason"))
        if self.state is not None and not msg.skipped:
            self.state.put(msg.paper.key, {**rec, ASKED_WITH: self.asked_with})

    def _on_stop(self, msg: Any) -> None:
        if self.output_file and self.state is not None:
            # One JSON array in input order, replaced atomically.
            records = [self.state.get(k) for k in self.order]
            data = json.dumps([public(r) for r in records if r is not None], ensure_ascii=False,
                              indent=1)
            # 0600: the records keep credentials in their URLs (user:pass@), for download.
            write_atomic(self.output_file, data.encode("utf-8") + b"\n", 0o600)
        super()._on_stop(msg)


class ConsolidatePrinter(Printer):
    """Prints each consolidated record as a JSON line, unless they go to an output file."""

    def __init__(self, *args: Any, to_stdout: bool = True, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.to_stdout = to_stdout
        self.handlers[PaperConsolidated] = self._on_consolidated

    def _on_consolidated(self, msg: Any) -> None:
        if self.to_stdout:
            self.emit(json.dumps(msg.record, ensure_ascii=False))
        self.reporter.update(self.stats)


def run_consolidate(settings: Settings, papers: Iterable[Paper], *, out: TextIO | None,
                    output_file: str | None = None, state_path: str | None = None,
                    reporter: Reporter | None = None, cancel: threading.Event | None = None,
                    clock: Callable[[], float] = time.time, expected: int | None = None,
                    refresh: bool = False) -> Summary:
    """Consolidate `papers`: JSON Lines on `out`, or a JSON array in `output_file`.

    Papers already consolidated completely (per the state file) by every source this
    run enables are output again without asking anyone, unless `refresh`. Raises
    StateError like `run_download`.
    """
    from papers.net.hosts import HostLimiter

    reporter = reporter or Reporter()
    cancel = cancel or threading.Event()
    path = state_path or default_state_path(output_file)
    state = StateStore.open(path, private=True)
    output_closed = threading.Event()

    def on_output_closed() -> None:
        output_closed.set()
        cancel.set()

    def make_processor(q: queue.Queue) -> ResultProcessor:
        recorder = ConsolidateRecorder(state, clock=clock, save_interval=settings.save_interval,
                                       output_file=output_file, on_fatal=cancel.set,
                                       command="consolidate", asked_with=asked_with)
        printer = ConsolidatePrinter(recorder.stats, reporter, out, True,
                                     on_output_closed=on_output_closed, to_stdout=not output_file)
        return ResultProcessor(q, recorder, printer)

    resolver = make_resolver(settings, HostLimiter(settings.max_per_host, settings.rate_limit, cancel),
                             cancel)
    if not resolver.sources:
        state.close(compact=False)
        raise ConfigError("no source is enabled: check use_sources and sources.<name>.enabled")
    asked_with = tuple(src.name for src in resolver.sources)
    # A copy taken before the processor starts: the loop below never reads the live store.
    priors = dict(state.records)
    pipeline = Pipeline(make_processor, settings.workers, cancel)
    # Big enough for every source's batch form; a list shorter than workers x MIN_CHUNK
    # still goes in MIN_CHUNK pieces, since the APIs' rates, not threads, set the pace.
    chunk_size = min(CHUNK, max(MIN_CHUNK, -(-expected // settings.workers))) if expected else CHUNK
    warn_unpaywall(settings, expected)
    matching = _matching(settings, resolver)
    try:
        input_error = _feed(pipeline, expected, lambda: _queue_chunks(
            papers, {} if refresh else priors, asked_with, pipeline,
            _Consolidator(resolver, pipeline.put, cancel, matching), chunk_size))
    finally:
        if matching is not None:
            matching.close()
    pipeline.processor.printer.raise_stdout_error()
    recorder = pipeline.processor.recorder
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), recorder.fatal_error,
                               input_error, None)
    return Summary(stats=recorder.stats, failures=recorder.failures, ending=ending,
                   reason=reason, output_dir=output_file or "", state_path=state.path,
                   notes=[n for n in (s.note() for s in resolver.sources) if n])


def _feed(pipeline: Pipeline, expected: int | None, queue_all: Callable[[], None]) -> str | None:
    """Run the pipeline while `queue_all` queues the input; why the input broke off, if it did."""
    with pipeline:
        if expected:
            pipeline.put(TotalEstimate(expected))
        try:
            queue_all()
        except InputError as e:
            return str(e)
    return None


def _matching(settings: Settings, resolver: "Resolver") -> "_Matching | None":
    """The matching of reference strings and titles, when crossref or openalex is a source."""
    from papers.discovery.reference import MATCH_SOURCES, Matcher

    if not any(name in MATCH_SOURCES for name in resolver.names):
        return None
    return _Matching(Matcher(resolver.sources, settings.match), max(1, min(settings.workers, 16)))


def _queue_chunks(papers: Iterable[Paper], priors: dict[str, Any], asked_with: tuple[str, ...],
                  pipeline: Pipeline, consolidator: "_Consolidator", chunk_size: int) -> None:
    """Queue each paper once: done ones (per the state, by the sources `asked_with`) are
    output again as they are, the others go to the workers in chunks of `chunk_size`.
    (Not download's planner: a consolidated paper has no file, so there is nothing to
    plan but the chunk it goes in.)"""
    chunk: list[Paper] = []
    try:
        for paper in unique(papers):
            if pipeline.cancel.is_set():
                return
            pipeline.put(PaperQueued(paper))
            prior = priors.get(paper.key)
            if reusable(prior, asked_with):
                pipeline.put(PaperConsolidated(paper, public(prior), skipped=True))
                continue
            chunk.append(paper)
            if len(chunk) >= chunk_size:
                if not pipeline.submit(consolidator.work, chunk):
                    return
                chunk = []
    finally:
        if chunk and not pipeline.cancel.is_set():
            pipeline.submit(consolidator.work, chunk)


class _Consolidator:
    """What a worker runs for a chunk of papers: match its references, resolve them, put
    each record on the queue."""

    def __init__(self, resolver: "Resolver", put: Callable[[Any], None], cancel: threading.Event,
                 matching: "_Matching | None" = None) -> None:
        self.resolver, self.put, self.cancel, self.matching = resolver, put, cancel, matching

    def work(self, chunk: list[Paper]) -> None:
        """Consolidate `chunk`; a bug costs these papers, not the run."""
        if self.cancel.is_set():
            return
        done: set[int] = set()
        try:
            answers = self.matching.answers(chunk) if self.matching else {}
            for i, rec in answers.items():
                if isinstance(rec, dict):  # not matched: its record says why
                    done.add(i)
                    self.put(PaperConsolidated(chunk[i], rec))
            todo = [i for i in range(len(chunk)) if i not in done]
            papers = [answers[i].paper if i in answers else chunk[i] for i in todo]
            for j, rec in self.resolver.resolve_iter(papers):
                i = todo[j]
                if i in answers:
                    rec.update(id=chunk[i].id, match=answers[i].about)
                done.add(i)
                self.put(PaperConsolidated(chunk[i], rec))
        except Cancelled:
            return
        except Exception as e:
            log.debug("internal error", exc_info=True)
            for i, p in enumerate(chunk):
                if i not in done:
                    rec = {"id": p.id, "status": "failed", "pdf_urls": [], "candidates": [],
                           "reason": f"internal error: {type(e).__name__}: {e}", "complete": False}
                    self.put(PaperConsolidated(p, rec))


class _Matching:
    """The references of consolidate's chunks, matched up to `in_flight` at once (one pool
    for every worker: the sources' limiters, not threads, set the pace)."""

    def __init__(self, matcher: Any, in_flight: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from papers.discovery.reference import record_of  # it imports this module

        self.matcher, self.record_of = matcher, record_of
        self.pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="papers-match")

    def answers(self, chunk: list[Paper]) -> dict[int, Any]:
        """Index → a `_Matched` (the paper with the work's identifiers) or the record of a
        reference that matched nothing clearly (or could not be matched now)."""
        refs = {i: text for i, p in enumerate(chunk)
                if not p.identifiers and not p.urls and (text := reference_text(p)) is not None}
        futures = {i: self.pool.submit(self.matcher.match, text) for i, text in refs.items()}
        out: dict[int, Any] = {}
        for i, future in futures.items():
            paper = chunk[i]
            try:
                answer = future.result()
            except ApiError as e:  # worth asking again: the record is not complete
                out[i] = {"id": paper.id, "status": "failed", "pdf_urls": [], "candidates": [],
                          "reason": f"cannot match it now: {e}", "complete": False}
                continue
            if not answer.matched:
                out[i] = self.record_of(paper, answer)
                continue
            ids = answer.ids()
            matched = replace(paper, problem=None, doi=ids.doi, arxiv=ids.arxiv, pmid=ids.pmid,
                              pmcid=ids.pmcid)
            out[i] = _Matched(matched, answer.about)
        return out

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class _Matched(NamedTuple):
    paper: Paper                 # the reference, with the matched work's identifiers
    about: dict[str, Any]        # its record's `match` field
