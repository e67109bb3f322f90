"""Unpaywall: `GET /{doi}?email=…`; Crossref DOIs only, no batch endpoint."""

from __future__ import annotations

import threading
from typing import Any

from papers.discovery.sources.base import Found, Ids, Source, crossref_doi, text
from papers.inputs.ids import quote_doi
from papers.inputs.records import person_name
from papers.model import year_of
from papers.settings import UNPAYWALL_DAILY_CALLS


class Unpaywall(Source):
    name = "unpaywall"
    daily_limit = UNPAYWALL_DAILY_CALLS

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.calls = 0
        self._lock = threading.Lock()

    def unavailable(self) -> str | None:
        if not self.email:
            return "skipped: Unpaywall needs `email` in the config"
        if self.calls >= self.daily_limit:
            return f"skipped: this run made Unpaywall's {self.daily_limit:,} calls a day"
        return None

    def note(self) -> str | None:
        if self.calls < self.daily_limit:
            return None
        return (f"Unpaywall: this run reached its {self.daily_limit:,} calls a day, and asked it "
                "no more; the papers left were asked of the other sources only")

    def query(self, ids: Ids) -> str | None:
        return crossref_doi(ids)  # Unpaywall covers Crossref DOIs only

    def lookup_one(self, ids: Ids) -> Found | None:
        doi = self.query(ids)
        if doi is None:
            return None
        with self._lock:
            self.calls += 1
        resp = self.client.request(self.conf, f"{self.base}/{quote_doi(doi)}",
                                   params={"email": self.email})
        return self.parse(resp.json()) if resp else None

    def parse(self, d: dict[str, Any]) -> Found:
        f = Found(self.name, title=text(d.get("title")), year=year_of(d.get("year")))
        f.set_ids(doi=d.get("doi"))
        f.authors = tuple(n for n in (person_name(a) for a in d.get("z_authors") or []
                                      if isinstance(a, dict)) if n)
        f.is_oa = d.get("is_oa") if isinstance(d.get("is_oa"), bool) else None
        f.oa_status = text(d.get("oa_status"))
        best = d.get("best_oa_location") or {}
        f.license = text(best.get("license"))
        # url_for_pdf only: `url` may be a landing page.
        for loc in [best, *(d.get("oa_locations") or [])]:
            if isinstance(loc, dict):
                f.add(loc.get("url_for_pdf"), host_type=text(loc.get("host_type")),
                      version=text(loc.get("version")), license=text(loc.get("license")))
        return f
