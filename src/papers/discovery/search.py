"""The library API of `papers search`: the works a source finds for a query, as
consolidate's records, paged with the source's own cursor and resumable from it.

A run pages through the query on one worker and puts each work on the queue as a
`PaperConsolidated`; the processor prints it (JSON Lines) and checkpoints it, and a
`SearchPage` message checkpoints the cursor after each page. A re-run of the same
search prints the checkpointed records again without a request, then goes on from the
cursor.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TextIO

from papers.discovery.consolidate import ConsolidatePrinter, ConsolidateRecorder, public
from papers.discovery.resolver import merge
from papers.discovery.sources.base import Found, Ids, SearchQuery, Source
from papers.errors import ApiError, Cancelled, ConfigError, StateError, UsageError
from papers.inputs.records import paper_from_record
from papers.output.display import Reporter
from papers.pipeline.messages import PaperConsolidated, PaperQueued, SearchPage, TotalEstimate
from papers.pipeline.processor import ResultProcessor
from papers.pipeline.runner import Pipeline, Summary, ending_of, make_sources
from papers.settings import Settings
from papers.state.store import StateStore

if TYPE_CHECKING:
    from papers.download.shard import Shard

log = logging.getLogger("papers")

SEARCH_SOURCES = ("openalex", "europepmc", "arxiv")
CONFIRM_OVER = 10_000  # a --limit above this asks first (or --yes)
CURSOR = "~search"     # the checkpoint's record of the search itself: its query and cursor


@dataclass(frozen=True, slots=True)
class Estimate:
    """What a search would take: works matching, those it would fetch, calls, dollars."""

    source: str
    query: str
    count: int | None
    fetch: int
    calls: int
    cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "query": self.query, "count": self.count,
                "fetch": self.fetch, "calls": self.calls, "cost_usd": round(self.cost_usd, 6)}

    def sentence(self) -> str:
        """The estimate for a person: `250 works match; fetching 250 takes 3 calls, ...`."""
        matched = "an unknown number of" if self.count is None else f"{self.count:,}"
        cost = f", about ${self.cost_usd:.4f} of OpenAlex credit" if self.cost_usd else ""
        return (f"{matched} works match; fetching {self.fetch:,} takes {self.calls:,} "
                f"call{'s' if self.calls != 1 else ''}{cost}")


def search_query(text: str, filters: tuple[str, ...], source: str, oa: bool, since: int | None,
                 until: int | None, limit: int) -> SearchQuery:
    """The query the command line asks for; UsageError if it cannot be asked."""
    if filters and source != "openalex":
        raise UsageError(f"--filter is passed to OpenAlex; --source {source} takes its own syntax "
                         "in QUERY")
    for f in filters:
        if ":" not in f.strip(":"):
            raise UsageError(f"--filter {f}: expected KEY:VALUE, e.g. publication_year:2020-2024")
    q = SearchQuery(text.strip() or None, tuple(f.strip() for f in filters), oa, since, until)
    if not q.text and not q.filters:
        raise UsageError("give a QUERY or a --filter (see papers search --help)")
    if limit < 1:
        raise UsageError(f"--limit {limit}: must be at least 1")
    if since and until and since > until:
        raise UsageError(f"--since {since} is after --until {until}")
    return q


def checkpoint_path(source: str, query: SearchQuery, shard: "Shard | None") -> str:
    """Where a search keeps its checkpoint when --state is not given: one per search."""
    what = f"{source}\n{query.describe()}\n{shard or ''}"
    return os.path.abspath(f".papers-search-{hashlib.sha256(what.encode()).hexdigest()[:12]}.json")


def record_of(found: Found, source: str, query: SearchQuery) -> dict[str, Any]:
    """A work as consolidate's record, with the query that found it."""
    ids = Ids(found.doi, found.arxiv, found.pmid, found.pmcid)
    shown = found.doi or (f"arXiv:{found.arxiv}" if found.arxiv else None) or found.pmid \
        or found.pmcid or found.work or "(a work without an id)"
    paper = paper_from_record({"id": shown, "doi": found.doi, "arxiv": found.arxiv,
                               "pmid": found.pmid, "pmcid": found.pmcid})
    rec = merge(paper, ids, {source: found}, {source: "found"})
    rec["source_id"] = found.work
    rec["query"] = {"source": source, "search": query.describe()}
    return rec


def _source(settings: Settings, name: str, cancel: threading.Event) -> Source:
    from papers.net.hosts import HostLimiter

    if name not in SEARCH_SOURCES:
        raise ConfigError(f"--source {name}: not one that searches (use {', '.join(SEARCH_SOURCES)})")
    if not settings.source(name).enabled:
        raise ConfigError(f"--source {name}: it is disabled (sources.{name}.enabled)")
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    return make_sources(replace(settings, use_sources=(name,)), limiter, cancel)[0]


def estimate(settings: Settings, query: SearchQuery, source: str, limit: int,
             cancel: threading.Event | None = None) -> Estimate:
    """`papers search --count`: one call for the number of matches; fetches no page."""
    src = _source(settings, source, cancel or threading.Event())
    page = src.search_page(query, None, size=1)
    fetch = min(limit, page.count) if page.count is not None else limit
    calls = math.ceil(fetch / src.page_size) if fetch else 0
    return Estimate(source, query.describe(), page.count, fetch, calls,
                    calls * src.search_cost(query))


class SearchRecorder(ConsolidateRecorder):
    """Consolidate's recorder, and the search's cursor in the checkpoint after each page."""

    def __init__(self, *args: Any, about: dict[str, Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.about = about
        self.handlers[SearchPage] = self._on_page

    def _on_page(self, msg: SearchPage) -> None:
        if self.state is not None:
            self.state.put(CURSOR, {**self.about, "cursor": msg.cursor, "done": msg.cursor is None,
                                    "emitted": msg.emitted})


class _Pager:
    """What the one worker of a search runs: page from `cursor` until `limit` works are
    out or the pages end, each work on the queue, then the page's cursor."""

    def __init__(self, src: Source, query: SearchQuery, limit: int, shard: "Shard | None",
                 put: Callable[[Any], None], cancel: threading.Event, seen: set[str]) -> None:
        self.src, self.query, self.limit, self.shard = src, query, limit, shard
        self.put, self.cancel, self.seen = put, cancel, seen
        self.error: str | None = None

    def run(self, cursor: str | None, emitted: int) -> None:
        """Page on; an API error ends the search, and the cursor stays where it was."""
        try:
            while emitted < self.limit and not self.cancel.is_set():
                page = self.src.search_page(self.query, cursor)
                emitted, whole = self._emit(page.works, emitted)
                # A page the limit cut short is read again by a run with a higher one.
                cursor = page.cursor if whole else cursor
                self.put(SearchPage(cursor, emitted))
                if cursor is None:
                    return
        except Cancelled:
            return
        except ApiError as e:
            self.error = f"{self.src.name}: {e}"
            log.error("search stopped: %s; re-run to go on from the last page", self.error)

    def _emit(self, works: list[Found], emitted: int) -> tuple[int, bool]:
        """Each work of a page not out yet (and in this shard), up to the limit: how many
        are out now, and whether the whole page was."""
        for found in works:
            if emitted >= self.limit:
                return emitted, False
            ident = found.work or found.doi or found.arxiv or ""
            if ident in self.seen or (self.shard is not None and not self.shard.owns(ident)):
                continue
            self.seen.add(ident)
            rec = record_of(found, self.src.name, self.query)
            paper = paper_from_record(rec)
            self.put(PaperQueued(paper))
            self.put(PaperConsolidated(paper, rec))
            emitted += 1
        return emitted, True


def _checkpoint(path: str, about: dict[str, Any], refresh: bool) -> tuple[StateStore, Any]:
    """The search's checkpoint, locked, and its cursor record (None: a new search).
    StateError if it is another search's, unless `refresh` (which empties it)."""
    state = StateStore.open(path)
    prior = None if refresh else state.get(CURSOR)
    if prior is not None and {k: prior.get(k) for k in about} != about:
        state.close(compact=False)
        raise StateError(f"checkpoint {state.path} is of another search ({prior.get('source')} "
                         f"{prior.get('search')}); give another --state, or --refresh to start over")
    if refresh:
        state.adopt({})
    return state, prior


def run_search(settings: Settings, query: SearchQuery, *, source: str = "openalex",
               limit: int = 100, out: TextIO | None, state_path: str | None = None,
               reporter: Reporter | None = None, cancel: threading.Event | None = None,
               clock: Callable[[], float] = time.time, refresh: bool = False) -> Summary:
    """Search `source` for `query`: at most `limit` records as JSON Lines on `out`.

    The checkpoint (`state_path`, default one file per search in the current folder)
    keeps each record and the cursor; a re-run outputs the kept records again without
    a request and goes on from the cursor. StateError if the checkpoint is another
    search's; ConfigError for a source that cannot search.
    """
    reporter = reporter or Reporter()
    cancel = cancel or threading.Event()
    shard = settings.shard if settings.shard is not None and not isinstance(settings.shard, str) \
        else None
    src = _source(settings, source, cancel)
    about = {"source": source, "search": query.describe(), "shard": str(shard or "")}
    state, prior = _checkpoint(state_path or checkpoint_path(source, query, shard), about, refresh)
    kept = [(k, r) for k, r in state.records.items() if k != CURSOR][:limit]
    output_closed = threading.Event()

    def make_processor(q: queue.Queue) -> ResultProcessor:
        def on_output_closed() -> None:
            output_closed.set()
            cancel.set()

        recorder = SearchRecorder(state, clock=clock, save_interval=settings.save_interval,
                                  on_fatal=cancel.set, command="search", asked_with=(source,),
                                  about=about)
        printer = ConsolidatePrinter(recorder.stats, reporter, out, True,
                                     on_output_closed=on_output_closed)
        return ResultProcessor(q, recorder, printer)

    pager = _Pager(src, query, limit, shard, lambda m: pipeline.put(m), cancel,
                   {r.get("source_id") or r.get("doi") or r.get("arxiv") or "" for _, r in kept})
    pipeline = Pipeline(make_processor, 1, cancel)
    with pipeline:
        pipeline.put(TotalEstimate(limit))
        for _, rec in kept:
            paper = paper_from_record(public(rec))
            pipeline.put(PaperQueued(paper))
            pipeline.put(PaperConsolidated(paper, public(rec), skipped=True))
        if not (prior and prior.get("done")) and len(kept) < limit:
            pipeline.submit(pager.run, prior.get("cursor") if prior else None, len(kept))
    pipeline.processor.printer.raise_stdout_error()
    recorder = pipeline.processor.recorder
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), recorder.fatal_error,
                               None, pager.error)
    return Summary(stats=recorder.stats, failures=recorder.failures, ending=ending,
                   reason=reason, output_dir="", state_path=state.path,
                   notes=[n for n in (src.note(),) if n])
