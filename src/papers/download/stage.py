"""The lookup stage as `papers download` wires it: made when the first paper needs it, with
the matcher of reference strings made at the first reference (a run of plain URLs never
imports the API clients, a run of DOIs never imports the matching)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from papers.download.planner import Fetch
from papers.inputs.records import reference_text
from papers.model import Outcome, Paper
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
                                       match_connections=max(1, min(s.workers, 16)))
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
