"""arXiv: `GET /query?id_list=…` (Atom), PDFs at `{pdf_base_url}/{id}`."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from papers.discovery.sources.base import Found, Ids, Source, text
from papers.errors import ApiError
from papers.inputs.ids import arxiv_base
from papers.model import year_of

ATOM = "{http://www.w3.org/2005/Atom}"
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

    def _entries(self, content: bytes) -> dict[str, Found]:
        try:
            root = ET.fromstring(content)
        except ET.ParseError as e:
            raise ApiError(f"answer is not an Atom feed ({e})") from None
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
