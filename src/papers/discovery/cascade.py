"""The lookup stage of `papers download`: a cascade of batching sources ahead of the workers.

A paper that needs PDF candidates waits at the first source that can be asked
about it. Each source gathers its papers into batches (its `batch_size`); a
batch goes when it is full, when no paper joined it for LINGER seconds (so one
DOI is not held back), or when its first paper has waited MAX_LINGER (papers
that trickle back from the workers still share a call).
A paper that comes back with a candidate goes to the download workers at once;
one without goes on to the next source. A paper whose candidates all failed
comes back from its worker (`failed`) and goes on down the cascade in the same
run, so a login page at the first URL still leads to another copy. The DOI's
landing page is the last resort, after every source.

A reference string or title (a text line that is no identifier, a record with a title
and none) is matched first (`discovery.reference.Matcher`, up to `match_connections`
at once): a match goes down the cascade with the work's DOI; an `ambiguous` or
`not_found` answer is the paper's outcome, with its candidates, never a guess.

The stage holds at most CAPACITY papers from the planner (it blocks the planner
beyond that), so a million-line input streams through in bounded memory.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from papers.discovery.choice import Choice
from papers.discovery.resolver import merge, paper_with_candidates, url_identity
from papers.discovery.sources.base import Candidate, Found, Ids, Source
from papers.errors import ApiError, Cancelled
from papers.inputs.records import reference_text
from papers.model import Outcome, Paper, Status
from papers.redact import redact

if TYPE_CHECKING:
    from papers.download.planner import Fetch

log = logging.getLogger("papers")

#: The order sources are asked in: cost (calls per paper, at their rate limits) and yield.
#: Batch sources first; Unpaywall (one call a paper) and Crossref (mostly
#: subscription links) only for what the others did not find.
CASCADE_ORDER = ("openalex", "semantic_scholar", "europepmc", "arxiv", "unpaywall", "crossref")
MATCH = "match"    # the references' tier, ahead of every source
LINGER = 0.2       # seconds without a new paper before a partial batch goes
MAX_LINGER = 2.0   # seconds a partial batch's first paper waits at most
CAPACITY = 4096    # papers from the planner waiting in the stage


@dataclass(slots=True)
class Lookup:
    """One paper's way down the cascade: what it is, who was asked, what was tried."""

    origin: Paper                                    # the paper as planned
    ids: Ids
    status: dict[str, str] = field(default_factory=dict)   # source: found | not found | error: …
    found: dict[str, Found] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)     # identities of URLs tried in this run
    earlier: tuple[Any, ...] = ()                    # (url, attempt) that failed in this run
    failure: Outcome | None = None                   # the last worker's outcome, if one failed
    last_resort: bool = False                        # the DOI's landing page was given to a worker
    reference: str | None = None                     # a reference string or title, to match first
    passed_over: list[tuple[Any, Any]] = field(default_factory=list)  # (version, licence) not taken


def cascade_order(sources: list[Source]) -> list[Source]:
    """`sources` in the order the cascade asks them."""
    rank = {name: i for i, name in enumerate(CASCADE_ORDER)}
    return sorted(sources, key=lambda s: rank.get(s.name, len(rank)))


def asked_before(paper: Paper) -> dict[str, str]:
    """The sources a consolidated record says were asked (they need not be asked again)."""
    sources = paper.extra.get("sources")
    if not isinstance(sources, dict):
        return {}
    return {k: v for k, v in sources.items()
            if isinstance(k, str) and v in ("found", "not found")}


def versions_of(paper: Paper) -> dict[str, str]:
    """URL → version named by a consolidated record's `candidates`."""
    out = {}
    for c in paper.extra.get("candidates") or ():
        if isinstance(c, dict) and isinstance(c.get("url"), str) and isinstance(c.get("version"), str):
            out[c["url"]] = c["version"]
    return out


class Cascade:
    """The lookup stage. `send(job)` hands a job with candidates to the workers;
    `report(paper, outcome)` reports a paper no source found anything for."""

    def __init__(self, sources: list[Source], send: Callable[["Fetch"], bool],
                 report: Callable[[Paper, Outcome], None], cancel: threading.Event,
                 doi_resolver: str | None, secrets: tuple[str, ...] = (),
                 clock: Callable[[], float] = time.monotonic, matcher: Any = None,
                 match_connections: int = 4, choice: Choice = Choice()) -> None:
        self.choice = choice  # the versions and licences the run takes
        self.sources = cascade_order(sources)
        self.names = [s.name for s in sources]       # the configured order, for reasons
        self.arxiv = next((s for s in sources if s.name == "arxiv"), None)
        self.send, self.report, self.cancel = send, report, cancel
        self.doi_resolver, self.secrets, self.clock = doi_resolver, secrets, clock
        self.cond = threading.Condition()
        self.tiers: dict[str, _Tier] = {s.name: _Tier(self, s) for s in self.sources}
        if matcher is not None:  # a discovery.reference.Matcher: references are matched first
            self.tiers[MATCH] = _MatchTier(self, matcher, match_connections)
        self.owned = 0          # papers given to the stage and not yet finished
        self.waiting = 0        # of those, papers from the planner waiting at a source
        self.input_done = False
        self.threads: list[threading.Thread] = []

    # -- the planner's side ------------------------------------------------------
    def start(self, job: "Fetch") -> bool:
        """Take a planned job: to the workers at once if it has candidates, else to the
        first source. Blocks while CAPACITY papers wait. False if the run is stopping."""
        paper = job.paper
        reference = None if paper.identifiers or paper.urls else reference_text(paper)
        lookup = Lookup(paper if reference is None else replace(paper, problem=None),
                        Ids(paper.doi, paper.arxiv, paper.pmid, paper.pmcid),
                        status=asked_before(paper), reference=reference)
        job = replace(job, lookup=lookup, versions=versions_of(paper) or None)
        with self.cond:
            while self.waiting >= CAPACITY:
                if self.cancel.is_set():
                    return False
                self.cond.wait(0.2)
            self.owned += 1
        self._start_threads()
        if self._advance(job, from_planner=True):
            return True
        self.done(job)
        return False

    def close_input(self) -> None:
        """The planner is done: wait until every paper in the stage is finished."""
        with self.cond:
            self.input_done = True
            self.cond.notify_all()
            while self.owned and not self.cancel.is_set():
                self.cond.wait(0.2)
            self.cond.notify_all()
        deadline = time.monotonic() + (0 if self.cancel.is_set() else 5)
        for t in self.threads:  # idle now: each sees the end within its next wait
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    # -- the workers' side -------------------------------------------------------
    def failed(self, job: "Fetch", outcome: Outcome, tried: list[tuple[str, Any]]) -> Outcome | None:
        """Every candidate of `job` failed: None if a later source (or the DOI's page) is
        tried next, in this run; otherwise the outcome to report."""
        lookup = job.lookup
        lookup.earlier = (*job.earlier, *tried)
        lookup.tried.update(url_identity(u) for u, _ in tried)
        lookup.failure = outcome
        if not lookup.last_resort and self._advance(job, from_planner=False, worker=True):
            return None
        return self._final(lookup)

    @staticmethod
    def _final(lookup: Lookup) -> Outcome:
        """The failure to report once nothing is left to try."""
        outcome = lookup.failure
        errors = [f"{s} {v}" for s, v in lookup.status.items() if v.startswith("error")]
        if errors:  # a source could not answer: worth asking again next run
            return replace(outcome, permanent=False,
                           error=f"{outcome.error}; no other copy found yet ({'; '.join(errors)})")
        return replace(outcome, looked_up=True)

    def done(self, job: "Fetch") -> None:
        """`job`'s paper is finished (reported)."""
        with self.cond:
            self.owned -= 1
            self.cond.notify_all()

    # -- the cascade ---------------------------------------------------------------
    def _advance(self, job: "Fetch", from_planner: bool, worker: bool = False) -> bool:
        """Send `job` on: to the workers with its untried candidates, to the next source,
        or to its last resort. False if stopping, or (`worker`: called by the worker whose
        fetch failed) if nothing is left, so that the worker reports the failure."""
        lookup = job.lookup
        if lookup.reference is not None and MATCH not in lookup.status and MATCH in self.tiers:
            self.tiers[MATCH].put(job, from_planner)
            return True
        record = self._record(lookup)
        fresh = [c for c in record["candidates"] if url_identity(c["url"]) not in lookup.tried]
        if self.choice.active:
            fresh = self._chosen(lookup, fresh)
        if fresh:
            return self._send(job, lookup, record, fresh)
        tier = self._next_tier(lookup)
        if tier is not None:
            tier.put(job, from_planner)
            return True
        return self._last_resort(job, lookup, record, worker)

    def _chosen(self, lookup: Lookup, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The candidates of a version and licence the run takes; the others are passed
        over for good (and said in the failure if nothing else is left)."""
        kept = []
        for c in fresh:
            if self.choice.keeps(c.get("version"), c.get("license")):
                kept.append(c)
            else:
                lookup.tried.add(url_identity(c["url"]))
                lookup.passed_over.append((c.get("version"), c.get("license")))
        return kept

    def _send(self, job: "Fetch", lookup: Lookup, record: dict[str, Any],
              fresh: list[dict[str, Any]]) -> bool:
        for c in fresh:
            lookup.tried.add(url_identity(c["url"]))
        paper = replace(paper_with_candidates(lookup.origin, record),
                        urls=tuple(c["url"] for c in fresh))
        versions = dict(job.versions or {})
        versions.update((c["url"], c["version"]) for c in fresh if c.get("version"))
        licenses = dict(job.licenses or {})
        licenses.update((c["url"], c["license"]) for c in fresh if c.get("license"))
        return self.send(replace(job, paper=paper, earlier=lookup.earlier, doi_fallback=False,
                                 versions=versions or None, licenses=licenses or None))

    def _last_resort(self, job: "Fetch", lookup: Lookup, record: dict[str, Any],
                     worker: bool) -> bool:
        """No source has more: the DOI's landing page, or a report of why nothing was found."""
        # The DOI's page names no version or licence: only a run that takes unknown ones.
        if lookup.ids.doi and self.doi_resolver and self.choice.keeps(None, None):
            lookup.last_resort = True
            paper = replace(paper_with_candidates(lookup.origin, record), urls=())
            error = None if lookup.earlier else record["reason"]
            return self.send(replace(job, paper=paper, earlier=lookup.earlier, doi_fallback=True,
                                     lookup_error=error))
        if worker:
            return False
        paper = paper_with_candidates(lookup.origin, record)
        if lookup.failure is not None:
            self.report(paper, self._final(lookup))
        elif lookup.passed_over:  # there were copies, none of a version or licence taken
            self.report(paper, Outcome(status=Status.FAILED,
                                       error=self.choice.why_none(lookup.passed_over)))
        else:
            self.report(paper, Outcome(status=Status.FAILED, error=record["reason"],
                                       permanent=record["status"] == "not_found",
                                       looked_up=record["status"] == "not_found"))
        self.done(job)
        return True

    def _next_tier(self, lookup: Lookup) -> "_Tier | None":
        for src in self.sources:
            if src.name in lookup.status or not src.query(lookup.ids):
                continue
            why = src.unavailable()
            if why:
                lookup.status[src.name] = why
                continue
            return self.tiers[src.name]
        return None

    def _record(self, lookup: Lookup) -> dict[str, Any]:
        """What is known of the paper now, merged as consolidate would."""
        extra = []
        ids, status = lookup.ids, lookup.status
        # An arXiv PDF URL can be built without asking; only arXiv's "no such paper" stops it.
        if self.arxiv and ids.arxiv and status.get("arxiv") != "not found" and "arxiv" not in lookup.found:
            extra.append(Candidate(self.arxiv.pdf_url(ids.arxiv), "arxiv",
                                   host_type="repository", version="submittedVersion"))
        ordered = {n: status[n] for n in self.names if n in status}
        return merge(lookup.origin, ids, lookup.found, ordered, extra)

    def answered(self, src: Source, batch: list["Fetch"], answers: list[Found | None] | None,
                 error: str | None) -> None:
        """A source's answer for a batch: each paper goes on."""
        for job, f in zip(batch, answers or [None] * len(batch)):
            lookup = job.lookup
            if error is not None:
                lookup.status[src.name] = f"error: {error}"
            else:
                lookup.status[src.name] = "found" if f else "not found"
                if f:
                    lookup.found[src.name] = f
                    lookup.ids.learn(f)
            if not self._advance(job, from_planner=False):
                self.done(job)  # stopping: nobody takes it

    def matched(self, job: "Fetch", answer: Any, error: str | None) -> None:
        """The matcher's answer (a discovery.reference.Answer) for a reference: a match goes
        on with the work's identifiers and what the sources said of it; anything else is
        the paper's outcome."""
        lookup = job.lookup
        if error is not None:  # worth asking again next run
            lookup.status[MATCH] = f"error: {error}"
            self._unmatched(job, Outcome(status=Status.FAILED, error=f"cannot match it now: {error}"))
            return
        lookup.origin = replace(lookup.origin, extra={**lookup.origin.extra, "match": answer.about})
        if not answer.matched:
            self._unmatched(job, Outcome(status=Status.FAILED, error=answer.reason, permanent=True,
                                         looked_up=True))
            return
        lookup.status[MATCH] = "found"
        lookup.ids = answer.ids()
        for name, found in answer.found.items():  # asked already: by the reference, not its DOI
            lookup.found[name] = found
            lookup.status[name] = "found"
        if not self._advance(job, from_planner=False):
            self.done(job)

    def _unmatched(self, job: "Fetch", outcome: Outcome) -> None:
        self.report(job.lookup.origin, outcome)
        self.done(job)

    # -- threads -----------------------------------------------------------------
    def _start_threads(self) -> None:
        if self.threads:
            return
        with self.cond:
            if self.threads:
                return
            for tier in self.tiers.values():
                for n in range(tier.connections):
                    t = threading.Thread(target=tier.run, name=f"papers-lookup-{tier.name}-{n}",
                                         daemon=True)
                    self.threads.append(t)
                    t.start()

    def nothing_else_to_come(self) -> bool:
        """The input ended and every unfinished paper waits at a source: no batch can grow."""
        return self.input_done and sum(len(t.items) for t in self.tiers.values()) >= self.owned

    def finished(self) -> bool:
        """No more work can arrive: the input ended and every paper is finished."""
        return (self.input_done and not self.owned) or self.cancel.is_set()


class _Tier:
    """One source's queue in the cascade, and the batches taken from it."""

    def __init__(self, stage: Cascade, src: Source) -> None:
        self.stage, self.src, self.name = stage, src, src.name
        self.items: deque[tuple[float, "Fetch", bool]] = deque()
        self.size = src.batch_size
        self.connections = max(1, min(src.conf.max_connections, 4))

    def put(self, job: "Fetch", from_planner: bool) -> None:
        """Queue `job` here (never blocks: the planner was held back in `start`)."""
        stage = self.stage
        with stage.cond:
            self.items.append((stage.clock(), job, from_planner))
            stage.waiting += from_planner
            stage.cond.notify_all()

    def take(self) -> list["Fetch"] | None:
        """The next batch, once it should go (see the module's doc). None at the end."""
        stage, size = self.stage, self.size
        with stage.cond:
            while not stage.cancel.is_set():
                if self.items:
                    now = stage.clock()
                    wait = min(self.items[-1][0] + LINGER, self.items[0][0] + MAX_LINGER) - now
                    if len(self.items) >= size or wait <= 0 or stage.nothing_else_to_come():
                        got = [self.items.popleft() for _ in range(min(size, len(self.items)))]
                        stage.waiting -= sum(p for _, _, p in got)
                        stage.cond.notify_all()
                        return [job for _, job, _ in got]
                    stage.cond.wait(wait)
                elif stage.finished():
                    return None
                else:
                    stage.cond.wait(0.5)
            return None

    def run(self) -> None:
        """Ask the source, batch after batch, until the run ends."""
        while (batch := self.take()) is not None:
            try:
                answers, error = self.src.lookup([job.lookup.ids for job in batch]), None
            except ApiError as e:
                answers, error = None, redact(str(e), self.stage.secrets)
                log.info("%s failed for %d paper(s): %s", self.src.name, len(batch), error)
            except Cancelled:
                return
            except Exception as e:  # a bug must cost these papers their source, not the run
                log.debug("%s: internal error", self.src.name, exc_info=True)
                answers, error = None, f"internal error: {type(e).__name__}: {e}"
            self.stage.answered(self.src, batch, answers, error)


class _MatchTier(_Tier):
    """The references' queue: each is matched alone (a search has no batch form), up to
    `connections` at once under each source's rate limit."""

    def __init__(self, stage: Cascade, matcher: Any, connections: int) -> None:
        self.stage, self.matcher, self.name = stage, matcher, MATCH
        self.items = deque()
        self.size, self.connections = 1, max(1, connections)

    def run(self) -> None:
        while (batch := self.take()) is not None:
            for job in batch:
                try:
                    answer, error = self.matcher.match(job.lookup.reference), None
                except ApiError as e:
                    answer, error = None, redact(str(e), self.stage.secrets)
                    log.info("matching %s failed: %s", job.paper.id, error)
                except Cancelled:
                    return
                except Exception as e:  # a bug must cost this paper, not the run
                    log.debug("matching: internal error", exc_info=True)
                    answer, error = None, f"internal error: {type(e).__name__}: {e}"
                self.stage.matched(job, answer, error)
