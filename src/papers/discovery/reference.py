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
from dataclasses import dataclass, replace
from typing import Any, TextIO

from papers.discovery.match import (MARGIN, MIN_SCORE, Candidate, Match, decide, normalise,
                                    title_guess)
from papers.discovery.resolver import merge
from papers.discovery.sources.base import Found, Ids, SearchQuery
from papers.discovery.stream import Emitter, Walk, open_checkpoint, run_stream
from papers.errors import ConfigError
from papers.inputs.records import reference_text
from papers.model import Paper
from papers.output.display import Reporter
from papers.pipeline.runner import Summary, make_sources
from papers.settings import Settings

log = logging.getLogger("papers")

MATCH_SOURCES = ("crossref", "openalex")  # asked in this order, each once a reference
CANDIDATES = 5  # works asked of each source per reference


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

    def match(self, text: str) -> "Answer":
        """The decision on `text`, with what each source said of the work it matched."""
        cands = self.candidates(text)
        decision = decide(text, cands, self.min_score, self.margin)
        if decision.status != "matched" or decision.best is None:
            return Answer(text, decision, {}, self.min_score, self.margin)
        best: Found = decision.best.candidate.extra
        doi = (best.doi or "").lower()
        same = {c.source: c.extra for c in cands if doi and (c.doi or "").lower() == doi}
        same[best.source] = best
        return Answer(text, decision, same, self.min_score, self.margin)


@dataclass(frozen=True, slots=True)
class Answer:
    """What matching one reference gave: the decision and, for a match, each source's
    answer about the work (a source may have named it too without being the best)."""

    text: str
    decision: Match
    found: dict[str, Found]
    min_score: float = MIN_SCORE
    margin: float = MARGIN

    @property
    def matched(self) -> bool:
        return bool(self.found)

    @property
    def about(self) -> dict[str, Any]:
        """The record's `match` field: status, query, and the score and source of a match,
        or the candidates (DOI, title, year, score) of a failure."""
        m = self.decision
        about: dict[str, Any] = {"status": m.status, "query": self.text}
        if self.matched:
            best = m.best.candidate
            about.update(score=round(m.best.score, 3), source=best.source, doi=best.doi)
        else:
            about["candidates"] = [s.as_dict() for s in m.candidates]
        return about

    @property
    def reason(self) -> str:
        """Why a failure failed, then its closest candidates in brackets (`papers status`
        groups failures by what comes before them)."""
        m = self.decision
        near = "; ".join(f"{s.candidate.doi or s.candidate.title[:40]} ({s.candidate.year or '?'})"
                         f" {s.score:.2f}" for s in m.candidates[:3])
        closest = f" [closest: {near}]" if near else ""
        if m.status == "not_found":
            return f"no work close enough to it{closest}"
        best = m.candidates[0].score
        if best < self.min_score:
            return (f"ambiguous: the closest work scores {best:.2f}, under the {self.min_score:g} "
                    f"a match needs{closest}")
        close = sum(best - s.score < self.margin for s in m.candidates)
        return f"ambiguous: {close} works score within {self.margin:g} of the best{closest}"

    def ids(self) -> Ids:
        """The matched work's identifiers, from every source that named it."""
        first = next(iter(self.found.values()))
        ids = Ids(first.doi, first.arxiv, first.pmid, first.pmcid)
        for f in self.found.values():
            ids.learn(f)
        return ids


def record_of(paper: Paper, answer: Answer) -> dict[str, Any]:
    """The record of one reference: the matched work's (with what every source that
    named it said), or a failure that says why."""
    if not answer.matched:
        return {"id": paper.id, "status": answer.decision.status, "reason": answer.reason,
                "match": answer.about, "pdf_urls": [], "candidates": [], "complete": True}
    best = answer.decision.best.candidate.extra
    rec = merge(replace(paper, problem=None, title=paper.title or best.title), answer.ids(),
                answer.found, {s: "found" for s in answer.found})
    rec.update(id=paper.id, match=answer.about)
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
        return record_of(paper, matcher.match(text))
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
