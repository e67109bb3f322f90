"""Crossref: `GET /works/{doi}`, batches `GET /works?filter=doi:A,doi:B&rows=N`;
`message.link[]` entries with content-type application/pdf."""

from __future__ import annotations

from typing import Any

from papers.discovery.sources.base import Found, Ids, Source, crossref_doi, text
from papers.inputs.ids import quote_doi
from papers.inputs.records import person_name
from papers.model import year_of

_VERSIONS = {"vor": "publishedVersion", "am": "acceptedVersion", "tdm": None}


class Crossref(Source):
    name = "crossref"
    batch_size = 50  # DOIs per list call; its answer holds them all (`rows`)

    def query(self, ids: Ids) -> str | None:
        return crossref_doi(ids)

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        """One list call for the DOIs of `batch`, matched back by DOI; a DOI with a comma
        (which the filter's syntax would split) is asked alone."""
        dois = [self.query(ids) for ids in batch]
        listed = list(dict.fromkeys(d for d in dois if d and "," not in d))
        if len(listed) < 2:
            return super().lookup(batch)
        items = self._list({"filter": ",".join(f"doi:{d}" for d in listed), "rows": len(listed)})
        by_doi = {str(m.get("DOI") or "").lower(): m for m in items}
        return [self.parse(by_doi[d]) if d in by_doi else
                (self.lookup_one(ids) if d and "," in d else None)
                for d, ids in zip(dois, batch)]

    def lookup_one(self, ids: Ids) -> Found | None:
        doi = self.query(ids)
        if doi is None:
            return None
        params = {"mailto": self.email} if self.email else None  # the polite pool
        resp = self.client.request(self.conf, f"{self.base}/works/{quote_doi(doi)}", params=params)
        if resp is None:
            return None
        body = resp.json()
        return self.parse(body.get("message") or {}) if isinstance(body, dict) else None

    def bibliographic(self, reference: str, rows: int = 5) -> list[Found]:
        """The works Crossref ranks first for a free-text reference (`query.bibliographic`);
        its relevance `score` is not used: the caller scores them itself."""
        return [self.parse(m) for m in self._list({"query.bibliographic": reference[:1000],
                                                   "rows": rows})]

    def _list(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of one list call (`/works?…`), in the polite pool when there is an email."""
        if self.email:
            params["mailto"] = self.email
        resp = self.client.request(self.conf, f"{self.base}/works", params=params)
        body = resp.json() if resp is not None else None
        message = body.get("message") if isinstance(body, dict) else None
        items = message.get("items") if isinstance(message, dict) else None
        return [m for m in items or [] if isinstance(m, dict)]

    def parse(self, m: dict[str, Any]) -> Found:
        titles = m.get("title") or []
        f = Found(self.name, title=text(titles[0]) if titles else None)
        parts = ((m.get("issued") or {}).get("date-parts") or [[None]])[0] or [None]
        f.year = year_of(parts[0])
        f.authors = tuple(n for n in (person_name(a) for a in m.get("author") or []
                                      if isinstance(a, dict)) if n)
        f.set_ids(doi=m.get("DOI"))
        venues = m.get("container-title") or []
        f.venue = text(venues[0]) if venues and isinstance(venues, list) else None
        f.type = text(m.get("type"))
        licenses = [x.get("URL") for x in m.get("license") or [] if isinstance(x, dict)]
        f.license = text(licenses[0]) if licenses else None
        # Often text-mining or subscription links: ranked last, checked by download.
        for link in m.get("link") or []:
            if isinstance(link, dict) and str(link.get("content-type", "")).lower() == "application/pdf":
                f.add(link.get("URL"), host_type="publisher",
                      version=_VERSIONS.get(str(link.get("content-version", ""))), license=f.license)
        return f
