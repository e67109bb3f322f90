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
   ScienceDirect's PDF in the page's own JSON (`pdfDownload`: its path, PII, `md5` and
   `pid`, the signed query passed on as it is);
4. `<meta http-equiv="refresh" content="0; url=...">` (ScienceDirect), and Elsevier
   linkinghub's `<input name="redirectURL">` (percent-encoded) on to ScienceDirect;
5. an `<iframe>`, `<embed>` or `<object>` whose source looks like a PDF (IEEE's stamp.jsp);
6. a link that says it is the PDF: OJS's `a.obj_galley_link` (to the galley page, one
   hop more), `a.show-pdf`, `a[title=PDF]`; never one inside a references or "related
   articles" section.

Of the links read off the page (5 and 6), supplementary files, figures, tables of
contents (`_TOC.pdf`) and first-page previews are never the paper.

The link is resolved against the page's final URL. A link back to the page itself, or
to the DOI resolver (which leads back to the page), is no link. Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

MAX_PAGE_BYTES = 2 * 1024 * 1024   # read at most this much of a landing page
MAX_LANDING_HOPS = 2               # landing page -> landing page -> PDF at the most

_RANKS = ("citation_pdf_url", "platform_pdf", "page_json", "alternate_pdf", "refresh",
          "redirect", "embedded", "anchor")
#: Links that are never the paper (Unpaywall's and Zotero's readers drop them too).
_NOT_THE_PAPER = re.compile(r"suppl|/figures?/|_toc\.pdf|firstpage|first-page|/preview/|"
                            r"thumbnail", re.IGNORECASE)
#: Sections whose links are other works' (the paper's references, related articles).
_OTHER_WORKS = re.compile(r"\b(references?|ref-list|bibliography|related|recommended|"
                          r"citedby|cited-by)\b", re.IGNORECASE)
_SECTIONS = ("section", "div", "ol", "ul", "aside", "nav")
#: The kinds read off the page's links, not declared by its tags: the guards apply to them
#: (a declared `citation_pdf_url` in a supplement issue, `/suppl_1/`, is the paper).
_GUESSED = ("embedded", "anchor")
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
        self.open: list[bool] = []  # each open section: is it one of other works' links?
        self.script: list[str] | None = None  # the text of an open JSON <script>

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
        elif tag == "input" and a.get("name", "").lower() == "redirecturl":
            self._keep("redirect", unquote(a.get("value", "")))
        elif tag == "script" and a.get("type", "").lower() == "application/json":
            self.script = []
        elif tag in _SECTIONS:
            self.open.append(bool(_OTHER_WORKS.search(f"{a.get('id', '')} {a.get('class', '')}")))
        elif tag == "a" and not any(self.open) and _says_pdf(a):
            self._keep("anchor", a.get("href"))

    def handle_data(self, data: str) -> None:
        if self.script is not None:
            self.script.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SECTIONS and self.open:
            self.open.pop()
        elif tag == "script" and self.script is not None:
            try:
                self._keep("page_json", _json_pdf(json.loads("".join(self.script))))
            except ValueError:
                pass
            self.script = None

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SECTIONS:  # `<div/>` opens nothing
            self.handle_starttag(tag, attrs)


def _json_pdf(data: Any) -> str | None:
    """ScienceDirect's PDF link from its page JSON: `pdfDownload.linkToPdf`, or its
    `urlMetadata` (path, PII, extension and the signed md5/pid query)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            found = node.get("pdfDownload")
            if isinstance(found, dict):
                if isinstance(found.get("linkToPdf"), str):
                    return found["linkToPdf"]
                meta = found.get("urlMetadata") or {}
                try:
                    query = urlencode(meta.get("queryParams") or {})
                    return f"/{meta['path']}/{meta['pii']}{meta['pdfExtension']}?{query}"
                except (KeyError, TypeError, AttributeError):
                    pass
            stack.extend(node.values())
    return None


def _says_pdf(a: dict[str, str]) -> bool:
    """A link that says it is the paper's PDF (OJS's galley link, `show-pdf`, `title=PDF`)."""
    classes = a.get("class", "").lower().split()
    return ("obj_galley_link" in classes and "pdf" in classes) or "show-pdf" in classes \
        or a.get("title", "").strip().lower() == "pdf"


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
                and (urlsplit(url).hostname or "").lower() not in _RESOLVERS \
                and not (kind in _GUESSED and _NOT_THE_PAPER.search(urlsplit(url).path)):
            return url
    return None
