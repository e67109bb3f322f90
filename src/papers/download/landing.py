"""Find the PDF link on a publisher's landing page, the way Zotero and Google Scholar do.

A DOI, an OpenAlex `oa_url` or an Unpaywall `url` often leads to an HTML page
about the paper rather than to the PDF. `pdf_link` reads such a page with the
standard library's HTML parser and takes, in this order, the first of:

1. `<meta name="citation_pdf_url" content=...>` (the Google Scholar tag, also given as
   `property`);
2. the platforms' own PDF tags: `bepress_citation_pdf_url` (Digital Commons),
   `wkhealth_pdf_url` (Wolters Kluwer), `eprints.document_url` (EPrints repositories),
   as Unpaywall's and Zotero's readers take them;
3. `<link rel="alternate" type="application/pdf" href=...>`;
4. `<meta http-equiv="refresh" content="0; url=...">` (ScienceDirect);
5. an `<iframe>`, `<embed>` or `<object>` whose source looks like a PDF (IEEE's stamp.jsp).

The link is resolved against the page's final URL. A link back to the page itself, or
to the DOI resolver (which leads back to the page), is no link. Pure: no I/O.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

MAX_PAGE_BYTES = 2 * 1024 * 1024   # read at most this much of a landing page
MAX_LANDING_HOPS = 2               # landing page -> landing page -> PDF at the most

_RANKS = ("citation_pdf_url", "platform_pdf", "alternate_pdf", "refresh", "embedded")
#: The platforms' own tags for the PDF, after `citation_pdf_url`.
_PLATFORM_TAGS = ("bepress_citation_pdf_url", "wkhealth_pdf_url", "eprints.document_url")
_RESOLVERS = ("doi.org", "dx.doi.org")


def _looks_like_pdf(src: str, mime: str = "") -> bool:
    """An embedded source that plausibly is the PDF (by type, path or query)."""
    if mime.split(";")[0].strip().lower() == "application/pdf":
        return True
    try:
        parts = urlsplit(src)
    except ValueError:
        return False
    # `.pdf`, `/pdf/`, `getPDF.jsp` (IEEE), `?format=pdf`: the word in the path or query.
    return "pdf" in (parts.path + "?" + parts.query).lower()


def _refresh_url(content: str) -> str | None:
    """The URL of a meta refresh's `content` (`5; url='x'` -> `x`), if it has one."""
    _, sep, rest = content.partition(";")
    if not sep:
        return None
    rest = rest.strip()
    if rest[:4].lower() != "url=":
        return None
    url = rest[4:].strip().strip("'\"").strip()
    return url or None


class _LinkFinder(HTMLParser):
    """Collects the first candidate of each kind while the page is parsed."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}

    def _keep(self, kind: str, url: str | None) -> None:
        if url and url.strip() and kind not in self.found:
            self.found[kind] = url.strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            name = (a.get("name") or a.get("property") or "").lower()
            if name == "citation_pdf_url":
                self._keep("citation_pdf_url", a.get("content"))
            elif name in _PLATFORM_TAGS:
                self._keep("platform_pdf", a.get("content"))
            elif a.get("http-equiv", "").lower() == "refresh":
                self._keep("refresh", _refresh_url(a.get("content", "")))
        elif tag == "link":
            rels = a.get("rel", "").lower().split()
            if "alternate" in rels and a.get("type", "").lower().startswith("application/pdf"):
                self._keep("alternate_pdf", a.get("href"))
        elif tag in ("iframe", "embed", "frame"):
            src = a.get("src", "")
            if _looks_like_pdf(src, a.get("type", "")):
                self._keep("embedded", src)
        elif tag == "object":
            src = a.get("data", "")
            if _looks_like_pdf(src, a.get("type", "")):
                self._keep("embedded", src)

    handle_startendtag = handle_starttag


def pdf_link(page: bytes, page_url: str, charset: str | None = None) -> str | None:
    """The absolute URL of the PDF that landing page `page` (at `page_url`) points to."""
    text = page[:MAX_PAGE_BYTES].decode(charset or "utf-8", "replace")
    finder = _LinkFinder()
    try:
        finder.feed(text)
        finder.close()
    except (AssertionError, ValueError):  # a page too broken to parse: keep what was found
        pass
    for kind in _RANKS:
        link = finder.found.get(kind)
        if link is None:
            continue
        url = urljoin(page_url, link)
        if url.lower().startswith(("http://", "https://")) and url != page_url \
                and (urlsplit(url).hostname or "").lower() not in _RESOLVERS:
            return url
    return None
