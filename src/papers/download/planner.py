"""The planner: decides each paper without a request: already done, an outcome to
report, or a fetch. `papers download` and its dry run loop over the same planner.

It reads `priors`, a copy of the state's records taken before the processor
starts, never the live store that the processor writes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from papers.disk.files import PartSource
from papers.disk.naming import Namer
from papers.inputs.records import reference_text
from papers.model import Outcome, Paper, Status
from papers.net.hosts import host_of
from papers.state.records import PaperRecord

UNRESOLVED = ("cannot look up {what}: every source is disabled; give a PDF URL, "
              "or a record with pdf_url")
UNMATCHABLE = "a reference or a title is matched through crossref or openalex, and both are disabled"


@dataclass(frozen=True, slots=True)
class Done:
    """The state says downloaded and the file was in the output directory at the start."""

    paper: Paper
    prior: PaperRecord


@dataclass(frozen=True, slots=True)
class Report:
    """An outcome known without a request (a known failure, nothing fetchable, ...)."""

    paper: Paper
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Fetch:
    """Work for a download worker."""

    paper: Paper
    path: str
    resume: PartSource | None         # what the state says a kept `.part` holds
    host: str | None                 # the first candidate's host, for the scheduler
    final_may_exist: bool = True     # False: the final file was absent at the start
    part_may_exist: bool = True      # False: no `.part` at the start
    lookup: Any = None               # a discovery.cascade.Lookup: sources may be asked for more
    versions: dict[str, str] | None = None   # candidate URL: the version a source named
    licenses: dict[str, str] | None = None   # candidate URL: the licence a source named
    earlier: tuple[Any, ...] = ()    # (url, attempt) that failed before, in this run
    doi_fallback: bool = True        # the DOI's landing page may be tried after `paper.urls`
    lookup_error: str | None = None  # why the sources named no candidate


Decision = Done | Report | Fetch


def resume_of(prior: PaperRecord | None) -> PartSource | None:
    """What the state's record says a kept `.part` holds, if it says (a URL and a
    validator)."""
    if prior is not None and prior.url and (prior.etag or prior.last_modified):
        return PartSource(prior.url, prior.etag, prior.last_modified)
    return None
_SEEN = object()  # in Planner.priors: this paper was decided already


def plan(paper: Paper, path: str, prior: PaperRecord | None, retry_failed: bool,
         can_resolve: bool = True, doi_resolver: str | None = None,
         max_size: int | None = None, inside: str | None = None,
         can_match: bool = False) -> Outcome | None:
    """Decide without any network request whether `paper` needs fetching.

    Returns the outcome to report when it does not (already downloaded, a
    known permanent failure, nothing fetchable), or None to fetch it.
    `can_resolve`: some source can look identifiers up; a DOI can also go to
    `doi_resolver`. `inside`: the output directory's path with a final separator
    (default: `path`'s folder); a recorded file in it is the paper's, whatever
    name the naming would give it now. `can_match`: a reference string or a title can be
    matched to a work (crossref or openalex is enabled).
    """
    reference = reference_text(paper) is not None
    if reference and not can_match:
        error = f"{paper.problem}; {UNMATCHABLE}" if paper.problem else UNMATCHABLE
        return Outcome(status=Status.FAILED, error=error, permanent=False)
    if paper.problem and not reference:
        return Outcome(status=Status.FAILED, error=paper.problem, permanent=False)
    if prior and prior.status == Status.DOWNLOADED:
        done_path = prior.path or path
        if not done_path.startswith(inside or os.path.dirname(path) + os.sep):
            # A state copied from another output directory: only what is here counts.
            done_path = path
        try:
            size = os.path.getsize(done_path)
        except OSError:
            size = -1
        if size == prior.bytes:
            return Outcome(status=Status.SKIPPED, path=done_path, bytes=size, sha256=prior.sha256,
                           url=prior.url, pdf_url=prior.pdf_url, version=prior.version,
                           license=prior.license, identity=prior.identity)
        # The file was deleted or changed: fetch it again.
    if not paper.urls and not can_resolve and not (paper.doi and doi_resolver):
        what = ", ".join(paper.identifiers) or paper.id
        return Outcome(status=Status.FAILED, error=UNRESOLVED.format(what=what), permanent=False)
    if prior and prior.status == Status.FAILED and prior.permanent and not retry_failed \
            and not _limit_raised(prior, max_size) and not _sources_unasked(prior, paper, can_resolve):
        return Outcome(status=Status.FAILED, permanent=True, url=prior.url,
                       error=f"{prior.error} [failed permanently before; --retry-failed tries again]")
    return None


def _sources_unasked(prior: PaperRecord, paper: Paper, can_resolve: bool) -> bool:
    """A paper whose own URLs failed for good, but whose identifiers no source was asked
    about: "permanent" was said of those URLs, not of the paper."""
    return can_resolve and not prior.looked_up and bool(paper.urls) and bool(paper.identifiers)


def _limit_raised(prior: PaperRecord, max_size: int | None) -> bool:
    """A paper too large for the last run's --max-size, and this run's allows more."""
    return prior.size_limit is not None and (max_size is None or max_size > prior.size_limit)


class Planner:
    """Decides each paper once; a later spelling of a paper already seen gets None.

    `output_dir` is a realpath. `on_disk` is the directory's listing at the start
    (None if unknown): final names only ever hold complete files, so a re-run
    trusts a listed file whose size the state records, without a stat per paper.
    """

    def __init__(self, output_dir: str, priors: Mapping[str, PaperRecord], on_disk: set[str] | None,
                 retry_failed: bool = False, can_resolve: bool = True,
                 doi_resolver: str | None = None, template: str | None = None,
                 max_size: int | None = None, shard: Any = None, can_match: bool = False) -> None:
        self.output_dir = output_dir
        self.max_size = max_size
        self.shard = shard  # a shard.Shard: papers of other shards are passed over
        # With a template, names can collide: the state's files keep theirs.
        taken = {r.path: k for k, r in priors.items() if r.path} if template else None
        self.namer = Namer(output_dir, template, taken)
        self.prefix = output_dir.rstrip(os.sep) + os.sep
        self.priors: dict[str, Any] = dict(priors)  # its own copy: it marks what it has seen
        self.on_disk = on_disk
        self.retry_failed = retry_failed
        self.can_resolve, self.can_match = can_resolve, can_match
        self.doi_resolver = doi_resolver
        self.seen: set[str] = set()

    def decide(self, paper: Paper) -> Decision | None:
        """What to do with `paper`, or None for a duplicate or another shard's paper."""
        if self.shard is not None and not self.shard.owns(paper.key):
            return None
        prior = self.priors.get(paper.key)
        if prior is None:
            if paper.key in self.seen:
                return None
            self.seen.add(paper.key)
        elif prior is _SEEN:
            return None
        else:
            # Marked in place rather than added to `seen`: a re-run sees every paper in
            # the state, and a second table of a million keys is not free ("Planner" in
            # bench/AB.md).
            self.priors[paper.key] = _SEEN
        if prior is not None and prior.match and "match" not in paper.extra:
            # A reference matched (or not) before: its answer comes out with it again.
            paper = replace(paper, extra={**paper.extra, "match": prior.match})
        if prior is not None and self._done_on_disk(prior):
            return Done(paper, prior)
        try:
            path = self.namer.path(paper)
        except ValueError as e:  # an unsafe name, or a URL that cannot be split to make one
            said = str(e) if str(e).startswith("unsafe") else f"malformed URL: {e}"
            return Report(paper, Outcome(Status.FAILED, error=said, permanent=True))
        decided = plan(paper, path, prior, self.retry_failed, self.can_resolve, self.doi_resolver,
                       self.max_size, self.prefix, self.can_match)
        if decided is not None:
            return Report(paper, decided)
        host = host_of(paper.urls[0]) if paper.urls else None
        resume = resume_of(prior)
        if self.on_disk is None:
            return Fetch(paper, path, resume, host)
        name = path[len(self.prefix):]
        if os.sep in name:  # in a folder of the template's: the listing does not say
            return Fetch(paper, path, resume, host)
        return Fetch(paper, path, resume, host, name in self.on_disk, name + ".part" in self.on_disk)

    def _done_on_disk(self, prior: PaperRecord) -> bool:
        if self.on_disk is None or prior.status != Status.DOWNLOADED:
            return False
        done = prior.path or ""
        return done.startswith(self.prefix) and done[len(self.prefix):] in self.on_disk
