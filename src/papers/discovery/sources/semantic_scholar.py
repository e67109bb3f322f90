"""Semantic Scholar Graph API: `GET /paper/{id}`, `POST /paper/batch` (≤500 ids)."""

from __future__ import annotations

from typing import Any

from papers.discovery.sources.base import Found, Ids, Source, text, url_ident
from papers.inputs.ids import arxiv_base
from papers.model import year_of

FIELDS = "title,year,authors,externalIds,isOpenAccess,openAccessPdf"


class SemanticScholar(Source):
    name = "semantic_scholar"
    batch_size = 500

    def query(self, ids: Ids) -> str | None:
        if ids.doi:
            return "DOI:" + ids.doi
        if ids.arxiv:
            return "ARXIV:" + arxiv_base(ids.arxiv)  # S2 takes arXiv ids without version
        if ids.pmid:
            return "PMID:" + ids.pmid
        if ids.pmcid:
            return "PMCID:" + ids.pmcid.removeprefix("PMC")
        return None

    def _headers(self) -> dict[str, str] | None:
        return {"x-api-key": self.conf.api_key} if self.conf.api_key else None

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        queries = [self.query(ids) for ids in batch]
        if len(batch) == 1:
            return [self.lookup_one(batch[0])]
        wanted = [q for q in queries if q]
        resp = self.client.request(self.conf, f"{self.base}/paper/batch", method="POST",
                                   params={"fields": FIELDS}, json_body={"ids": wanted},
                                   headers=self._headers())
        answers = resp.json() if resp else []
        if not isinstance(answers, list) or len(answers) != len(wanted):
            from papers.errors import ApiError

            raise ApiError("batch answer does not match the request")
        it = iter(answers)
        return [self.parse(next(it)) if q else None for q in queries]

    def lookup_one(self, ids: Ids) -> Found | None:
        q = self.query(ids)
        if q is None:
            return None
        resp = self.client.request(self.conf, f"{self.base}/paper/{url_ident(q)}", params={"fields": FIELDS},
                                   headers=self._headers())
        return self.parse(resp.json()) if resp else None

    #: The works one page of /references or /citations holds (the API's most).
    neighbours_page = 1000

    def neighbours(self, ids: Ids, relation: str, offset: int = 0) -> tuple[list[Found], int | None]:
        """One page of what the paper cites (`references`) or what cites it (`citations`),
        from `offset`: the works, and the next page's offset (None: the last page). An
        empty list when S2 does not know the paper."""
        q = self.query(ids)
        if q is None:
            return [], None
        resp = self.client.request(
            self.conf, f"{self.base}/paper/{url_ident(q)}/{relation}", headers=self._headers(),
            params={"fields": FIELDS, "offset": offset, "limit": self.neighbours_page})
        data = resp.json() if resp else {}
        side = "citedPaper" if relation == "references" else "citingPaper"
        rows = data.get("data") if isinstance(data, dict) else None
        found = [f for f in (self.parse((r or {}).get(side)) for r in rows or []) if f is not None]
        nxt = data.get("next") if isinstance(data, dict) else None
        return found, nxt if isinstance(nxt, int) and found else None

    def parse(self, d: Any) -> Found | None:
        if not isinstance(d, dict):
            return None  # the batch answers null for unknown ids
        f = Found(self.name, title=text(d.get("title")), year=year_of(d.get("year")))
        f.work = text(d.get("paperId"))
        f.authors = tuple(n for n in (text((a or {}).get("name")) for a in d.get("authors") or []) if n)
        ext = d.get("externalIds") or {}
        f.set_ids(doi=ext.get("DOI"), arxiv=ext.get("ArXiv"), pmid=ext.get("PubMed"),
                  pmcid=ext.get("PubMedCentral"))
        f.is_oa = d.get("isOpenAccess") if isinstance(d.get("isOpenAccess"), bool) else None
        pdf = d.get("openAccessPdf") or {}
        # `url` is "" when there is no PDF.
        f.add(pdf.get("url"), license=text(pdf.get("license")),
              host_type="repository" if str(pdf.get("status", "")).upper() == "GREEN" else None)
        f.oa_status = text(pdf.get("status")).lower() if text(pdf.get("status")) else None
        return f
