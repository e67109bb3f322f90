"""OpenAlex: `GET /works/doi:{doi}`, batches `GET /works?filter=doi:a|b&per_page=N`."""

from __future__ import annotations

import logging
from typing import Any

from papers.discovery.sources.base import Found, Ids, Page, SearchQuery, Source, text, url_ident
from papers.errors import QuotaExhausted
from papers.inputs.ids import arxiv_base
from papers.model import year_of

_DOI_URL = "https://doi.org/"
log = logging.getLogger("papers")


def _doi_for(ids: Ids) -> str | None:
    if ids.doi:
        return ids.doi
    if ids.arxiv:
        # OpenAlex has no arXiv id form: arXiv works carry the DataCite DOI.
        return "10.48550/arxiv." + arxiv_base(ids.arxiv)
    return None


#: US dollars per call in 2026: a list (filter) call, and a search (`search=`, `*.search`).
LIST_COST, SEARCH_COST = 0.10 / 1000, 1.0 / 1000

MAX_FILTER = 3000  # characters of the encoded filter: the URL must stay under 4096


def url_sized(by_doi: dict[int, str]) -> list[dict[int, str]]:
    """`by_doi` in parts whose `filter=doi:A|B|…`, percent-encoded, fits in a URL."""
    from urllib.parse import quote

    parts: list[dict[int, str]] = [{}]
    size = 0
    for i, doi in by_doi.items():
        n = len(quote(doi, safe="")) + 3  # and the encoded "|"
        if parts[-1] and size + n > MAX_FILTER:
            parts.append({})
            size = 0
        parts[-1][i] = doi
        size += n
    return [p for p in parts if p]


class OpenAlex(Source):
    name = "openalex"
    batch_size = 50  # up to 100 OR-ed values, but the URL must stay under 4096 characters

    def query(self, ids: Ids) -> str | None:
        doi = _doi_for(ids)
        if doi:
            return "doi:" + doi
        if ids.pmid:
            return "pmid:" + ids.pmid
        if ids.pmcid:
            return "pmcid:" + ids.pmcid
        return None

    def _params(self, **kw: Any) -> dict[str, Any]:
        if self.conf.api_key:
            kw["api_key"] = self.conf.api_key
        return kw

    lists_refused: str | None = None   # why list calls stopped: the rest go one by one

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        by_doi = {i: _doi_for(ids) for i, ids in enumerate(batch) if _doi_for(ids)}
        results: list[Found | None] = [None] * len(batch)
        listed: set[int] = set()
        for part in url_sized(by_doi):
            if len(part) > 1 and not self.lists_refused and self._list(part, results):
                listed.update(part)
        for i, ids in enumerate(batch):
            if i not in listed:
                results[i] = self.lookup_one(ids)
        return results

    def _list(self, by_doi: dict[int, str], results: list[Found | None]) -> bool:
        """One list call for the DOIs in `by_doi` (a credit); False if OpenAlex refused it
        for the allowance, after which singletons (free) do the rest of the run."""
        try:
            resp = self.client.request(self.conf, f"{self.base}/works", params=self._params(
                filter="doi:" + "|".join(by_doi.values()), per_page=len(by_doi)))
        except QuotaExhausted as e:
            self._refuse(str(e))
            return False
        if resp is not None and (resp.headers.get("X-RateLimit-Remaining") or "").strip() == "0":
            self._refuse("the credit allowance is used up (X-RateLimit-Remaining: 0)")
        works = (resp.json().get("results") or []) if resp else []
        found = {}
        for w in works:
            if isinstance(w, dict):
                found[str(w.get("doi") or "").lower().removeprefix(_DOI_URL)] = w
        for i, doi in by_doi.items():
            w = found.get(doi.lower())
            results[i] = self.parse(w) if w else None
        return True

    def _refuse(self, why: str) -> None:
        if not self.lists_refused:
            self.lists_refused = why
            log.warning("openalex: list calls refused (%s); looking papers up one at a time, "
                        "which is free but slower", why)

    def note(self) -> str | None:
        if not self.lists_refused:
            return None
        key = "" if self.conf.api_key else (
            "; a free API key (sources.openalex.api_key) allows 10,000 list calls a day")
        return (f"OpenAlex refused list calls part-way ({self.lists_refused}): the rest of the run "
                f"asked it one paper at a time (free, slower){key}")

    def lookup_one(self, ids: Ids) -> Found | None:
        work = self.work(ids)
        return self.parse(work) if work else None

    def work(self, ids: Ids, wid: str | None = None) -> dict[str, Any] | None:
        """The work object of a paper (by its identifiers, or its W id): a free singleton."""
        q = wid or self.query(ids)
        if q is None:
            return None
        resp = self.client.request(self.conf, f"{self.base}/works/{url_ident(q) if not wid else q}",
                                   params=self._params())
        work = resp.json() if resp else None
        return work if isinstance(work, dict) else None

    def works_by_id(self, wids: list[str]) -> list[Found]:
        """The works with these W ids, `batch_size` to a list call (`filter=openalex:W1|W2`)."""
        out = []
        for i in range(0, len(wids), self.batch_size):
            part = wids[i:i + self.batch_size]
            resp = self.client.request(self.conf, f"{self.base}/works", params=self._params(
                filter="openalex:" + "|".join(part), per_page=len(part)))
            data = resp.json() if resp else {}
            out += [self.parse(w) for w in (data.get("results") or []) if isinstance(w, dict)]
        return out

    page_size = 100

    def search_params(self, query: SearchQuery) -> dict[str, Any]:
        """`search=` and `filter=` for `query` (its years and --oa as filters)."""
        filters = list(query.filters)
        if query.oa:
            filters.append("is_oa:true")
        if query.since and query.until:
            filters.append(f"publication_year:{query.since}-{query.until}")
        elif query.since:
            filters.append(f"publication_year:>{query.since - 1}")
        elif query.until:
            filters.append(f"publication_year:<{query.until + 1}")
        params: dict[str, Any] = {"search": query.text} if query.text else {}
        if filters:
            params["filter"] = ",".join(filters)
        return params

    def search_page(self, query: SearchQuery, cursor: str | None, size: int | None = None) -> Page:
        resp = self.client.request(self.conf, f"{self.base}/works", params=self._params(
            **self.search_params(query), per_page=size or self.page_size, cursor=cursor or "*"))
        data = resp.json() if resp else {}
        meta = data.get("meta") or {} if isinstance(data, dict) else {}
        works = [self.parse(w) for w in (data.get("results") or []) if isinstance(w, dict)]
        count = meta.get("count") if isinstance(meta.get("count"), int) else None
        nxt = meta.get("next_cursor") if works else None
        return Page(works, nxt if isinstance(nxt, str) and nxt else None, count)

    def search_cost(self, query: SearchQuery) -> float:
        params = self.search_params(query)
        searching = "search" in params or ".search:" in params.get("filter", "")
        return SEARCH_COST if searching else LIST_COST

    def parse(self, w: dict[str, Any]) -> Found:
        """A work object into a Found."""
        f = Found(self.name, title=text(w.get("display_name") or w.get("title")),
                  year=year_of(w.get("publication_year")))
        wid = w.get("id")
        f.work = wid.rstrip("/").rsplit("/", 1)[-1] if isinstance(wid, str) and wid else None
        f.type = text(w.get("type"))
        venue = ((w.get("primary_location") or {}).get("source") or {}).get("display_name")
        f.venue = text(venue)
        f.authors = tuple(n for n in (text(((a or {}).get("author") or {}).get("display_name"))
                                      for a in w.get("authorships") or []) if n)
        ids = w.get("ids") or {}
        pmcid = ids.get("pmcid")
        if isinstance(pmcid, str):
            pmcid = pmcid.rstrip("/").rsplit("/", 1)[-1]
        doi = w.get("doi") or ids.get("doi")
        arxiv = None
        if isinstance(doi, str) and "10.48550/arxiv." in doi.lower():
            arxiv = doi.lower().split("10.48550/arxiv.", 1)[1]
        f.set_ids(doi=doi, pmid=ids.get("pmid"), pmcid=pmcid, arxiv=arxiv)
        oa = w.get("open_access") or {}
        f.is_oa = oa.get("is_oa") if isinstance(oa.get("is_oa"), bool) else None
        f.oa_status = text(oa.get("oa_status"))
        # open_access.oa_url may be a landing page: only pdf_url fields name PDFs.
        seen = set()
        for loc in [w.get("best_oa_location"), w.get("primary_location"), *(w.get("locations") or [])]:
            if not isinstance(loc, dict) or not loc.get("pdf_url") or loc["pdf_url"] in seen:
                continue
            seen.add(loc["pdf_url"])
            src = loc.get("source") or {}
            host_type = "repository" if src.get("type") == "repository" else "publisher"
            f.add(loc["pdf_url"], host_type=host_type, version=text(loc.get("version")),
                  license=text(loc.get("license")))
        best = w.get("best_oa_location") or {}
        f.license = text(best.get("license"))
        return f
