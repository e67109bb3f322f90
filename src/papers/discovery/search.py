"""The library API of `papers search`: the works a source finds for a query, as
consolidate's records, paged with the source's own cursor and resumable from it (the
run itself is `discovery.stream`'s: the checkpoint marks the cursor after each page).
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TextIO

from papers.discovery.resolver import merge
from papers.discovery.sources.base import Found, Ids, SearchQuery, Source
from papers.discovery.stream import Emitter, Walk, open_checkpoint, run_stream
from papers.errors import ConfigError, UsageError
from papers.inputs.records import paper_from_record
from papers.output.display import Reporter
from papers.pipeline.runner import Summary, make_sources
from papers.settings import Settings

if TYPE_CHECKING:
    from papers.download.shard import Shard

log = logging.getLogger("papers")

SEARCH_SOURCES = ("openalex", "europepmc", "arxiv")
CONFIRM_OVER = 10_000  # a --limit above this asks first (or --yes)


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
                 until: int | None, limit: int, needs_terms: bool = True) -> SearchQuery:
    """The query the command line asks for; UsageError if it cannot be asked (without
    `needs_terms`, the bounds of references and citations alone)."""
    if filters and source != "openalex":
        raise UsageError(f"--filter is passed to OpenAlex; --source {source} takes its own syntax "
                         "in QUERY")
    for f in filters:
        if ":" not in f.strip(":"):
            raise UsageError(f"--filter {f}: expected KEY:VALUE, e.g. publication_year:2020-2024")
    q = SearchQuery(text.strip() or None, tuple(f.strip() for f in filters), oa, since, until)
    if needs_terms and not q.text and not q.filters:
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


def _pages(src: Source, query: SearchQuery) -> Callable[[Emitter, dict[str, Any] | None], None]:
    """The walk of a search: page on from the mark's cursor until the emitter is full or
    the pages end, marking the cursor after each page."""
    def walk(emitter: Emitter, prior: dict[str, Any] | None) -> None:
        cursor = prior.get("cursor") if prior else None
        while not emitter.stopping:
            page = src.search_page(query, cursor)
            whole = all(emitter.record(record_of(f, src.name, query)) for f in page.works)
            # A page the limit cut short is read again by a run with a higher one.
            cursor = page.cursor if whole else cursor
            emitter.mark(cursor=cursor, complete=cursor is None)
            if cursor is None:
                return
    return walk


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
    cancel = cancel or threading.Event()
    shard = settings.shard if settings.shard is not None and not isinstance(settings.shard, str) \
        else None
    src = _source(settings, source, cancel)
    about = {"source": source, "search": query.describe(), "shard": str(shard or "")}
    state, prior = open_checkpoint(state_path or checkpoint_path(source, query, shard), about,
                                   refresh)
    walk = Walk("search", about, (source,), _pages(src, query))
    return run_stream(settings, walk, state, prior, limit=limit, out=out, reporter=reporter,
                      cancel=cancel, clock=clock, notes=lambda: [src.note()])
