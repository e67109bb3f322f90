"""The library API of `papers match`: reference strings and titles matched to works
through Crossref (`query.bibliographic`) and OpenAlex (`search=`), scored by
`discovery.match`'s rule. A match comes out as a record with `match: {score, source,
query}`; otherwise the paper fails as `ambiguous` (with its candidates) or `not_found`,
never with a guess. The run is `discovery.stream`'s: the checkpoint marks the inputs done.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, TextIO

from papers.discovery.match import (MARGIN, MIN_SCORE, Candidate, Match, decide, normalise,
                                    title_guess)
from papers.discovery.resolver import merge
from papers.discovery.sources.base import Found, Ids, SearchQuery
from papers.discovery.stream import Emitter, Walk, open_checkpoint, run_stream
from papers.errors import ConfigError
from papers.model import Paper
from papers.output.display import Reporter
from papers.pipeline.runner import Summary, make_sources
from papers.settings import Settings

log = logging.getLogger("papers")

MATCH_SOURCES = ("crossref", "openalex")  # asked in this order, each once a reference
CANDIDATES = 5  # works asked of each source per reference


def reference_text(paper: Paper) -> str | None:
    """The reference string or title a paper stands for, if it is one: a text line that
    is neither an identifier nor a URL (three words or more, with letters), or a record
    with a title and no identifier. None for an identifier, a URL, or junk."""
    if paper.title and not paper.identifiers and not paper.urls:
        who = f"{paper.authors[0]}. " if paper.authors else ""
        return f"{who}{paper.title}. {paper.year or ''}".strip()
    if paper.key.startswith("junk:") and not paper.extra:  # a text line, not a record
        text = " ".join(paper.key[len("junk:"):].split())
        words = [w for w in text.split() if any(ch.isalpha() for ch in w)]
        return text if len(words) >= 3 and len(text) >= 12 else None
    return None


def candidate_of(f: Found) -> Candidate:
    return Candidate(f.doi, f.title or "", f.year, f.authors, f.venue, f.type, f.source, f)


class Matcher:
    """Asks the sources for a reference's candidates and decides among them."""

    def __init__(self, sources: list[Any], min_score: float = MIN_SCORE,
                 margin: float = MARGIN) -> None:
        self.by_name = {s.name: s for s in sources}
        self.min_score, self.margin = min_score, margin

    def candidates(self, text: str) -> list[Candidate]:
        found: list[Found] = []
        if "crossref" in self.by_name:
            found += self.by_name["crossref"].bibliographic(text, CANDIDATES)
        if "openalex" in self.by_name:
            # Its title search (a list call, a tenth of a search's credit), on the part of
            # the reference most likely its title: every word must be in the title.
            title = normalise(title_guess(text))[:300]
            if title:
                found += self.by_name["openalex"].search_page(
                    SearchQuery(filters=(f"title.search:{title}",)), None, size=CANDIDATES).works
        return [candidate_of(f) for f in found if f.title]

    def match(self, text: str) -> tuple[Match, list[Candidate]]:
        """The decision, and every candidate the sources named (two may name one work)."""
        cands = self.candidates(text)
        return decide(text, cands, self.min_score, self.margin), cands


def record_of(paper: Paper, text: str, m: Match, cands: list[Candidate] = ()) -> dict[str, Any]:
    """The record of one reference: the matched work's (with what every source that
    named it said), or a failure that says why."""
    about: dict[str, Any] = {"status": m.status, "query": text}
    if m.status != "matched" or m.best is None:
        about["candidates"] = [s.as_dict() for s in m.candidates]
        reason = ("no work close enough to it" if m.status == "not_found" else
                  f"{len(m.candidates)} works are close and none is clearly it")
        return {"id": paper.id, "status": m.status, "reason": reason, "match": about,
                "pdf_urls": [], "candidates": [], "complete": True}
    best = m.best
    found: Found = best.candidate.extra
    doi = (found.doi or "").lower()
    same = {c.source: c.extra for c in cands if doi and (c.doi or "").lower() == doi}
    same[found.source] = found
    ids = Ids(found.doi, found.arxiv, found.pmid, found.pmcid)
    for f in same.values():
        ids.learn(f)
    rec = merge(replace(paper, problem=None, title=paper.title or found.title), ids, same,
                {s: "found" for s in same})
    about.update(score=round(best.score, 3), source=found.source)
    rec.update(id=paper.id, match=about)
    return rec


def failed_record(paper: Paper) -> dict[str, Any]:
    """A line that is junk, not a reference: it fails as it always did, with its reason."""
    return {"id": paper.id, "status": "failed", "reason": paper.problem or "nothing to match",
            "pdf_urls": [], "candidates": [], "complete": True}


def _walk(matcher: Matcher, papers: list[Paper], in_flight: int) -> Callable[[Emitter, Any], None]:
    """The walk: the inputs in runs of `in_flight` matched at once (the limiter keeps each
    source to its rate), each run written in input order and marked done."""
    def walk(emitter: Emitter, prior: dict[str, Any] | None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        done = set(prior.get("done") or []) if prior else set()
        todo = [i for i in range(len(papers)) if i not in done]
        with ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="papers-match") as pool:
            for start in range(0, len(todo), in_flight):
                if emitter.stopping:
                    return
                run = todo[start:start + in_flight]
                for i, rec in zip(run, pool.map(lambda i: _record(matcher, papers[i]), run)):
                    emitter.record(rec, ident=f"input:{i}")
                    done.add(i)
                emitter.mark(done=sorted(done))
        emitter.mark(done=sorted(done), complete=True)
    return walk


def _record(matcher: Matcher, paper: Paper) -> dict[str, Any]:
    """One input's record: matched, ambiguous or not found, or why there is nothing to match."""
    text = reference_text(paper)
    if text is not None:
        return record_of(paper, text, *matcher.match(text))
    if paper.identifiers or paper.urls:
        return {"id": paper.id, "status": "failed", "complete": True, "pdf_urls": [],
                "candidates": [], "reason": "an identifier or a URL: nothing to match"}
    return failed_record(paper)


def run_match(settings: Settings, papers: Iterable[Paper], *, out: TextIO | None,
              state_path: str | None = None, reporter: Reporter | None = None,
              cancel: threading.Event | None = None, clock: Callable[[], float] = time.time,
              refresh: bool = False, min_score: float = MIN_SCORE) -> Summary:
    """Match each reference string or title of `papers`: one record per input on `out`."""
    from papers.net.hosts import HostLimiter

    cancel = cancel or threading.Event()
    given = list(papers)
    enabled = tuple(n for n in MATCH_SOURCES if settings.source(n).enabled)
    if not enabled:
        raise ConfigError("neither crossref nor openalex is enabled: check sources.<name>.enabled")
    limiter = HostLimiter(settings.max_per_host, settings.rate_limit, cancel)
    sources = make_sources(replace(settings, use_sources=enabled), limiter, cancel)
    what = "\n".join(p.key for p in given)
    about = {"source": ",".join(enabled), "search": "match " + hashlib.sha256(
        what.encode()).hexdigest()[:12], "shard": ""}
    path = state_path or os.path.abspath(f".papers-match-{about['search'][6:]}.json")
    state, prior = open_checkpoint(path, about, refresh)
    log.info("matching %d references: %d calls each (%s), at their rate limits", len(given),
             len(enabled), ", ".join(enabled))
    walk = Walk("match", about, enabled,
                _walk(Matcher(sources, min_score), given, max(1, min(settings.workers, 16))))
    return run_stream(settings, walk, state, prior, limit=sys.maxsize, out=out,
                      reporter=reporter, cancel=cancel, clock=clock, expected=len(given),
                      notes=lambda: [s.note() for s in sources])
