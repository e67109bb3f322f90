"""Publisher URL rules: where a platform's reader or abstract page keeps its PDF.

Each rule is a small pure function from a URL to the URL of the PDF, or None; they are
written down from what Unpaywall (oadoi `webpage.py`), the Internet Archive's
sandcrawler and Zotero's translators do, and only those that hold for a whole platform:

| rule | from | to |
|---|---|---|
| `wiley` | Wiley `/doi/pdf/`, `/doi/epdf/`, `/doi/abs/`, `/doi/full/` | `/doi/pdfdirect/` |
| `epdf` | any Atypon `/doi/epdf/` (the JavaScript reader) | `/doi/pdf/` |
| `atypon` | Atypon `/doi/abs/`, `/doi/full/`, `/doi/fullHtml/` | `/doi/pdf/` |
| `osf` | an OSF preprint or project page (`osf.io/abc12`, `/preprints/x/abc12`) | `+/download` |
| `ieee` | IEEE `stamp/stamp.jsp?arnumber=N` | `stampPDF/getPDF.jsp?tp=&arnumber=N` |

`direct(url)` applies them to a link that a landing page gave (a Wiley page's
`citation_pdf_url` is its reader); `fallback(url)` to a landing page that gave no link.
Elsevier's linkinghub `redirectURL` and ScienceDirect's PDF in the page's JSON are read
off the page (landing.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit, urlunsplit

Rule = Callable[[str], "str | None"]

_DOI_PATH = re.compile(r"^(/doi)/(pdf|epdf|abs|full|fullHtml|reader)/(10\.\d{4,9}/.+)$", re.I)
_OSF_ID = re.compile(r"^/(?:preprints/[a-z0-9-]+/)?([a-z0-9]{5})/?$", re.I)


def _with(url: str, path: str, query: str = "") -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _on(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def wiley(url: str) -> str | None:
    """Wiley's reader and abstract pages -> `pdfdirect`, the PDF itself."""
    m = _DOI_PATH.match(urlsplit(url).path)
    if not m or not _on(_host(url), "wiley.com") or m.group(2).lower() == "pdfdirect":
        return None
    return _with(url, f"{m.group(1)}/pdfdirect/{m.group(3)}")


def epdf(url: str) -> str | None:
    """An Atypon platform's JavaScript reader (`/doi/epdf/`) -> `/doi/pdf/`."""
    m = _DOI_PATH.match(urlsplit(url).path)
    if not m or m.group(2).lower() not in ("epdf", "reader"):
        return None
    return _with(url, f"{m.group(1)}/pdf/{m.group(3)}")


def atypon(url: str) -> str | None:
    """An Atypon abstract or full-text page (`/doi/abs/`, `/doi/full/`) -> `/doi/pdf/`."""
    m = _DOI_PATH.match(urlsplit(url).path)
    if not m or m.group(2).lower() not in ("abs", "full", "fullhtml"):
        return None
    return _with(url, f"{m.group(1)}/pdf/{m.group(3)}")


def osf(url: str) -> str | None:
    """An OSF preprint or project page -> its file (`osf.io/abc12/download`)."""
    if not _on(_host(url), "osf.io"):
        return None
    m = _OSF_ID.match(urlsplit(url).path)
    return _with(url, f"/{m.group(1)}/download") if m else None


def ieee(url: str) -> str | None:
    """IEEE Xplore's `stamp.jsp` frame -> `getPDF.jsp`, the PDF it frames."""
    parts = urlsplit(url)
    if not parts.path.lower().endswith("/stamp/stamp.jsp"):
        return None
    number = (parse_qs(parts.query).get("arnumber") or [""])[0]
    if not number.isdigit():
        return None
    return _with(url, "/stampPDF/getPDF.jsp", f"tp=&arnumber={number}&ref=")


#: For a link a landing page gave: the reader pages that are never the PDF themselves.
DIRECT: tuple[Rule, ...] = (wiley, epdf, ieee, osf)
#: For a landing page that gave no link: every rule, the most specific first.
FALLBACK: tuple[Rule, ...] = (wiley, epdf, atypon, ieee, osf)


def _first(rules: tuple[Rule, ...], url: str) -> str | None:
    for rule in rules:
        out = rule(url)
        if out and out != url:
            return out
    return None


def direct(url: str) -> str:
    """The PDF behind `url` when `url` is a platform's reader page, else `url`."""
    return _first(DIRECT, url) or url


def fallback(url: str) -> str | None:
    """Where a landing page at `url` with no PDF link keeps its PDF, if a rule knows."""
    return _first(FALLBACK, url)
