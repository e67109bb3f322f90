"""Europe PMC: `GET /search?query=…&format=json&resultType=core`; errors may come inside HTTP 200."""

from __future__ import annotations

from typing import Any

from papers.errors import ApiError
from papers.sources.base import Found, Ids, Source, text, year_of


class EuropePmc(Source):
    name = "europepmc"

    def query(self, ids: Ids) -> str | None:
        if ids.pmcid:
            return f"PMCID:{ids.pmcid}"
        if ids.pmid:
            return f"EXT_ID:{ids.pmid} AND SRC:MED"
        if ids.doi:
            return f'DOI:"{ids.doi}"'
        return None

    def lookup_one(self, ids: Ids) -> Found | None:
        q = self.query(ids)
        if q is None:
            return None
        resp = self.client.request(self.conf, f"{self.base}/search", params={
            "query": q, "format": "json", "resultType": "core", "pageSize": 1})
        if resp is None:
            return None
        body = resp.json()
        if not isinstance(body, dict):
            raise ApiError("unexpected answer")
        if body.get("errCode") or body.get("errMsg"):
            raise ApiError(f"error {body.get('errCode')}: {text(str(body.get('errMsg', '')))}")
        results = (body.get("resultList") or {}).get("result") or []
        return self.parse(results[0]) if results and isinstance(results[0], dict) else None

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
