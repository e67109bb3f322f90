"""What came back instead of a PDF, named: a bot wall, a login, a paywall, a rate limit.

`classify` reads a response's status, headers and first bytes and names the wall, or
None for an ordinary page (a 404, a landing page without a link). Each kind has a
reason a person understands and a fix (`reason`). `Breaker` counts the walls of each
host in a run: after BREAK_AFTER, that host's other papers are not asked in this run
(they are recorded as blocked, not as permanent failures, so the next run tries them).

The signs are the ones the walls' vendors and the sites put in their pages and headers
(ourresearch/openalex-official#9, jannisborn/paperscraper#79, PyPaperBot#50; Cloudflare's
`cf-mitigated: challenge`; publisher-web.md in shared/reference). Pure, except `Breaker`.
"""

from __future__ import annotations

import re
import threading
from html.parser import HTMLParser
from collections.abc import Callable, Mapping
from dataclasses import dataclass

BREAK_AFTER = 5          # blocked answers from one host before its other papers wait a run
SNIFF = 64 * 1024        # the bytes of a page that are read for its signs

#: Each kind, what blocked the paper, and what may get past it.
KINDS: dict[str, tuple[str, str]] = {
    "cloudflare": ("a Cloudflare challenge",
                   "your browser's cookies may pass it (--cookies FILE, from a browser that has "
                   "opened the site)"),
    "captcha": ("a bot wall (a captcha)",
                "your browser's cookies may pass it (--cookies FILE), or another copy"),
    "pmc_pow": ("PMC's proof-of-work page",
                "it needs a browser; papers tries the paper's other copies (Europe PMC)"),
    "rate_limit": ("a rate limit",
                   "try again later, or lower --rate-limit and --max-per-host"),
    "cookies": ("a page that needs cookies",
                "--cookies FILE from a browser that has opened the site"),
    "login": ("a login page",
              "your institution's access: --cookies FILE from a logged-in browser, or its proxy"),
    "paywall": ("a paywall",
                "your institution's access: --cookies FILE from a logged-in browser, or its proxy"),
}


def _signs(*patterns: str) -> re.Pattern[bytes]:
    return re.compile("|".join(patterns).encode(), re.IGNORECASE)


# Each kind's signs in a page, most specific first (a Cloudflare page may hold a captcha).
_PAGE_SIGNS: tuple[tuple[str, re.Pattern[bytes]], ...] = (
    ("cloudflare", _signs(r"/cdn-cgi/challenge-platform", r"__cf_chl_", r"cf-browser-verification",
                          r"challenges\.cloudflare\.com")),
    ("captcha", _signs(r"shieldsquare", r"perfdrive\.com", r"px-captcha", r"_pxcaptcha",
                       r"perimeterx", r"captcha-delivery\.com", r"datadome",
                       r"are you a robot", r"verify you are (a )?human")),
    ("pmc_pow", _signs(r"cloudpmc-viewer-pow", r"pmc-pow-challenge")),
    ("rate_limit", _signs(r"too many requests", r"rate limit exceeded",
                          r"you have exceeded .{0,40}(request|rate) limit")),
    ("cookies", _signs(r"cookies? (must|need to) be enabled", r"enable cookies",
                       r"cookies_not_supported", r"/cookieabsent")),
    ("paywall", _signs(r"purchase (this )?(article|pdf|access)", r"buy (this )?article",
                       r"rent this article", r"access through your institution",
                       r"get access to (the )?full[- ]text", r"subscribe to (this )?journal",
                       r"price: ?(\$|€|£|usd|eur)")),
    ("login", _signs(r"shibboleth", r"openathens", r"/saml2?/", r"wayfless",
                     r"institutional (login|sign[- ]in)")),
)
#: A captcha widget names a wall only on a short page: ordinary pages carry one in a
#: contact or newsletter form.
_WIDGETS = _signs(r"g-recaptcha", r"google\.com/recaptcha", r"h-captcha", r"hcaptcha\.com")
WIDGET_PAGE = 16 * 1024
_URL_SIGNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("cookies", re.compile(r"/cookieabsent|cookies_not_supported", re.IGNORECASE)),
    ("login", re.compile(r"/(login|signin|sign-in|sso|idp|shibboleth\.sso|wayf)(?=$|[/?#])",
                         re.IGNORECASE)),
)


#: Walls that a page names whatever its status; the others only on a page that is
#: served as the answer (200) or as a refusal (401, 403), or as a limit (429, 503): a 404
#: page with a sign-in box in its header is a 404.
ANY_STATUS = {"cloudflare", "captcha", "pmc_pow"}
_REFUSALS = {200, 401, 403, 429, 503}


class _Page(HTMLParser):
    """What of a page's structure shows a wall: its title, and a password field."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title, self.password, self._in_title = "", False, False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "input" and (dict(attrs).get("type") or "").strip().lower() == "password":
            self.password = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data


def _page(body: bytes) -> _Page:
    page = _Page()
    try:
        page.feed(body.decode("utf-8", "replace"))
        page.close()
    except Exception:  # noqa: BLE001 - a page too broken to read shows no structure
        pass
    return page


def _by_structure(page: _Page) -> str | None:
    title = " ".join(page.title.split()).lower()
    if title.startswith(("just a moment", "attention required! | cloudflare")):
        return "cloudflare"
    if "too many requests" in title:
        return "rate_limit"
    login = title.startswith(("sign in", "log in", "login", "institutional login"))
    return "login" if page.password or login else None


def classify(status: int, headers: Mapping[str, str], body: bytes, url: str = "") -> str | None:
    """The kind of wall a response is (see KINDS), or None. `headers`' names are lower
    case; `body` is the page's first bytes; `url` is where it was served from."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "cloudflare"
    if "x-datadome" in headers or "x-px-block" in headers:
        return "captcha"
    page = body[:SNIFF]
    for kind, signs in _PAGE_SIGNS:
        if (kind in ANY_STATUS or status in _REFUSALS) and signs.search(page):
            return kind
    if status in _REFUSALS and len(page) < WIDGET_PAGE and _WIDGETS.search(page):
        return "captcha"  # a short page that is little but a captcha widget
    structural = _by_structure(_page(page)) if page else None
    if structural == "cloudflare" or (structural and status in _REFUSALS):
        return structural
    if status == 429:
        return "rate_limit"
    if status in (200, 401, 403):
        for kind, signs in _URL_SIGNS:
            if signs.search(url):
                return kind
    return None  # a bare 401 is HTTP authentication: credentials (~/.netrc), not a wall


def shown(host: str) -> str:
    """A host as a person reads it: `www.example.org` of `https://www.example.org`."""
    return host.split("://", 1)[-1]


def what(kind: str) -> str:
    """`a Cloudflare challenge`: what blocked the paper."""
    return KINDS[kind][0]


def reason(kind: str, host: str) -> str:
    """One paper's reason: `blocked by a Cloudflare challenge at HOST: your browser's ...`."""
    return f"blocked by {what(kind)} at {host}: {KINDS[kind][1]}"


def advice(kind: str, host: str, papers: int) -> str:
    """The summary's line for one host, said once for all its blocked papers."""
    return (f"{papers} paper(s) by {what(kind)} at {host}: {KINDS[kind][1]}; "
            "`papers status --blocked` lists them")


@dataclass(slots=True)
class _Walls:
    count: int = 0
    kind: str = ""


class Breaker:
    """The blocked answers of each host in a run; `open(host)` once it had BREAK_AFTER.
    Thread-safe: every download worker reports to it."""

    def __init__(self, after: int = BREAK_AFTER,
                 on_open: Callable[[str, str], None] | None = None) -> None:
        self.after, self.on_open = after, on_open
        self.hosts: dict[str, _Walls] = {}
        self.lock = threading.Lock()

    def blocked(self, host: str, kind: str) -> None:
        """One more blocked answer from `host`."""
        with self.lock:
            walls = self.hosts.setdefault(host, _Walls())
            walls.count += 1
            walls.kind = kind
            opened = walls.count == self.after
        if opened and self.on_open is not None:
            self.on_open(host, kind)

    def open(self, host: str) -> str | None:
        """The kind of wall `host` keeps answering with, once it has BREAK_AFTER times in
        this run (its other papers are not asked); else None."""
        with self.lock:
            walls = self.hosts.get(host)
            return walls.kind if walls is not None and walls.count >= self.after else None
