"""The domain types every part shares: a `Paper`, and what became of it (`Status`,
`Outcome`)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from papers.inputs.ids import ID_KINDS

#: The longest PAPER string (an identifier or a URL) taken; a longer one is not a paper,
#: and is neither sent, nor echoed, nor recorded whole.
MAX_PAPER = 16_384


@dataclass(slots=True, eq=False)
class Paper:
    """One paper to fetch. Treated as immutable (use `dataclasses.replace`); not frozen
    only because a frozen dataclass is slower to build, which a million-line list
    feels ("Paper" in bench/AB.md).

    `key` is its identity (two spellings of one paper share it); `id` is what
    the user sees; `urls` are PDF candidates, best first. `problem` is set when
    the input named something we cannot fetch (junk, an unresolved identifier).
    """

    key: str
    id: str
    urls: tuple[str, ...] = ()
    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    problem: str | None = None

    @property
    def identifiers(self) -> list[str]:
        """The scholarly identifiers this paper carries, as `kind:value` strings."""
        out = []
        for kind in ID_KINDS:
            value = getattr(self, kind)
            if value:
                out.append(f"{kind}:{value}")
        return out


def year_of(value: Any) -> int | None:
    """The year that a field gives (`2021`, `"2021-05-04"`, ` 2021 `), or None when it gives
    none a paper could have (outside 1000 to 2999)."""
    try:
        y = int(str(value).strip()[:4])
    except (TypeError, ValueError):
        return None
    return y if 1000 <= y <= 2999 else None


def candidate_urls(paper: Paper, doi_resolver: str | None) -> tuple[str, ...]:
    """The URLs to try for `paper`, in order: its own, then its DOI at the resolver."""
    if not paper.doi or not doi_resolver:
        return paper.urls
    from papers.inputs.ids import quote_doi

    doi_url = f"{doi_resolver.rstrip('/')}/{quote_doi(paper.doi)}"
    return paper.urls if doi_url in paper.urls else (*paper.urls, doi_url)


class Status(str, enum.Enum):
    """What became of one paper in a run (a str, so it prints and serialises as its value)."""

    DOWNLOADED = "downloaded"
    SKIPPED = "skipped"          # a complete file was already there
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the run stopped first: not a result, the paper resumes next run

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one paper, as the worker (or the planner) saw it."""

    status: Status
    path: str | None = None
    bytes: int = 0
    sha256: str | None = None
    url: str | None = None            # the candidate URL, as given
    pdf_url: str | None = None        # where the bytes came from, after redirects and landing pages
    landing_page: str | None = None   # the landing page that pointed to pdf_url, if any
    attempts: int = 0
    error: str | None = None
    permanent: bool = False           # a failure that retrying will not fix
    size_limit: int | None = None     # too large: the --max-size that refused it
    fatal: bool = False               # the output cannot be written: the run must stop
    started: float | None = None
    finished: float | None = None
    etag: str | None = None           # validators of a kept .part, for a later Range resume
    last_modified: str | None = None
    unreported: int = 0               # bytes received but not yet sent as PROGRESS_UPDATE
    duplicate_of: str | None = None   # downloaded: the same file as this other paper's (its id)
    version: str | None = None        # downloaded: the version a source named for the URL
    license: str | None = None        # downloaded: the licence a source named for the URL
    looked_up: bool = False           # failed after every source was asked
    blocked: str | None = None        # failed at a wall: its kind (download.blocked.KINDS) ...
    blocked_at: str | None = None     # ... and the host that put it up
    identity: str | None = None       # doi, title, unchecked or mismatch (download.identity)
