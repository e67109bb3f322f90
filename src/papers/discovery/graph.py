"""The library API of `papers references` and `papers citations`: the works each input
paper cites, or the works that cite it, from OpenAlex (`referenced_works`, fetched in
batches by `filter=openalex:W1|W2`; `filter=cites:W…` with cursor paging) and Semantic
Scholar (`/paper/{id}/references` and `/citations`), merged and deduplicated by
identifier. With `depth` 2 the works found are followed once more. Each record says
which paper led to it (`via`). The run is `discovery.stream`'s: the checkpoint marks
each paper done.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TextIO

from papers.discovery.resolver import merge
from papers.discovery.sources.base import Found, Ids, SearchQuery
from papers.discovery.stream import Emitter, Walk, open_checkpoint, record_ident, run_stream
from papers.errors import ConfigError
from papers.inputs.records import paper_from_record
from papers.model import Paper
from papers.output.display import Reporter
from papers.pipeline.runner import Summary, make_sources
from papers.settings import Settings

log = logging.getLogger("papers")

RELATIONS = ("references", "citations")
GRAPH_SOURCES = ("openalex", "semantic_scholar")


def identity(f: Found) -> str:
    """One work however each source names it: its DOI, else arXiv id, PMID, PMCID, else
    the source's own id."""
    for kind in ("doi", "arxiv", "pmid", "pmcid"):
        value = getattr(f, kind)
        if value:
            return f"{kind}:{value.lower()}"
    return f"{f.source}:{f.work}"


def merged(found: Iterable[Found]) -> dict[str, dict[str, Found]]:
    """The works by identity, each with what every source said of it (the first
    answer of a source wins)."""
    out: dict[str, dict[str, Found]] = {}
    for f in found:
        out.setdefault(identity(f), {}).setdefault(f.source, f)
    return out


def keeps(rec: dict[str, Any], query: SearchQuery) -> bool:
    """Whether a record passes --oa, --since and --until (a year no source gave fails a
    year bound: it cannot be shown to be inside it)."""
    if query.oa and rec.get("is_oa") is not True:
        return False
    year = rec.get("year")
    if (query.since or query.until) and not isinstance(year, int):
        return False
    return not ((query.since and year < query.since) or (query.until and year > query.until))


def via_of(paper: Paper) -> str:
    """How a record names the paper that led to it: `doi:10.x/y`, else its id."""
    return paper.identifiers[0] if paper.identifiers else paper.id


def record_of(by_source: dict[str, Found], relation: str, via: str, depth: int) -> dict[str, Any]:
    """One work as consolidate's record, with the paper that led to it."""
    f = next(iter(by_source.values()))
    ids = Ids()
    for found in by_source.values():
        ids.learn(found)
    shown = ids.doi or (f"arXiv:{ids.arxiv}" if ids.arxiv else None) or ids.pmid or ids.pmcid \
        or f"{f.source}:{f.work}"
    paper = paper_from_record({"id": shown, "doi": ids.doi, "arxiv": ids.arxiv,
                               "pmid": ids.pmid, "pmcid": ids.pmcid})
    rec = merge(paper, ids, by_source, {s: "found" for s in by_source})
    oa = by_source.get("openalex")
    rec["source_id"] = (oa or f).work
    rec["via"] = {relation: via, "depth": depth}
    return rec


class Graph:
    """The neighbours of one paper in the citation graph, from both sources."""

    def __init__(self, sources: list[Any], relation: str, query: SearchQuery) -> None:
        self.by_name = {s.name: s for s in sources}
        self.relation, self.query = relation, query

    def neighbours(self, ids: Ids, want: int) -> list[Found]:
        """What the paper cites (or what cites it), at most about `want` from each source."""
        found: list[Found] = []
        if "openalex" in self.by_name:
            found += self._openalex(ids, want)
        if "semantic_scholar" in self.by_name:
            found += self._s2(ids, want)
        return found

    def _openalex(self, ids: Ids, want: int) -> list[Found]:
        oa = self.by_name["openalex"]
        work = oa.work(ids)
        if work is None:
            return []
        if self.relation == "references":
            wids = [w.rstrip("/").rsplit("/", 1)[-1] for w in work.get("referenced_works") or []
                    if isinstance(w, str)]
            return oa.works_by_id(wids)
        wid = str(work.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
        # The citing works, the years and --oa asked of OpenAlex itself: fewer pages.
        query = replace(self.query, text=None, filters=(f"cites:{wid}",))
        out, cursor = [], None
        while len(out) < want:
            page = oa.search_page(query, cursor)
            out += page.works
            cursor = page.cursor
            if cursor is None:
                break
        return out

    def _s2(self, ids: Ids, want: int) -> list[Found]:
        s2 = self.by_name["semantic_scholar"]
        out: list[Found] = []
        offset: int | None = 0
        while offset is not None and len(out) < want:
            page, offset = s2.neighbours(ids, self.relation, offset)
            out += page
        return out


def checkpoint_path(relation: str, papers: list[Paper], query: SearchQuery, depth: int) -> str:
    """Where a walk keeps its checkpoint when --state is not given: one per walk."""
    what = "\n".join([relation, query.describe(), str(depth), *(p.key for p in papers)])
    return os.path.abspath(f".papers-{relation}-{hashlib.sha256(what.encode()).hexdigest()[:12]}.json")


def _walk(graph: Graph, papers: list[Paper], depth: int) -> Callable[[Emitter, Any], None]:
    """The walk: each paper's neighbours, then (depth 2) theirs; each paper done is marked."""
    def walk(emitter: Emitter, prior: dict[str, Any] | None) -> None:
        done = list(prior.get("done") or []) if prior else []
        level: list[tuple[str, Ids, Paper | None]] = [
            (via_of(p), Ids(p.doi, p.arxiv, p.pmid, p.pmcid), p) for p in papers]
        for d in range(1, depth + 1):
            for via, ids, paper in level:
                if emitter.stopping:
                    return
                if f"{d}:{via}" in done:
                    continue
                _one(graph, emitter, via, ids, d, paper)
                done.append(f"{d}:{via}")
                emitter.mark(done=done)
            level = [(record_ident(r), Ids(r.get("doi"), r.get("arxiv"), r.get("pmid"),
                                           r.get("pmcid")), None)
                     for r in emitter.records if (r.get("via") or {}).get("depth") == d]
        emitter.mark(done=done, complete=True)
    return walk


def _one(graph: Graph, emitter: Emitter, via: str, ids: Ids, depth: int,
         paper: Paper | None) -> None:
    if not any(ids.as_tuple()):
        # An input with nothing to look up by fails, with why (a depth-2 work is skipped).
        if paper is not None:
            why = paper.problem or "no identifier (DOI, arXiv ID, PMID, PMCID) to look it up by"
            emitter.record({"id": paper.id, "status": "failed", "reason": why, "pdf_urls": [],
                            "candidates": [], "complete": True}, ident=f"input:{via}")
        return
    want = emitter.limit - emitter.emitted
    for by_source in merged(graph.neighbours(ids, want)).values():
        rec = record_of(by_source, graph.relation, via, depth)
        if keeps(rec, graph.query) and not emitter.record(rec):
            return


def run_graph(settings: Settings, relation: str, papers: Iterable[Paper], *,
              query: SearchQuery = SearchQuery(), depth: int = 1, limit: int = 100,
              out: TextIO | None, state_path: str | None = None,
              reporter: Reporter | None = None, cancel: threading.Event | None = None,
              clock: Callable[[], float] = time.time, refresh: bool = False) -> Summary:
    """The works that `papers` cite (`references`) or that cite them (`citations`): at
    most `limit` records as JSON Lines on `out`, resumable like a search."""
    from papers.net.hosts import HostLimiter

    cancel = cancel or threading.Event()
    given = list(papers)
    enabled = tuple(n for n in GRAPH_SOURCES if settings.source(n).enabled)
    if not enabled:
        raise ConfigError("neither openalex nor semantic_scholar is enabled: "
                          "check sources.<name>.enabled")
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    sources = make_sources(replace(settings, use_sources=enabled), limiter, cancel)
    about = {"source": ",".join(enabled), "search": f"{relation} depth:{depth} "
             f"{query.describe()}".strip(), "shard": ""}
    state, prior = open_checkpoint(state_path or checkpoint_path(relation, given, query, depth),
                                   about, refresh)
    log.info("%s of %d papers from %s: one call per paper to each, then one per 50 works "
             "(OpenAlex) or 1,000 (Semantic Scholar); depth %d; at most %d works written",
             relation, len(given), ", ".join(enabled), depth, limit)
    walk = Walk(relation, about, enabled, _walk(Graph(sources, relation, query), given, depth),
                follows=depth > 1)
    return run_stream(settings, walk, state, prior, limit=limit, out=out, reporter=reporter,
                      cancel=cancel, clock=clock, notes=lambda: [s.note() for s in sources])


@dataclass(frozen=True, slots=True)
class GraphEstimate:
    """What `papers references` or `citations` would take: the works OpenAlex counts for
    the input papers, those a run would fetch, and the calls (and credit) it would make."""

    relation: str
    papers: int                  # input papers with an identifier OpenAlex knows
    unknown: int                 # input papers OpenAlex does not know (or without one)
    works: int                   # OpenAlex's count of their references (or citations)
    fetch: int                   # of those, what --limit lets a run write at most
    calls: dict[str, int]        # source: calls at depth 1
    cost_usd: float
    depth: int
    follow_calls: int            # depth 2: about this many calls more (0 at depth 1)

    def as_dict(self) -> dict[str, Any]:
        return {"relation": self.relation, "papers": self.papers, "unknown": self.unknown,
                "works": self.works, "fetch": self.fetch, "calls": self.calls,
                "cost_usd": round(self.cost_usd, 6), "depth": self.depth,
                "follow_calls": self.follow_calls}

    def sentence(self) -> str:
        verb = "cite" if self.relation == "references" else "are cited by"
        calls = ", ".join(f"{n:,} {s}" for s, n in self.calls.items())
        text = (f"{self.papers:,} paper(s) {verb} {self.works:,} works (OpenAlex's count); "
                f"fetching up to {self.fetch:,} takes about {sum(self.calls.values()):,} calls "
                f"({calls}), about ${self.cost_usd:.4f} of OpenAlex credit")
        if self.depth > 1:
            text += f"; depth 2 follows them for about {self.follow_calls:,} calls more"
        if self.unknown:
            text += f"; {self.unknown:,} paper(s) OpenAlex does not know are left out"
        return text


def calls_for(relation: str, works: int, want: int, sources: tuple[str, ...]) -> dict[str, int]:
    """The calls one paper's walk makes, when it has `works` neighbours and `want` more may
    be written: OpenAlex's work (a free singleton), then its referenced works 50 to a list
    call, or the pages of `cites:` (100 a page); Semantic Scholar's pages of 1,000."""
    out = {}
    if "openalex" in sources:
        if relation == "references":
            out["openalex"] = 1 + math.ceil(works / OPENALEX_BATCH)
        else:
            out["openalex"] = 1 + max(1, math.ceil(min(works, want) / OPENALEX_PAGE))
    if "semantic_scholar" in sources:
        out["semantic_scholar"] = max(1, math.ceil(min(works, want) / S2_PAGE))
    return out


OPENALEX_BATCH, OPENALEX_PAGE, S2_PAGE = 50, 100, 1000


def estimate_graph(settings: Settings, relation: str, papers: Iterable[Paper], *,
                   depth: int = 1, limit: int = 100,
                   cancel: threading.Event | None = None) -> GraphEstimate:
    """`papers references|citations --count`: OpenAlex's count of each paper's references
    (or citations), one free singleton call a paper; fetches no neighbour."""
    from papers.discovery.sources.openalex import LIST_COST
    from papers.net.hosts import HostLimiter

    cancel = cancel or threading.Event()
    enabled = tuple(n for n in GRAPH_SOURCES if settings.source(n).enabled)
    if "openalex" not in enabled:
        raise ConfigError("--count asks OpenAlex for the counts: it is disabled "
                          "(sources.openalex.enabled)")
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    oa = make_sources(replace(settings, use_sources=("openalex",)), limiter, cancel)[0]
    known, unknown, works, lists = 0, 0, 0, 0  # lists: OpenAlex list calls (its credit)
    calls: dict[str, int] = dict.fromkeys(enabled, 0)
    for paper in papers:
        ids = Ids(paper.doi, paper.arxiv, paper.pmid, paper.pmcid)
        work = oa.work(ids) if any(ids.as_tuple()) else None
        want = limit - min(works, limit)  # a walk stops once --limit works are written
        if work is None:
            unknown += 1
            if any(ids.as_tuple()) and want:  # the walk asks each source once, to find out
                for name in calls:
                    calls[name] += 1
            continue
        n = _neighbours_count(work, relation)
        known, works = known + 1, works + n
        if want:
            for name, k in calls_for(relation, n, want, enabled).items():
                calls[name] += k
            lists += calls_for(relation, n, want, ("openalex",))["openalex"] - 1
    fetch = min(works, limit)
    per_paper = sum(calls.values()) / known if known else 0
    return GraphEstimate(relation, known, unknown, works, fetch, calls, lists * LIST_COST, depth,
                         round(fetch * per_paper) if depth > 1 else 0)


def _neighbours_count(work: dict[str, Any], relation: str) -> int:
    if relation == "references":
        refs = work.get("referenced_works")
        n = len(refs) if isinstance(refs, list) else work.get("referenced_works_count")
    else:
        n = work.get("cited_by_count")
    return n if isinstance(n, int) and n >= 0 else 0
