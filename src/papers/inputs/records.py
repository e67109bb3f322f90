"""A `Paper` from one PAPER string or one record of an input file: identifiers
classified and normalised, URLs canonical, junk marked as a problem."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from papers.inputs.ids import (ARXIV_DOI_PREFIX, ID_HOSTS, ID_KINDS, arxiv_of_doi, classify,
                               normalise)
from papers.model import MAX_PAPER, Paper, year_of
from papers.redact import redact

#: Record fields `papers` understands; every other field is kept in `extra`.
KNOWN_FIELDS = (
    "id", "doi", "arxiv", "pmid", "pmcid", "url", "pdf_url", "pdf_urls",
    "title", "authors", "year",
)


def canonical_url(url: str) -> str:
    """A URL with scheme and host lower-cased (the parts that are case-insensitive)."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if sep and "#" not in rest and "@" not in rest:
        # Fast path for the common case: lower-case scheme://authority, keep the rest.
        end = rest.find("/")
        query = rest.find("?")
        if end == -1 or (query != -1 and query < end):
            end = query if query != -1 else len(rest)
        authority, tail = rest[:end], rest[end:]
        if not tail.startswith("/"):
            tail = "/" + tail
        return f"{scheme.lower()}://{authority.lower()}{tail}"
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


INVALID = "is not a valid"  # how a record's problem names a malformed identifier
_KIND_NAMES = {"doi": "DOI", "arxiv": "arXiv ID", "pmid": "PMID", "pmcid": "PMCID"}


def url_key(url: str) -> str:
    """The identity of a paper given by URL; secrets in the query are hashed, not kept."""
    canon = canonical_url(url)
    shown = redact(canon) if "=" in canon or "@" in canon else canon
    if shown != canon:
        import hashlib

        return f"url:{shown}#sha256:{hashlib.sha256(canon.encode()).hexdigest()}"
    return "url:" + canon


def paper_from_text(text: str) -> Paper:
    """Build a Paper from one PAPER string (a URL or an identifier)."""
    s = text.strip()
    if len(s) > MAX_PAPER:
        return _long_junk(s)
    if s.startswith(("http://", "https://")):
        # Fast path for a plain URL already in canonical form (a million-line list of
        # them is common; "Paper" in bench/AB.md): the key is the URL itself.
        # Anything unusual takes the full path.
        start = 7 if s[4] == ":" else 8
        end = s.find("/", start)
        host = s[start:end]
        if (end > start and host == host.lower() and "?" not in host and "#" not in s
                and "@" not in s and "=" not in s and not host.endswith(ID_HOSTS)):
            return Paper(key="url:" + s, id=s, urls=(s,))
    ident = classify(s)
    if ident is None:
        shown = s if len(s) <= 200 else s[:200] + "…"
        # A line of words may be a reference string or a title: it keeps its words (spaced
        # once) as its key, so that the lookup can match it; the problem says what it is to
        # a command that matches nothing.
        key = (REFERENCE + " ".join(s.split())) if _words(s) else "junk:" + s
        return Paper(key=key, id=shown,
                     problem=f"not a URL or a known identifier (DOI, arXiv ID, PMID, PMCID): {shown!r}")
    if ident.kind == "url":
        return Paper(key=url_key(s), id=s, urls=(s,))
    if ident.kind == "arxiv" and "://" in s:
        # An arXiv page or PDF URL: one paper with the arXiv identity, fetched straight
        # from the PDF address (no lookup needed).
        pdf = s.replace("/abs/", "/pdf/", 1)
        return replace(paper_from_record({"arxiv": ident.value}), id=s, urls=(pdf,))
    if ident.kind == "doi" and ident.value.startswith(ARXIV_DOI_PREFIX):
        return paper_from_record({"doi": ident.value})  # an arXiv paper: arXiv's identity
    # classify() normalised the identifier already: build the Paper as paper_from_record
    # would, without normalising it again.
    key_prefix, shown_prefix = _ID_FORMS[ident.kind]
    return Paper(key=key_prefix + ident.value, id=shown_prefix + ident.value,
                 **{ident.kind: ident.value})


#: The key prefix of a text line that may be a reference string or a title.
REFERENCE = "ref:"


def _words(text: str) -> bool:
    """Whether a text line has the words of a reference or a title ("Deep learning",
    "Introduction. 2019."): two words or more, with six letters or more.
    A single token ("not-a-doi") is a botched identifier: junk."""
    words = text.split()
    return len(words) >= 2 and sum(ch.isalpha() for ch in text) >= 6


def reference_text(paper: Paper) -> str | None:
    """The reference string or title a paper stands for, if it is one: a text line that
    is neither an identifier nor a URL (see `_words`), or a record with a title and no
    identifier or URL. None for an identifier, a URL, junk, or a record whose identifier is
    malformed (it says which paper it is, wrongly: the user fixes it, papers does not guess)."""
    if paper.title and not paper.identifiers and not paper.urls \
            and INVALID not in (paper.problem or ""):
        who = f"{paper.authors[0]}. " if paper.authors else ""
        return f"{who}{paper.title}. {paper.year or ''}".strip()
    if paper.key.startswith(REFERENCE):
        return paper.key[len(REFERENCE):]
    return None


def _long_junk(s: str) -> Paper:
    """A string far longer than any identifier or URL: never echoed, sent or recorded whole."""
    import hashlib

    digest = hashlib.sha256(s.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Paper(key=f"junk:long:{digest}", id=f"{s[:60]}… ({len(s):,} characters)",
                 problem=f"{len(s):,} characters, not a paper")


# The key prefix and the shown prefix of a paper known by one identifier (see paper_from_record).
_ID_FORMS = {"doi": ("doi:", ""), "arxiv": ("arxiv:", "arXiv:"), "pmid": ("pmid:", "PMID:"),
             "pmcid": ("pmcid:", "")}


def _clean_str(value: Any) -> str | None:
    if value is None:
        return None
    s = str(value).strip()
    return s or None


def person_name(a: dict[str, Any]) -> str | None:
    """A person's name from the usual record shapes (given/family, name, display_name, raw)."""
    name = " ".join(p for p in (a.get("given"), a.get("family")) if isinstance(p, str) and p)
    if not name:
        for k in ("name", "display_name", "raw_author_name"):
            if isinstance(a.get(k), str) and a[k].strip():
                name = a[k]
                break
    return name.strip() or None


def _authors(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value.strip(),)
    names = []
    if isinstance(value, list):
        for a in value:
            if isinstance(a, str) and a.strip():
                names.append(a.strip())
            elif isinstance(a, dict):
                name = person_name(a)
                if name:
                    names.append(name)
    return tuple(names)


def paper_from_record(rec: dict[str, Any]) -> Paper:
    """Build a Paper from a JSON paper record; unknown fields are kept in `extra`."""
    ids = {}
    invalid = []
    for kind in ID_KINDS:
        v = _clean_str(rec.get(kind))
        if v:
            norm = normalise(kind, v)
            if norm:
                ids[kind] = norm
            else:
                invalid.append(f"{kind} {v!r} {INVALID} {_KIND_NAMES[kind]}")
    if "doi" in ids and "arxiv" not in ids:
        arxiv = arxiv_of_doi(ids["doi"])  # one paper, however it is spelt: arXiv's identity
        if arxiv:
            ids["arxiv"] = arxiv
    urls: list[str] = []
    pdf_urls = rec.get("pdf_urls")
    if isinstance(pdf_urls, str):
        pdf_urls = [pdf_urls]
    for u in [*(pdf_urls or []), rec.get("pdf_url"), rec.get("url")]:
        u = _clean_str(u)
        if u and len(u) > MAX_PAPER:
            invalid.append(f"a URL of {len(u):,} characters is not one")
        elif u and u not in urls:
            urls.append(u)
    given_id = _clean_str(rec.get("id"))
    key, shown = _identity(ids, given_id, urls)
    problem = next((x for x in invalid if x.startswith("a URL of")), None)
    if not key:
        problem = "record has no id, identifier or URL"
        if invalid:
            problem += ": " + "; ".join(invalid)
        key = "junk:" + repr(sorted(rec.items()))[:200]
        shown = "(record without id)"
    extra = {k: v for k, v in rec.items() if k not in KNOWN_FIELDS}
    return Paper(
        key=key,
        id=given_id or shown,
        urls=tuple(urls),
        title=_clean_str(rec.get("title")),
        authors=_authors(rec.get("authors")),
        year=year_of(rec.get("year")),
        extra=extra,
        problem=problem,
        **ids,
    )


def _identity(ids: dict[str, str], given_id: str | None, urls: list[str]) -> tuple[str, str]:
    """(key, shown id) of a record: by its best identifier, then its id, then its first
    URL; ("", "") when it has none of them."""
    if "doi" in ids and not ids["doi"].startswith(ARXIV_DOI_PREFIX):
        return "doi:" + ids["doi"], ids["doi"]
    if "arxiv" in ids:  # shown as given: an arXiv DOI stays a DOI
        return "arxiv:" + ids["arxiv"], ids.get("doi") or "arXiv:" + ids["arxiv"]
    if "pmcid" in ids:
        return "pmcid:" + ids["pmcid"], ids["pmcid"]
    if "pmid" in ids:
        return "pmid:" + ids["pmid"], "PMID:" + ids["pmid"]
    if given_id:
        return "id:" + given_id, given_id
    if urls:
        return url_key(urls[0]), urls[0]
    return "", ""
