"""arXiv: `GET /query?id_list=…` (Atom), PDFs at `{pdf_base_url}/{id}`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from papers.discovery.sources.base import Found, Ids, Page, SearchQuery, Source, text
from papers.errors import ApiError
from papers.inputs.ids import arxiv_base
from papers.model import year_of

ATOM = "{http://www.w3.org/2005/Atom}"
OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"
MAX_QUERY = 30_000  # results arXiv serves for one query
ARXIV = "{http://arxiv.org/schemas/atom}"
_ABS_ID = re.compile(r"arxiv\.org/abs/(.+?)(v\d+)?$", re.I)


class Arxiv(Source):
    name = "arxiv"
    batch_size = 50

    def query(self, ids: Ids) -> str | None:
        return ids.arxiv

    def pdf_url(self, arxiv_id: str) -> str:
        """The PDF of an arXiv id, built directly (no request needed)."""
        base = (self.conf.pdf_base_url or "https://arxiv.org/pdf").rstrip("/")
        return f"{base}/{arxiv_id}"

    def lookup(self, batch: list[Ids]) -> list[Found | None]:
        wanted = [ids.arxiv for ids in batch]
        id_list = ",".join(i for i in wanted if i)
        resp = self.client.request(self.conf, f"{self.base}/query",
                                   params={"id_list": id_list, "max_results": len(wanted)})
        entries = self._entries(resp.content) if resp else {}
        out: list[Found | None] = []
        for ident in wanted:
            f = entries.get(arxiv_base(ident)) if ident else None
            if f is not None:
                # Keep the version the user asked for, if any.
                f.arxiv = ident
                f.add(self.pdf_url(ident), host_type="repository", version="submittedVersion")
            out.append(f)
        return out

    page_size = 100

    @staticmethod
    def search_terms(query: SearchQuery) -> str:
        """arXiv's `search_query` for `query`: text in arXiv's syntax (`ti:`, `cat:`, ...)
        as it is, else every word in `all:`; the years as a `submittedDate` span."""
        terms = []
        if query.text:
            given = query.text.strip()
            terms.append(given if re.search(r"\b(ti|au|abs|co|jr|cat|rn|id|all):", given)
                         else " AND ".join(f"all:{w}" for w in given.split()))
        if query.since or query.until:
            terms.append(f"submittedDate:[{query.since or 1991}01010000 TO "
                         f"{query.until or 2999}12312359]")
        return " AND ".join(terms)

    def search_page(self, query: SearchQuery, cursor: str | None, size: int | None = None) -> Page:
        start = int(cursor or 0)
        size = min(size or self.page_size, MAX_QUERY - start)
        resp = self.client.request(self.conf, f"{self.base}/query", params={
            "search_query": self.search_terms(query), "start": start, "max_results": size,
            "sortBy": "submittedDate", "sortOrder": "ascending"})
        root = self._feed(resp.content) if resp else None
        works = []
        for ident, f in (self._parse_feed(root) if root is not None else {}).items():
            f.work = ident
            f.add(self.pdf_url(f.arxiv or ident), host_type="repository", version="submittedVersion")
            works.append(f)
        total = root.findtext(OPENSEARCH + "totalResults") if root is not None else None
        count = int(total) if total and total.strip().isdigit() else None
        end = start + len(works)
        more = works and end < min(count if count is not None else MAX_QUERY, MAX_QUERY)
        return Page(works, str(end) if more else None, count)

    @staticmethod
    def _feed(content: bytes) -> ET.Element:
        try:
            return ET.fromstring(content)
        except ET.ParseError as e:
            raise ApiError(f"answer is not an Atom feed ({e})") from None

    def _entries(self, content: bytes) -> dict[str, Found]:
        return self._parse_feed(self._feed(content))

    def _parse_feed(self, root: ET.Element) -> dict[str, Found]:
        found = {}
        for entry in root.iter(ATOM + "entry"):
            title = text(entry.findtext(ATOM + "title"))
            m = _ABS_ID.search(entry.findtext(ATOM + "id") or "")
            if not m or title == "Error":
                continue  # a malformed id answers with an entry titled Error
            ident = m.group(1).lower()
            f = Found(self.name, title=title, year=year_of(entry.findtext(ATOM + "published")))
            f.authors = tuple(n for n in (text(a.findtext(ATOM + "name"))
                                          for a in entry.findall(ATOM + "author")) if n)
            f.set_ids(doi=entry.findtext(ARXIV + "doi"), arxiv=ident)
            f.is_oa, f.oa_status = True, "green"
            found[arxiv_base(ident)] = f
        return found
