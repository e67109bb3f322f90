"""The search forms of the fake APIs, in their documented shapes
(../shared/reference/scholarly-apis.md, "Search, paging and the citation graph"):

- OpenAlex `GET /works?search=&filter=&per_page=&cursor=`: `meta.count`, `meta.next_cursor`
  (null on the last page), filters `publication_year` (N, A-B, >N, <N), `is_oa`, `type`,
  `cites`, `openalex`, `title.search`, comma = AND and `|` = OR; an unknown filter or a
  `per_page` over 200 is a 400 with OpenAlex's JSON error; `page=` stops at 10,000.
- Europe PMC `search?query=&pageSize=&cursorMark=`: `hitCount`, `nextCursorMark` (the same
  mark again on the last page), `OPEN_ACCESS:y`, `PUB_YEAR:[A TO B]`.
- arXiv `query?search_query=&start=&max_results=`: an Atom feed with
  `opensearch:totalResults`; `all:`, `ti:`, `au:` and `submittedDate:[A TO B]`.
"""

from __future__ import annotations

import base64
import functools
import json
import re

from support.faultserver import Reply

OPENALEX_FILTERS = ("publication_year", "is_oa", "type", "cites", "openalex", "title.search", "doi")


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


@functools.lru_cache(maxsize=None)
def _vocabulary(title: str, abstract: str) -> frozenset[str]:
    # Cached: a benchmark's 10,000 works are searched again for each page.
    return frozenset(_words(f"{title} {abstract}"))


def _matches(w, text: str | None) -> bool:
    hay = _vocabulary(w.title, w.abstract)
    return all(word in hay for word in _words(text or ""))


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(cursor: str) -> int | None:
    if cursor == "*":
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.split(":", 1)[1]) if raw.startswith("offset:") else None
    except (ValueError, UnicodeDecodeError):
        return None


def _json(obj, status: int = 200) -> Reply:
    return Reply(status=status, body=json.dumps(obj).encode(), content_type="application/json")


def _openalex_error(message: str) -> Reply:
    return _json({"error": "Invalid query parameters error.", "message": message}, 403 if
                 "cursor" in message else 400)


def _year_ok(year: int, spec: str) -> bool:
    if spec.startswith(">"):
        return year > int(spec[1:])
    if spec.startswith("<"):
        return year < int(spec[1:])
    if "-" in spec:
        low, high = spec.split("-", 1)
        return int(low or 0) <= year <= int(high or 9999)
    return year == int(spec)


def _openalex_filter(w, key: str, value: str) -> bool:
    options = value.split("|")
    if key == "publication_year":
        return any(_year_ok(w.year, v) for v in options)
    if key == "is_oa":
        return any(w.is_oa == (v == "true") for v in options)
    if key == "type":
        return w.type in options
    if key == "cites":
        return any(v in w.cites for v in options)
    if key == "openalex":
        return w.wid in options
    if key == "title.search":
        return all(word in _words(w.title) for word in _words(value))
    if key == "doi":
        return (w.doi or "").lower() in [v.lower().removeprefix("https://doi.org/") for v in options]
    raise KeyError(key)


def openalex_works(fake, q: dict) -> Reply:
    """`/works` with `search`, filters and paging (the batch `filter=doi:` too)."""
    per_page = int(q.get("per_page", 25))
    if not 1 <= per_page <= 200:
        return _openalex_error("per-page parameter must be between 1 and 200")
    parts = [p.partition(":")[::2] for p in filter(None, q.get("filter", "").split(","))]
    unknown = [key for key, _ in parts if key not in OPENALEX_FILTERS]
    if unknown:
        return _openalex_error(f"{unknown[0]} is not a valid field. Valid fields are "
                               + ", ".join(OPENALEX_FILTERS))
    # The matches of one query, kept while the works stay the same: each page of a
    # benchmark's 10,000 works would otherwise search them all again.
    key = (id(fake.works), len(fake.works), q.get("search"), q.get("filter"))
    cache = fake.__dict__.setdefault("_search_cache", {})
    if key not in cache:
        works = [w for w in fake.works if "openalex" in w.in_apis and _matches(w, q.get("search"))]
        for name, value in parts:
            works = [w for w in works if _openalex_filter(w, name, value)]
        cache.clear()
        cache[key] = works
    works = cache[key]
    if "cursor" in q:
        offset = _offset(q["cursor"])
        if offset is None:
            return _openalex_error("cursor is not valid")
    else:
        offset = (int(q.get("page", 1)) - 1) * per_page
        if offset + per_page > 10_000:
            return _openalex_error("Maximum results size of 10,000 records is exceeded. Cursor "
                                   "pagination is required for records beyond 10,000.")
    page = works[offset:offset + per_page]
    more = "cursor" in q and offset + per_page < len(works)
    return _json({"meta": {"count": len(works), "db_response_time_ms": 3, "page": None,
                           "per_page": per_page, "next_cursor": _cursor(offset + per_page) if more
                           else None, "groups_count": None},
                  "results": [fake._oa_work(w) for w in page], "group_by": []})


def _epmc_keep(w, term: str) -> bool:
    term = term.strip()
    if term == "OPEN_ACCESS:y":
        return bool(w.europepmc_pdf)
    if m := re.fullmatch(r"PUB_YEAR:\[(\d+) TO (\d+)\]", term):
        return int(m.group(1)) <= w.year <= int(m.group(2))
    return _matches(w, term.strip("()"))


def europepmc_search(fake, q: dict, result) -> Reply:
    """A search that is not an identifier lookup, paged by `cursorMark`."""
    size = int(q.get("pageSize", 25))
    if not 1 <= size <= 1000:
        return _json({"errCode": 400, "errMsg": "pageSize must be between 1 and 1000"})
    works = [w for w in fake.works if "europepmc" in w.in_apis]
    for term in q.get("query", "").split(" AND "):
        works = [w for w in works if _epmc_keep(w, term)]
    mark = q.get("cursorMark", "*")
    offset = _offset(mark)
    if offset is None:
        return _json({"errCode": 400, "errMsg": "Invalid cursorMark"})
    page = works[offset:offset + size]
    nxt = _cursor(offset + size) if offset + size < len(works) else mark  # the same: the end
    return _json({"version": "6.9", "hitCount": len(works), "nextCursorMark": nxt,
                  "request": {"queryString": q.get("query"), "cursorMark": mark, "pageSize": size},
                  "resultList": {"result": [result(w) for w in page]}})


def _arxiv_keep(w, term: str) -> bool:
    term = term.strip()
    if m := re.fullmatch(r"submittedDate:\[(\d{4})\d*\s+TO\s+(\d{4})\d*\]", term):
        return int(m.group(1)) <= w.year <= int(m.group(2))
    field, _, value = term.partition(":")
    value = value.strip('"')
    if field == "ti":
        return all(word in _words(w.title) for word in _words(value))
    if field == "au":
        return any(all(word in _words(a) for word in _words(value)) for a in w.authors)
    if field == "all":
        return _matches(w, value)
    return False  # cat:, abs: ...: nothing in the fake world has them


def arxiv_search(fake, q: dict, entry) -> Reply:
    """`search_query` with `start` and `max_results` (at most 2,000 a call)."""
    start, size = int(q.get("start", 0)), int(q.get("max_results", 10))
    if size > 2000:
        return Reply(status=400, body=b"max_results must be at most 2000", content_type="text/plain")
    works = [w for w in fake.works if "arxiv" in w.in_apis and w.arxiv]
    for term in q.get("search_query", "").split(" AND "):
        works = [w for w in works if _arxiv_keep(w, term)]
    page = works[start:start + size]
    feed = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom" '
            'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">'
            f"<title>arXiv Query: {q.get('search_query', '')}</title>"
            f"<opensearch:totalResults>{len(works)}</opensearch:totalResults>"
            f"<opensearch:startIndex>{start}</opensearch:startIndex>"
            f"<opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>"
            + "".join(entry(w) for w in page) + "</feed>")
    return Reply(body=feed.encode(), content_type="application/atom+xml; charset=utf-8")


def s2_neighbours(fake, w, relation: str, q: dict) -> Reply:
    """`/paper/{id}/references` (`citedPaper`) or `/citations` (`citingPaper`), paged by
    `offset` and `limit` (at most 1,000), with `next` while more remain."""
    offset, limit = int(q.get("offset", 0)), int(q.get("limit", 100))
    if limit > 1000:
        return _json({"error": "limit must be <= 1000"}, 400)
    known = [x for x in fake.works if "semantic_scholar" in x.in_apis]
    if relation == "references":
        cited = w.s2_cites if w.s2_cites is not None else w.cites
        rows = [{"citedPaper": fake._s2_paper(x)} for x in known if x.wid in cited]
    else:
        rows = [{"citingPaper": fake._s2_paper(x)} for x in known
                if w.wid in (x.s2_cites if x.s2_cites is not None else x.cites)]
    page = rows[offset:offset + limit]
    body = {"offset": offset, "data": page}
    if offset + limit < len(rows):
        body["next"] = offset + limit
    return _json(body)


def crossref_bibliographic(fake, q: dict, message) -> Reply:
    """`/works?query.bibliographic=...&rows=N`: the works sharing most words with the
    reference (title, authors, year, venue), each with a relevance `score` as Crossref
    gives one (not a probability)."""
    rows = int(q.get("rows", 20))
    if rows > 1000:
        return _json({"status": "failed", "message-type": "validation-failure",
                      "message": [{"type": "integer-not-valid", "message": "rows too large"}]}, 400)
    asked = set(_words(q["query.bibliographic"]))
    ranked = []
    for w in fake.works:
        if "crossref" not in w.in_apis or not w.doi:
            continue
        words = _vocabulary(w.title, f"{' '.join(w.authors)} {w.year} {w.venue}")
        overlap = len(asked & words)
        if overlap:
            ranked.append((overlap / max(len(words), 1) * 100 + overlap, w))
    ranked.sort(key=lambda t: -t[0])
    items = [{**message(w), "score": round(sc, 3)} for sc, w in ranked[:rows]]
    return _json({"status": "ok", "message-type": "work-list", "message-version": "1.0.0",
                  "message": {"total-results": len(ranked), "items-per-page": rows,
                              "query": {"search-terms": q["query.bibliographic"], "start-index": 0},
                              "items": items}})
