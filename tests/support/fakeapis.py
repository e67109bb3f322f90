"""Local fakes of the six scholarly APIs, answering in their documented formats.

One FaultServer serves every API under its own prefix (so each base URL is
configurable) plus the PDF files. Quirks reproduced, from the APIs' docs and
../shared/reference/scholarly-apis.md:
- OpenAlex: `pdf_url: null` for arXiv works, DOIs as https://doi.org/… URLs, batches by `filter=doi:a|b`.
- Unpaywall: 422 JSON without email, 404 JSON for unknown DOIs.
- Semantic Scholar: 429 JSON without Retry-After, `openAccessPdf.url == ""`, batch answers `null`.
- arXiv: Atom feeds, old-style ids, an entry titled "Error" for a malformed id.
- Crossref: `message.link[]`, `title` as a list, 404 plain text.
- Europe PMC: errCode inside HTTP 200.

With `enforce_limits`, each API refuses what its 2026 limits refuse, with the
real status and body: OpenAlex 100 requests/s, Semantic Scholar's keyless 1/s,
arXiv one call in 3 s, Crossref's public pool (5 singletons/s, 1 list/s) or
polite pool with `mailto` (10/s, 3/s). `openalex_list_allowance` is the list
calls left today: past it OpenAlex answers 429, `X-RateLimit-Remaining: 0`.
`calls` counts requests by (api, form), `refused` the ones turned away.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit
from xml.sax.saxutils import escape

from support import fakesearch
from support.faultserver import FaultServer, Reply, make_pdf


@dataclass
class Work:
    """One paper as the fake world knows it, and what each API says about it."""

    doi: str | None = None
    arxiv: str | None = None
    pmid: str | None = None
    pmcid: str | None = None
    title: str = "Untitled"
    authors: tuple[str, ...] = ("Ada Lovelace",)
    year: int = 2020
    in_apis: tuple[str, ...] = ("openalex", "unpaywall", "semantic_scholar", "arxiv", "crossref", "europepmc")
    openalex_pdf: str | None = None            # best_oa_location.pdf_url
    openalex_repo_pdf: str | None = None       # a locations[] entry in a repository
    unpaywall_pdf: str | None = None           # best_oa_location.url_for_pdf
    unpaywall_host: str = "publisher"
    s2_pdf: str = ""                           # openAccessPdf.url ("" = none, as S2 does)
    crossref_pdf: str | None = None            # link[] application/pdf
    europepmc_pdf: str | None = None           # fullTextUrlList pdf, OA
    europepmc_pdf_subscription: str | None = None
    wid: str | None = None                     # its OpenAlex id (W…); given by FakeScholar.add
    type: str = "article"
    cites: tuple[str, ...] = ()                # the W ids it references (OpenAlex's referenced_works)
    s2_cites: tuple[str, ...] | None = None    # the W ids S2 lists as its references (None: cites)
    abstract: str = ""
    venue: str = ""                            # the journal or conference

    @property
    def is_oa(self) -> bool:
        return bool(self.openalex_pdf or self.openalex_repo_pdf or self.arxiv)


@dataclass
class FakeScholar:
    """The APIs, mounted on a FaultServer. `config()` gives the matching YAML sources block."""

    server: FaultServer
    works: list[Work] = field(default_factory=list)
    s2_throttle: int = 0          # answer this many S2 requests with 429 first
    europepmc_error_for: str | None = None  # a query substring that gets errCode in HTTP 200
    down: set[str] = field(default_factory=set)  # APIs answering 503
    slow: dict[str, float] = field(default_factory=dict)  # API: seconds before it answers
    enforce_limits: bool = False
    openalex_list_allowance: int | None = None   # list calls left today (None: unlimited)
    calls: Counter = field(default_factory=Counter)     # (api, "list" | "single") -> requests
    refused: Counter = field(default_factory=Counter)   # (api, form) -> refused over a limit

    def __post_init__(self) -> None:
        self.server.fallback = self._dispatch
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str], deque] = {}

    # -- set-up ---------------------------------------------------------------
    def add(self, **kw) -> Work:
        w = Work(**kw)
        w.wid = w.wid or f"W{1000 + len(self.works)}"
        self.works.append(w)
        return w

    def pdf(self, name: str, seed: int, size: int = 3000) -> tuple[str, bytes]:
        body = make_pdf(size, seed)
        return self.server.pdf(f"/files/{name}", body), body

    def html(self, name: str) -> str:
        return self.server.route(f"/files/{name}", Reply(
            body=b"<!DOCTYPE html><html><body>Please log in</body></html>", content_type="application/pdf"))

    def base(self, api: str) -> str:
        return self.server.url({"openalex": "/openalex", "unpaywall": "/unpaywall/v2",
                                "semantic_scholar": "/s2/graph/v1", "arxiv": "/arxiv/api",
                                "crossref": "/crossref",
                                "europepmc": "/europepmc/webservices/rest"}[api])

    def config(self, email: str | None = "me@example.org", extra: str = "",
               default_limits: bool = False) -> str:
        """The YAML for papers; `default_limits` keeps papers' own API rate limits (the
        files' host stays unlimited: in the fake world every publisher is one host)."""
        lines = ["rate_limit: 0", "max_per_host: 16", "backoff_base: 0.01", "backoff_max: 0.05",
                 "retry_after_max: 2", "timeout: 5",
                 f"doi_resolver: {self.server.url('/doi')}"]  # the DOI last resort, locally
        if email:
            lines.append(f"email: {email}")
        lines.append("sources:")
        for api in ("openalex", "unpaywall", "semantic_scholar", "arxiv", "crossref", "europepmc"):
            lines.append(f"  {api}:")
            lines.append(f"    base_url: {self.base(api)}")
            if not default_limits:
                lines.append("    rate_limit: 0")
            if api == "arxiv":
                lines.append(f"    pdf_base_url: {self.server.url('/arxiv-pdf')}")
        return "\n".join(lines) + "\n" + extra

    def requests_to(self, api_prefix: str):
        return [r for r in self.server.requests if r.path.startswith(api_prefix)]

    # -- lookups ----------------------------------------------------------------
    def _find(self, api: str, **kw) -> Work | None:
        index = self._index()
        for k, v in kw.items():
            if v is None:
                continue
            for w in index.get((k, v.lower()), ()):
                if api in w.in_apis:
                    return w
        return None

    def _index(self) -> dict:
        """(kind, lowercased value) -> works, rebuilt when the works change (a benchmark's
        10,000 papers would make a linear search the slowest part of the fake)."""
        with self._lock:
            if getattr(self, "_indexed", None) != (id(self.works), len(self.works)):
                index: dict = {}
                for w in self.works:
                    for k in ("doi", "arxiv", "pmid", "pmcid"):
                        if getattr(w, k):
                            index.setdefault((k, getattr(w, k).lower()), []).append(w)
                self._by_id, self._indexed = index, (id(self.works), len(self.works))
            return self._by_id

    def _cited_by(self) -> dict:
        """W id -> how many works cite it, rebuilt when the works change."""
        with self._lock:
            if getattr(self, "_cited_for", None) != (id(self.works), len(self.works)):
                counts: dict = {}
                for o in self.works:
                    for c in o.cites:
                        counts[c] = counts.get(c, 0) + 1
                self._cited, self._cited_for = counts, (id(self.works), len(self.works))
            return self._cited

    def _dispatch(self, h) -> Reply | None:
        parts = urlsplit(h.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path = parts.path
        for prefix, api, fn in (("/openalex", "openalex", self._openalex),
                                ("/unpaywall/v2/", "unpaywall", self._unpaywall),
                                ("/s2/graph/v1/", "semantic_scholar", self._s2),
                                ("/arxiv/api/", "arxiv", self._arxiv),
                                ("/crossref/", "crossref", self._crossref),
                                ("/europepmc/webservices/rest/", "europepmc", self._europepmc)):
            if path.startswith(prefix):
                if api in self.down:
                    return Reply(status=503, body=b"down", content_type="text/plain")
                form = _form(api, path[len(prefix):], q, h.command)
                with self._lock:
                    self.calls[api, form] += 1
                    refusal = self._over_limit(api, form, q)
                    if refusal is not None:
                        self.refused[api, form] += 1
                if refusal is not None:
                    return refusal
                reply = fn(h, path[len(prefix):], q)
                reply.headers.update(self._limit_headers(api, q))
                reply.stall = self.slow.get(api, 0.0)
                return reply
        return None

    # -- limits -----------------------------------------------------------------
    #: (api, form, polite) -> (requests, per seconds) that the API allows.
    LIMITS = {("openalex", "list"): (100, 1.0), ("openalex", "single"): (100, 1.0),
              ("openalex", "search"): (100, 1.0), ("arxiv", "search"): (1, 3.0),
              ("semantic_scholar", "list"): (1, 1.0), ("semantic_scholar", "single"): (1, 1.0),
              ("semantic_scholar", "graph"): (1, 1.0),
              ("arxiv", "list"): (1, 3.0), ("arxiv", "single"): (1, 3.0),
              ("crossref", "single"): (5, 1.0), ("crossref", "list"): (1, 1.0),
              ("crossref", "search"): (1, 1.0), ("crossref-polite", "search"): (3, 1.0),
              ("crossref-polite", "single"): (10, 1.0), ("crossref-polite", "list"): (3, 1.0)}

    def _over_limit(self, api: str, form: str, q: dict) -> Reply | None:
        """The API's refusal when this request passes one of its limits (lock held)."""
        if api == "openalex" and form == "list" and self.openalex_list_allowance is not None:
            if self.openalex_list_allowance <= 0:
                return Reply(status=429, content_type="application/json", body=json.dumps({
                    "error": "Rate limit exceeded",
                    "message": "You have used your daily credit allowance. Add an api_key for "
                               "more: https://openalex.org/settings/api"}).encode(),
                    headers={"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": "43200"})
            self.openalex_list_allowance -= 1
        if not self.enforce_limits:
            return None
        bucket = "crossref-polite" if api == "crossref" and "mailto" in q else api
        limit = self.LIMITS.get((bucket, form))
        if limit is None:
            return None
        count, per = limit
        recent = self._recent.setdefault((bucket, form), deque())
        now = time.monotonic()
        while recent and recent[0] <= now - per:
            recent.popleft()
        if len(recent) >= count:
            return _REFUSALS[api]()
        recent.append(now)
        return None

    def _limit_headers(self, api: str, q: dict) -> dict[str, str]:
        if api == "openalex":
            left = self.openalex_list_allowance
            return {"X-RateLimit-Limit": "100000" if left is None else "100",
                    "X-RateLimit-Remaining": str(99999 if left is None else max(0, left)),
                    "X-RateLimit-Reset": "43200"}
        if api == "crossref":
            polite = "mailto" in q
            return {"x-rate-limit-limit": "10" if polite else "5", "x-rate-limit-interval": "1s",
                    "x-concurrency-limit": "3" if polite else "1",
                    "x-api-pool": "polite" if polite else "public"}
        return {}

    @staticmethod
    def _json(obj, status: int = 200) -> Reply:
        return Reply(status=status, body=json.dumps(obj).encode(), content_type="application/json")

    # OpenAlex -----------------------------------------------------------------
    def _oa_work(self, w: Work) -> dict:
        doi = w.doi or (f"10.48550/arxiv.{w.arxiv}" if w.arxiv else None)
        locations = []
        if w.arxiv:
            # For arXiv works pdf_url is often null and the location is the abs page.
            locations.append({"is_oa": True, "landing_page_url": f"https://arxiv.org/abs/{w.arxiv}",
                              "pdf_url": None, "source": {"display_name": "arXiv", "type": "repository"},
                              "version": "submittedVersion", "license": None})
        best = None
        if w.openalex_pdf:
            best = {"is_oa": True, "pdf_url": w.openalex_pdf, "landing_page_url": "https://pub.example/x",
                    "source": {"display_name": "Journal", "type": "journal"},
                    "license": "cc-by", "version": "publishedVersion"}
            locations.append(best)
        if w.openalex_repo_pdf:
            locations.append({"is_oa": True, "pdf_url": w.openalex_repo_pdf,
                              "source": {"display_name": "Repo", "type": "repository"},
                              "license": "cc-by", "version": "acceptedVersion"})
        wid = f"https://openalex.org/{w.wid or 'W1'}"
        return {
            "id": wid, "doi": f"https://doi.org/{doi}" if doi else None, "type": w.type,
            "referenced_works": [f"https://openalex.org/{c}" for c in w.cites],
            "referenced_works_count": len(w.cites),
            "cited_by_count": self._cited_by().get(w.wid or "W1", 0),
            "title": w.title, "display_name": w.title, "publication_year": w.year,
            "ids": {"openalex": wid,
                    "doi": f"https://doi.org/{doi}" if doi else None,
                    **({"pmid": f"https://pubmed.ncbi.nlm.nih.gov/{w.pmid}"} if w.pmid else {}),
                    **({"pmcid": f"https://www.ncbi.nlm.nih.gov/pmc/articles/{w.pmcid[3:]}"} if w.pmcid else {})},
            "authorships": [{"author": {"display_name": a}} for a in w.authors],
            "open_access": {"is_oa": bool(locations), "oa_status": "green" if w.arxiv else "gold",
                            "oa_url": f"https://arxiv.org/abs/{w.arxiv}" if w.arxiv else w.openalex_pdf},
            "best_oa_location": best or (locations[0] if locations else None),
            "primary_location": locations[0] if locations else (
                {"source": {"display_name": w.venue, "type": "journal"}, "pdf_url": None}
                if w.venue else None),
            "locations": locations,
        }

    def _oa_find(self, ident: str) -> Work | None:
        if re.fullmatch(r"W\d+", ident):
            return next((w for w in self.works if w.wid == ident and "openalex" in w.in_apis), None)
        kind, _, value = ident.partition(":")
        value = unquote(value).lower().removeprefix("https://doi.org/")
        if kind == "doi":
            if value.startswith("10.48550/arxiv."):
                return self._find("openalex", arxiv=value.split("10.48550/arxiv.", 1)[1])
            return self._find("openalex", doi=value)
        if kind == "pmid":
            return self._find("openalex", pmid=value)
        if kind == "pmcid":
            return self._find("openalex", pmcid=value)
        return None

    def _openalex(self, h, rest: str, q: dict) -> Reply:
        if rest.startswith("/works/"):
            w = self._oa_find(unquote(rest[len("/works/"):]))
            if w is None:
                return self._json({"error": "Not Found", "message": "not found"}, 404)
            return self._json(self._oa_work(w))
        if rest == "/works" and q.get("filter", "").startswith("doi:"):
            values = q["filter"][4:].split("|")
            if len(values) > 100:
                return self._json({"error": "Invalid query", "message": "max 100 values"}, 400)
            found = [self._oa_find("doi:" + v) for v in values]
            results = [self._oa_work(w) for w in found if w]
            return self._json({"meta": {"count": len(results), "page": 1,
                                        "per_page": int(q.get("per_page", 25))},
                               "results": results})
        if rest == "/works":
            return fakesearch.openalex_works(self, q)
        return self._json({"error": "Invalid query"}, 400)

    # Unpaywall ------------------------------------------------------------------
    def _unpaywall(self, h, rest: str, q: dict) -> Reply:
        if "email" not in q:
            return self._json({"HTTP_status_code": 422, "error": True,
                               "message": "Please provide a valid email"}, 422)
        doi = unquote(rest)
        w = self._find("unpaywall", doi=doi)
        if w is None:
            return self._json({"HTTP_status_code": 404, "error": True,
                               "message": f"'{doi}' is an invalid doi"}, 404)
        loc = None
        if w.unpaywall_pdf:
            loc = {"url": w.unpaywall_pdf, "url_for_pdf": w.unpaywall_pdf,
                   "url_for_landing_page": "https://pub.example/landing",
                   "host_type": w.unpaywall_host, "license": "cc-by", "version": "publishedVersion"}
        return self._json({"doi": w.doi, "title": w.title, "year": w.year, "is_oa": loc is not None,
                           "oa_status": "gold" if loc else "closed",
                           "z_authors": [{"given": a.split()[0], "family": a.split()[-1]} for a in w.authors],
                           "best_oa_location": loc, "oa_locations": [loc] if loc else []})

    # Semantic Scholar -----------------------------------------------------------
    def _s2_find(self, ident: str) -> Work | None:
        kind, _, value = ident.partition(":")
        value = unquote(value)
        key = {"DOI": "doi", "ARXIV": "arxiv", "PMID": "pmid", "PMCID": "pmcid"}.get(kind.upper())
        if key == "pmcid":
            value = "PMC" + value
        return self._find("semantic_scholar", **{key: value}) if key else None

    def _s2_paper(self, w: Work) -> dict:
        return {"paperId": f"s2{w.wid or 'abc123'}", "title": w.title, "year": w.year,
                "authors": [{"authorId": "1", "name": a} for a in w.authors],
                "externalIds": {k: v for k, v in (("DOI", w.doi), ("ArXiv", w.arxiv), ("PubMed", w.pmid),
                                                  ("PubMedCentral", w.pmcid[3:] if w.pmcid else None)) if v},
                "isOpenAccess": bool(w.s2_pdf),
                "openAccessPdf": {"url": w.s2_pdf, "status": "GREEN" if w.s2_pdf else None,
                                  "license": None}}

    def _s2(self, h, rest: str, q: dict) -> Reply:
        if self.s2_throttle > 0:
            self.s2_throttle -= 1
            return self._json({"message": "Too Many Requests. Please wait and try again or apply "
                                          "for a key for higher rate limits.", "code": "429"}, 429)
        if "fields" not in q:
            return self._json({"error": "fields missing in this fake"}, 400)
        if rest == "paper/batch" and h.command == "POST":
            ids = json.loads(h.body)["ids"]
            return self._json([self._s2_paper(w) if (w := self._s2_find(i)) else None for i in ids])
        if rest.startswith("paper/") and rest.endswith(("/references", "/citations")):
            ident, _, relation = unquote(rest[len("paper/"):]).rpartition("/")
            w = self._s2_find(ident)
            if w is None:
                return self._json({"error": "Paper with id not found"}, 404)
            return fakesearch.s2_neighbours(self, w, relation, q)
        if rest.startswith("paper/"):
            w = self._s2_find(unquote(rest[len("paper/"):]))
            if w is None:
                return self._json({"error": "Paper with id not found"}, 404)
            return self._json(self._s2_paper(w))
        return self._json({"error": "no such endpoint"}, 404)

    # arXiv ------------------------------------------------------------------------
    def _arxiv(self, h, rest: str, q: dict) -> Reply:
        if "search_query" in q:
            return fakesearch.arxiv_search(self, q, self._arxiv_entry)
        ids = [i for i in q.get("id_list", "").split(",") if i]
        entries = []
        for ident in ids:
            if not re.fullmatch(r"(\d{4}\.\d{4,5}|[a-z\-]+(\.[A-Z]{2})?/\d{7})(v\d+)?", ident, re.I):
                entries.append("<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_"
                               f"{escape(ident)}</id><title>Error</title><summary>incorrect id format"
                               "</summary></entry>")
                continue
            base = re.sub(r"v\d+$", "", ident)
            w = self._find("arxiv", arxiv=base)
            if w is None:
                continue  # unknown well-formed id: zero entries
            entries.append(self._arxiv_entry(w))
        feed = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
                'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
                f"<title>arXiv Query</title><opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
                + "".join(entries) + "</feed>")
        return Reply(body=feed.encode(), content_type="application/atom+xml; charset=utf-8")

    @staticmethod
    def _arxiv_entry(w: Work) -> str:
        base = w.arxiv
        doi = f"<arxiv:doi>{escape(w.doi)}</arxiv:doi>" if w.doi else ""
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in w.authors)
        return (f"<entry><id>http://arxiv.org/abs/{base}v2</id><updated>{w.year}-02-01T00:00:00Z</updated>"
                f"<published>{w.year}-01-01T00:00:00Z</published><title>{escape(w.title)}</title>"
                f"<summary>...</summary>{authors}{doi}"
                f'<link href="http://arxiv.org/abs/{base}v2" rel="alternate" type="text/html"/>'
                f'<link title="pdf" href="http://arxiv.org/pdf/{base}v2" rel="related" type="application/pdf"/>'
                "</entry>")

    # Crossref ---------------------------------------------------------------------
    def _crossref(self, h, rest: str, q: dict) -> Reply:
        if rest == "works" and "query.bibliographic" in q:
            return fakesearch.crossref_bibliographic(self, q, self._crossref_message)
        if rest == "works" and q.get("filter"):
            # The list form: `filter=doi:A,doi:B&rows=N`, items in Crossref's own order
            # (not the request's), unknown DOIs simply absent.
            dois = [t[len("doi:"):] for t in q["filter"].split(",") if t.startswith("doi:")]
            found = {id(w): w for w in (self._find("crossref", doi=d) for d in dois) if w}
            items = sorted(found.values(), key=lambda w: w.doi)[:int(q.get("rows", 20))]
            return self._json({"status": "ok", "message-type": "work-list", "message-version": "1.0.0",
                               "message": {"total-results": len(items), "items-per-page": len(items),
                                           "items": [self._crossref_message(w) for w in items]}})
        if not rest.startswith("works/"):
            return Reply(status=404, body=b"Resource not found.", content_type="text/plain")
        doi = unquote(rest[len("works/"):])
        w = self._find("crossref", doi=doi)
        if w is None:
            return Reply(status=404, body=b"Resource not found.", content_type="text/plain")
        return self._json({"status": "ok", "message-type": "work", "message-version": "1.0.0",
                           "message": self._crossref_message(w)})

    @staticmethod
    def _crossref_message(w: Work) -> dict:
        links = []
        if w.crossref_pdf:
            links.append({"URL": w.crossref_pdf, "content-type": "application/pdf",
                          "content-version": "vor", "intended-application": "text-mining"})
        links.append({"URL": "https://pub.example/full.xml", "content-type": "text/xml",
                      "content-version": "vor", "intended-application": "text-mining"})
        return {"DOI": w.doi.upper(), "title": [w.title], "type": {"article": "journal-article"}.get(
                    w.type, w.type), "container-title": [w.venue] if w.venue else [],
                "author": [{"given": a.split()[0], "family": a.split()[-1], "sequence": "first"}
                           for a in w.authors],
                "issued": {"date-parts": [[w.year, 3]]}, "link": links,
                "license": [{"URL": "http://creativecommons.org/licenses/by/4.0/", "content-version": "vor"}]}

    # Europe PMC -------------------------------------------------------------------
    def _europepmc(self, h, rest: str, q: dict) -> Reply:
        if rest != "search" or q.get("format") != "json":
            return Reply(body=b"<responseWrapper/>", content_type="application/xml")
        query = q.get("query", "")
        if self.europepmc_error_for and self.europepmc_error_for in query:
            return self._json({"errCode": 400, "errMsg": "Syntax error in query"})
        # One term, or several OR-ed in parentheses: `(DOI:"a") OR (PMCID:PMC1)`.
        terms = [t.strip()[1:-1] if t.strip().startswith("(") else t.strip()
                 for t in query.split(" OR ")]
        if not any(re.match(r"(DOI|EXT_ID|PMCID):", t) for t in terms):
            return fakesearch.europepmc_search(self, q, self._epmc_result)
        hits = [w for w in map(self._epmc_term, terms) if w]
        works = list({id(w): w for w in hits}.values())[:int(q.get("pageSize", 25))]
        results = [self._epmc_result(w) for w in works]
        return self._json({"version": "6.9", "hitCount": len(results), "request": {"queryString": query},
                           "resultList": {"result": results}})

    @staticmethod
    def _epmc_result(w: Work) -> dict:
        urls = []
        if w.europepmc_pdf:
            urls.append({"availability": "Open access", "availabilityCode": "OA",
                         "documentStyle": "pdf", "site": "Europe_PMC", "url": w.europepmc_pdf})
        if w.europepmc_pdf_subscription:
            urls.append({"availability": "Subscription required", "availabilityCode": "S",
                         "documentStyle": "pdf", "site": "DOI", "url": w.europepmc_pdf_subscription})
        urls.append({"availability": "Open access", "availabilityCode": "OA", "documentStyle": "html",
                     "site": "Europe_PMC", "url": "https://europepmc.org/articles/PMC1"})
        rid, src = (w.pmid, "MED") if w.pmid else ("PPR" + (w.wid or "W0")[1:], "PPR")
        return {"id": rid, "source": src, "pmid": w.pmid, "pmcid": w.pmcid,
                "doi": w.doi, "title": w.title, "authorString": ", ".join(w.authors) + ".",
                "pubYear": str(w.year), "isOpenAccess": "Y" if w.europepmc_pdf else "N",
                "fullTextUrlList": {"fullTextUrl": urls}}

    def _epmc_term(self, term: str) -> Work | None:
        if m := re.fullmatch(r'DOI:"(.+)"', term):
            return self._find("europepmc", doi=m.group(1))
        if m := re.fullmatch(r"EXT_ID:(\d+) AND SRC:MED", term):
            return self._find("europepmc", pmid=m.group(1))
        if m := re.fullmatch(r"PMCID:(PMC\d+)", term):
            return self._find("europepmc", pmcid=m.group(1))
        return None


def _form(api: str, rest: str, q: dict, method: str) -> str:
    """Whether a request is a list (batch) call or a single-paper call."""
    if api == "openalex":
        if rest == "/works" and ("search" in q or ".search:" in q.get("filter", "")):
            return "search"  # a search call costs ten list calls in credits
        return "list" if rest == "/works" else "single"
    if api == "semantic_scholar":
        if rest.endswith(("/references", "/citations")):
            return "graph"
        return "list" if method == "POST" else "single"
    if api == "arxiv":
        if "search_query" in q:
            return "search"
        return "list" if "," in q.get("id_list", "") else "single"
    if api == "crossref":
        if "query.bibliographic" in q:
            return "search"
        return "list" if rest == "works" else "single"
    if api == "europepmc":
        if "cursorMark" in q:
            return "search"
        return "list" if " OR " in q.get("query", "") else "single"
    return "single"


def _json_refusal(status: int, obj: dict) -> Reply:
    return Reply(status=status, body=json.dumps(obj).encode(), content_type="application/json")


#: What each API answers over its rate limit, as it really does.
_REFUSALS = {
    "openalex": lambda: _json_refusal(429, {"error": "Rate limit exceeded",
                                            "message": "Too many requests per second"}),
    "semantic_scholar": lambda: _json_refusal(429, {
        "message": "Too Many Requests. Please wait and try again or apply for a key for higher "
                   "rate limits. https://www.semanticscholar.org/product/api#api-key-form",
        "code": "429"}),
    "arxiv": lambda: Reply(status=429, body=b"Rate exceeded.", content_type="text/html"),
    "crossref": lambda: Reply(status=429, body=b"Too many requests", content_type="text/plain"),
}
