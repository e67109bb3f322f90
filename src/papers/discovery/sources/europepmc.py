"""Europe PMC: `GET /search?query=…&format=json&resultType=core`, batches as one query of
OR-ed terms with `pageSize`; errors may come inside HTTP 200."""

from __future__ import annotations

from typing import Any

from papers.discovery.sources.base import Found, Ids, Page, SearchQuery, Source, text
from papers.errors import ApiError
from papers.model import year_of


def _asked_by(ids: Ids) -> tuple[str, str]:
    """The identifier `EuropePmc.query` asks by, as (result field, lower-case value)."""
    if ids.pmcid:
        return "pmcid", ids.pmcid.lower()
    if ids.pmid:
        return "pmid", ids.pmid.lower()
    return "doi", (ids.doi or "").lower()


class EuropePmc(Source):
    name = "europepmc"
    batch_size = 50  # terms OR-ed in one search

    def query(self, ids: Ids) -> str | None:
        if ids.pmcid:
            return f"PMCID:{ids.pmcid}"
        if ids.pmid:
            return f"EXT_ID:{ids.pmid} AND SRC:MED"
        if ids.doi:
            return f'DOI:"{ids.doi}"'
        return None

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        """One search for the papers of `batch` (their terms OR-ed), matched back by the
        identifier each was asked by. A page that comes back full may have left some
        out: those are asked alone."""
        terms = [self.query(ids) for ids in batch]
        unique = list(dict.fromkeys(t for t in terms if t))
        if len(unique) < 2:
            return super().lookup(batch)
        page = min(1000, 4 * len(unique))
        results = self._search(" OR ".join(f"({t})" for t in unique), page)
        index: dict[tuple[str, str], dict[str, Any]] = {}
        for r in results:
            for kind in ("pmcid", "pmid", "doi"):
                if isinstance(r.get(kind), str) and r[kind]:
                    index.setdefault((kind, r[kind].lower()), r)
        out: list[Found | None] = []
        for ids, term in zip(batch, terms):
            hit = index.get(_asked_by(ids)) if term else None
            if hit is None and term and len(results) >= page:
                out.append(self.lookup_one(ids))
            else:
                out.append(self.parse(hit) if hit is not None else None)
        return out

    def lookup_one(self, ids: Ids) -> Found | None:
        q = self.query(ids)
        if q is None:
            return None
        results = self._search(q, 1)
        return self.parse(results[0]) if results else None

    def _search(self, query: str, page: int) -> list[dict[str, Any]]:
        return self._results(self._ask(query, page))

    def _ask(self, query: str, page: int, cursor: str | None = None) -> dict[str, Any]:
        params = {"query": query, "format": "json", "resultType": "core", "pageSize": page}
        if cursor is not None:
            params["cursorMark"] = cursor
        resp = self.client.request(self.conf, f"{self.base}/search", params=params)
        if resp is None:
            return {}
        body = resp.json()
        if not isinstance(body, dict):
            raise ApiError("unexpected answer")
        if body.get("errCode") or body.get("errMsg"):
            raise ApiError(f"error {body.get('errCode')}: {text(str(body.get('errMsg', '')))}")
        return body

    @staticmethod
    def _results(body: dict[str, Any]) -> list[dict[str, Any]]:
        results = (body.get("resultList") or {}).get("result") or []
        return [r for r in results if isinstance(r, dict)]

    page_size = 1000

    @staticmethod
    def search_terms(query: SearchQuery) -> str:
        """Europe PMC's query syntax for `query`: its text, OPEN_ACCESS:y, PUB_YEAR:[A TO B]."""
        terms = [f"({query.text})"] if query.text else []
        if query.oa:
            terms.append("OPEN_ACCESS:y")
        if query.since or query.until:
            terms.append(f"PUB_YEAR:[{query.since or 1000} TO {query.until or 2999}]")
        return " AND ".join(terms)

    def search_page(self, query: SearchQuery, cursor: str | None, size: int | None = None) -> Page:
        start = cursor or "*"
        body = self._ask(self.search_terms(query), size or self.page_size, start)
        works = []
        for r in self._results(body):
            f = self.parse(r)
            rid = r.get("id")
            f.work = f"{r.get('source') or 'MED'}:{rid}" if rid else None
            works.append(f)
        nxt = body.get("nextCursorMark")
        more = works and isinstance(nxt, str) and nxt and nxt != start
        count = body.get("hitCount") if isinstance(body.get("hitCount"), int) else None
        return Page(works, nxt if more else None, count)

    def parse(self, r: dict[str, Any]) -> Found:
        f = Found(self.name, title=text(r.get("title")), year=year_of(r.get("pubYear")))
        authors = r.get("authorString")
        if isinstance(authors, str):
            f.authors = tuple(a.strip().rstrip(".") for a in authors.split(",") if a.strip().rstrip("."))
        f.set_ids(doi=r.get("doi"), pmid=r.get("pmid"), pmcid=r.get("pmcid"))
        f.is_oa = {"Y": True, "N": False}.get(r.get("isOpenAccess"))
        f.license = text(r.get("license"))
        for u in ((r.get("fullTextUrlList") or {}).get("fullTextUrl") or []):
            if not isinstance(u, dict) or str(u.get("documentStyle", "")).lower() != "pdf":
                continue
            if u.get("availabilityCode") not in ("OA", "F"):
                continue  # subscription or registration required
            site = str(u.get("site", ""))
            repo = site in ("Europe_PMC", "PubMedCentral")
            f.add(u.get("url"), host_type="repository" if repo else "publisher", license=f.license)
        return f
