"""Crossref: `GET /works/{doi}`; `message.link[]` entries with content-type application/pdf."""

from __future__ import annotations

from typing import Any

from papers.ids import quote_doi
from papers.models import person_name
from papers.sources.base import Found, Ids, Source, crossref_doi, text, year_of

_VERSIONS = {"vor": "publishedVersion", "am": "acceptedVersion", "tdm": None}


class Crossref(Source):
    name = "crossref"

    def query(self, ids: Ids) -> str | None:
        return crossref_doi(ids)

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

    def parse(self, m: dict[str, Any]) -> Found:
        titles = m.get("title") or []
        f = Found(self.name, title=text(titles[0]) if titles else None)
        parts = ((m.get("issued") or {}).get("date-parts") or [[None]])[0] or [None]
        f.year = year_of(parts[0])
        f.authors = tuple(n for n in (person_name(a) for a in m.get("author") or []
                                      if isinstance(a, dict)) if n)
        f.set_ids(doi=m.get("DOI"))
        licenses = [x.get("URL") for x in m.get("license") or [] if isinstance(x, dict)]
        f.license = text(licenses[0]) if licenses else None
        # Often text-mining or subscription links: ranked last, checked by download.
        for link in m.get("link") or []:
            if isinstance(link, dict) and str(link.get("content-type", "")).lower() == "application/pdf":
                f.add(link.get("URL"), host_type="publisher",
                      version=_VERSIONS.get(str(link.get("content-version", ""))), license=f.license)
        return f
