"""The lookup stage as `papers download` wires it: made when the first paper needs it, with
the matcher of reference strings made at the first reference (a run of plain URLs never
imports the API clients, a run of DOIs never imports the matching)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from papers.discovery.choice import Choice
from papers.download.planner import Fetch
from papers.inputs.records import reference_text
from papers.model import Outcome, Paper, Status
from papers.pipeline.runner import make_sources
from papers.settings import Settings

if TYPE_CHECKING:
    from papers.discovery.cascade import Cascade
    from papers.net.hosts import HostLimiter
    from papers.net.netconf import NetConfig

MATCHERS = ("crossref", "openalex")  # the sources that match references (discovery.reference)


def can_match(settings: Settings) -> bool:
    """A reference string or a title can be matched: crossref or openalex is enabled."""
    return any(settings.source(n).enabled for n in settings.use_sources if n in MATCHERS)


def to_look_up(paper: Paper) -> bool:
    """Whether a planned paper goes to the lookup stage: it has an identifier, or it is a
    reference string or a title (the planner let it through only if it can be matched)."""
    return bool(paper.identifiers) or (not paper.urls and reference_text(paper) is not None)


class Stage:
    """The lookup stage, made when the first paper needs it: a run of plain URLs never
    imports the API clients."""

    def __init__(self, settings: Settings, limiter: "HostLimiter", cancel: threading.Event,
                 net: "NetConfig") -> None:
        self.settings, self.limiter, self.cancel, self.net = settings, limiter, cancel, net
        self.cascade: Cascade | None = None
        self.lock = threading.Lock()

    def wire(self, send: Callable[[Fetch], bool], report: Callable[[Paper, Outcome], None]) -> None:
        self.send, self.report = send, report

    def start(self, job: Fetch) -> bool:
        """Give a planned job to the cascade."""
        with self.lock:
            if self.cascade is None:
                from papers.discovery.cascade import Cascade

                s = self.settings
                sources = make_sources(s, self.limiter, self.cancel, self.net)
                self.cascade = Cascade(sources, self.send, self.report, self.cancel,
                                       s.doi_resolver, s.secrets, matcher=_matcher(s, sources),
                                       match_connections=max(1, min(s.workers, 16)),
                                       choice=s.choice())
        return self.cascade.start(job)

    def failed(self, job: Fetch, outcome: Outcome, tried: list[Any]) -> Outcome | None:
        return self.cascade.failed(job, outcome, tried)

    def done(self, job: Fetch) -> None:
        self.cascade.done(job)

    def close_input(self) -> None:
        if self.cascade is not None:
            self.cascade.close_input()

    def notes(self) -> list[str | None]:
        """The sources' notes for the summary (an allowance used up)."""
        return [s.note() for s in self.cascade.sources] if self.cascade else []


def _matcher(settings: Settings, sources: list[Any]) -> "_LazyMatcher | None":
    """The references' matcher over the sources (None when neither crossref nor openalex is
    one of them)."""
    if not any(s.name in MATCHERS for s in sources):
        return None
    return _LazyMatcher(settings, sources)


class _LazyMatcher:
    """A `discovery.reference.Matcher`, made at the first reference: a run of DOIs never
    imports the matching (rapidfuzz, the walks)."""

    def __init__(self, settings: Settings, sources: list[Any]) -> None:
        self.settings, self.sources = settings, sources
        self.matcher: Any = None
        self.lock = threading.Lock()

    def match(self, text: str) -> Any:
        with self.lock:
            if self.matcher is None:
                from papers.discovery.reference import Matcher

                self.matcher = Matcher(self.sources, self.settings.match)
        return self.matcher.match(text)


class Router:
    """Where a planned job goes: the lookup stage (identifiers, references), or straight to
    the workers with its own URLs, those of a version and licence the run takes."""

    def __init__(self, stage: Stage | None, to_workers: Callable[[Fetch], bool],
                 report: Callable[[Paper, Outcome], None], choice: Choice) -> None:
        self.stage, self.to_workers, self.report, self.choice = stage, to_workers, report, choice

    def __call__(self, job: Fetch) -> bool:
        """False if the run is stopping."""
        if self.stage is not None and to_look_up(job.paper):
            return self.stage.start(job)
        if not self.choice.active:
            return self.to_workers(job)
        given = {c.get("url"): c for c in job.paper.extra.get("candidates") or ()
                 if isinstance(c, dict)}
        said = [(u, (given.get(u) or {}).get("version"), (given.get(u) or {}).get("license"))
                for u in job.paper.urls]
        kept = [(u, v, lic) for u, v, lic in said if self.choice.keeps(v, lic)]
        if not kept:
            self.report(job.paper, Outcome(status=Status.FAILED, error=self.choice.why_none(
                [(v, lic) for _, v, lic in said])))
            return True
        paper = replace(job.paper, urls=tuple(u for u, _, _ in kept))
        return self.to_workers(replace(
            job, paper=paper, doi_fallback=False,
            versions={u: v for u, v, _ in kept if v} or None,
            licenses={u: lic for u, _, lic in kept if lic} or None))
