"""The common interface of a scholarly source and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from papers.inputs.ids import ID_KINDS, normalise, quote_doi
from papers.net.api import ApiClient
from papers.settings import SourceSettings


@dataclass(slots=True)
class Ids:
    """The identifiers known for one paper; sources add the ones they learn."""

    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    pmcid: str | None = None

    def learn(self, other: "Found") -> bool:
        """Take identifiers we lacked from `other`; True if any was new."""
        new = False
        for kind in ID_KINDS:
            if getattr(self, kind) is None:
                value = getattr(other, kind)
                if value:
                    setattr(self, kind, value)
                    new = True
        return new

    def as_tuple(self) -> tuple[str | None, ...]:
        return (self.doi, self.arxiv, self.pmid, self.pmcid)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A URL that should serve the paper's PDF, and who named it."""

    url: str
    source: str
    host_type: str | None = None      # repository | publisher
    version: str | None = None        # submittedVersion | acceptedVersion | publishedVersion
    license: str | None = None

    def as_dict(self) -> dict[str, Any]:
        d = {"url": self.url, "source": self.source}
        for k in ("host_type", "version", "license"):
            v = getattr(self, k)
            if v:
                d[k] = v
        return d


@dataclass(slots=True)
class Found:
    """What one source knows about one paper."""

    source: str
    title: str | None = None
    authors: tuple[str, ...] = ()
    year: int | None = None
    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    is_oa: bool | None = None
    oa_status: str | None = None
    license: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    work: str | None = None             # the source's own id of the work (OpenAlex W…), for search
    venue: str | None = None            # the journal or conference, for matching references
    type: str | None = None             # the source's type: article, erratum, retraction, ...

    def set_ids(self, doi: Any = None, arxiv: Any = None, pmid: Any = None, pmcid: Any = None) -> None:
        """Record identifiers from an API answer, normalised; junk is dropped."""
        for kind, value in (("doi", doi), ("arxiv", arxiv), ("pmid", pmid), ("pmcid", pmcid)):
            if value not in (None, ""):
                norm = normalise(kind, str(value))
                if norm:
                    setattr(self, kind, norm)

    def add(self, url: Any, **kw: Any) -> None:
        """Add a PDF candidate (empty strings and non-http URLs are ignored)."""
        if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://")):
            self.candidates.append(Candidate(url.strip(), self.source, **{k: v for k, v in kw.items() if v}))


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What `papers search` asks: free text and OpenAlex-style `KEY:VALUE` filters, open
    access only, a span of publication years."""

    text: str | None = None
    filters: tuple[str, ...] = ()
    oa: bool = False
    since: int | None = None
    until: int | None = None

    def describe(self) -> str:
        """The query as records carry it: `"text" filter:a,b oa since:2020 until:2024`."""
        parts = [f'"{self.text}"'] if self.text else []
        parts += [f"filter:{','.join(self.filters)}"] if self.filters else []
        parts += ["oa"] if self.oa else []
        parts += [f"since:{self.since}"] if self.since else []
        parts += [f"until:{self.until}"] if self.until else []
        return " ".join(parts)


@dataclass(slots=True)
class Page:
    """One page of search results: the works, the cursor of the next page (None: the last
    page), and how many works match in all, if the source says."""

    works: list[Found]
    cursor: str | None
    count: int | None = None


class Source:
    """One scholarly API. Subclasses set `name` and implement `query` and `lookup`."""

    name = "source"
    batch_size = 1

    def __init__(self, conf: SourceSettings, client: ApiClient, email: str | None = None) -> None:
        self.conf = conf
        self.client = client
        self.email = email
        self.base = conf.base_url.rstrip("/")

    def unavailable(self) -> str | None:
        """Why this source cannot be used at all, or None."""
        return None

    def note(self) -> str | None:
        """What the run's summary should say about this source (an allowance used up), or None."""
        return None

    def query(self, ids: Ids) -> str | None:
        """The identifier this source would be asked with, or None if it cannot help."""
        raise NotImplementedError

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        """Look up each paper (at most `batch_size`); None where the source knows nothing.

        Raises ApiError when the source could not answer.
        """
        return [self.lookup_one(ids) for ids in batch]

    def lookup_one(self, ids: Ids) -> Found | None:
        raise NotImplementedError

    #: Works a search page holds; 0: this source cannot search.
    page_size = 0

    def search_page(self, query: SearchQuery, cursor: str | None, size: int | None = None) -> Page:
        """One page of `query`'s results from `cursor` (None: the first page), of `size`
        works (default `page_size`). Raises ApiError when the source could not answer."""
        raise NotImplementedError

    def search_cost(self, query: SearchQuery) -> float:
        """US dollars one search call costs (OpenAlex's 2026 credits; 0 elsewhere)."""
        return 0.0


def url_ident(query: str) -> str:
    """A `kind:value` query made safe for a URL path: DOIs are percent-encoded."""
    kind, value = query.split(":", 1)
    return f"{kind}:{quote_doi(value)}" if kind.lower() == "doi" else query


def crossref_doi(ids: Ids) -> str | None:
    """The DOI to ask a Crossref-based service about (arXiv's DataCite DOIs are not there)."""
    if ids.doi and not ids.doi.startswith("10.48550/"):
        return ids.doi
    return None


def text(value: Any) -> str | None:
    """A non-empty stripped string, or None."""
    if isinstance(value, str):
        v = " ".join(value.split())
        return v or None
    return None

