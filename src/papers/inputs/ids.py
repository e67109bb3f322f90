"""Recognise and normalise scholarly identifiers: DOIs, arXiv IDs, PMIDs, PMCIDs.

Pure functions only. `classify` tells what a PAPER string is, also inside
URLs (doi.org, arxiv.org/abs|pdf, PubMed and PMC pages); `normalise` gives the
canonical spelling used for keys, comparison and request URLs.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import quote, unquote

#: The scholarly identifier kinds a paper can carry, in the order they are preferred.
ID_KINDS = ("doi", "arxiv", "pmid", "pmcid")

# DOI: 10.<registrant>/<suffix>; the suffix may hold almost anything (SICI DOIs: <>;()).
_DOI_CORE = r"10\.\d{4,9}/\S+"
_DOI_PREFIXES = re.compile(
    r"^(?:https?://(?:dx\.|www\.)?doi\.org/|doi\.org/|dx\.doi\.org/|info:doi/|doi:\s*|urn:doi:)", re.I)
_DOI = re.compile(rf"^({_DOI_CORE})$", re.I)

_ARXIV_NEW = r"\d{4}\.\d{4,5}(?:v\d+)?"
_ARXIV_OLD = r"[a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7}(?:v\d+)?"
_ARXIV_ID = re.compile(rf"^(?:arxiv:\s*)?({_ARXIV_NEW}|{_ARXIV_OLD})$", re.I)
_ARXIV_URL = re.compile(
    rf"^https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/({_ARXIV_NEW}|{_ARXIV_OLD})(?:\.pdf)?/?(?:[?#].*)?$",
    re.I)

_PMID = re.compile(r"^pmid:\s*([1-9]\d{0,8})$", re.I)
_PMID_URL = re.compile(
    r"^https?://(?:pubmed\.ncbi\.nlm\.nih\.gov|(?:www\.)?ncbi\.nlm\.nih\.gov/pubmed)/([1-9]\d{0,8})/?(?:[?#].*)?$",
    re.I)
_PMCID = re.compile(r"^(?:pmcid:\s*)?(pmc\d+)$", re.I)
_PMCID_URL = re.compile(
    r"^https?://(?:(?:www\.)?ncbi\.nlm\.nih\.gov/pmc/articles|pmc\.ncbi\.nlm\.nih\.gov/articles"
    r"|europepmc\.org/(?:article/PMC|articles))/(pmc\d+)/?(?:[?#].*)?$", re.I)


class Identifier(NamedTuple):
    """A recognised PAPER string: `kind` is url, doi, arxiv, pmid or pmcid."""

    kind: str
    value: str


def _clean_doi(text: str) -> str | None:
    s = _DOI_PREFIXES.sub("", text.strip())
    if "%" in s:
        s = unquote(s)
    # Trailing punctuation from prose ("see 10.1/x.") is not part of the DOI, but a
    # closing bracket is when the DOI opened it (SICI DOIs are full of brackets).
    while s and s[-1] in ".,;:":
        s = s[:-1]
    while s and s[-1] in ")]" and s.count(s[-1]) > s.count("(" if s[-1] == ")" else "["):
        s = s[:-1]
    m = _DOI.match(s)
    return m.group(1).lower() if m else None


def _clean_arxiv(value: str) -> str:
    v = value.strip()
    if v.lower().startswith("arxiv:"):
        v = v[6:].strip()
    if "/" in v:
        # Old style: the subject class is not part of the identity (math.CA/0611800 = math/0611800).
        archive, number = v.split("/", 1)
        return archive.split(".")[0].lower() + "/" + number.lower()
    return v.lower()


#: Hosts whose URLs can name an identifier (doi.org, arXiv, PubMed/PMC, Europe PMC).
ID_HOSTS = ("doi.org", "arxiv.org", "nih.gov", "europepmc.org")


def classify(text: str) -> Identifier | None:
    """Return what `text` is, or None when it is neither a URL nor a known identifier.

    URLs that name an identifier (doi.org, arxiv.org/abs|pdf, PubMed, PMC) are
    that identifier: two spellings of one paper are one paper. Every other
    http(s) URL is a direct URL to fetch.
    """
    s = text.strip()
    if not s:
        return None
    head = s[:8].lower()
    if head.startswith(("http://", "https://")):
        # Only a few hosts name identifiers; other URLs skip the patterns (a million-line
        # list of URLs spends its time here).
        host = s[len("https://") if head == "https://" else len("http://"):].split("/", 1)[0].lower()
        if host.endswith("doi.org"):
            doi = _clean_doi(s)
            return Identifier("doi", doi) if doi else None
        if host.endswith(ID_HOSTS[1:]):
            m = _ARXIV_URL.match(s)
            if m:
                return Identifier("arxiv", _clean_arxiv(m.group(1)))
            m = _PMID_URL.match(s)
            if m:
                return Identifier("pmid", m.group(1))
            m = _PMCID_URL.match(s)
            if m:
                return Identifier("pmcid", m.group(1).upper())
        return Identifier("url", s)
    if _DOI_PREFIXES.match(s) or head.startswith("10."):
        doi = _clean_doi(s)
        return Identifier("doi", doi) if doi else None
    m = _ARXIV_ID.match(s)
    if m:
        return Identifier("arxiv", _clean_arxiv(m.group(1)))
    m = _PMCID.match(s)
    if m:
        return Identifier("pmcid", m.group(1).upper())
    m = _PMID.match(s)
    if m:
        return Identifier("pmid", m.group(1))
    return None


def normalise(kind: str, value: str) -> str | None:
    """Canonical form of an identifier of a known kind, or None if it is not one."""
    v = str(value).strip()
    if not v:
        return None
    if kind == "doi":
        return _clean_doi(v)
    if kind == "arxiv":
        ident = classify(v)
        if ident and ident.kind == "arxiv":
            return ident.value
        m = _ARXIV_ID.match(v)
        return _clean_arxiv(m.group(1)) if m else None
    if kind == "pmcid":
        v = v.upper().removeprefix("PMCID:").strip()
        if v.isdigit():
            v = "PMC" + v
        return v if re.fullmatch(r"PMC\d+", v) else None
    if kind == "pmid":
        if v.lower().startswith("pmid:"):
            v = v[5:].strip()
        m = _PMID_URL.match(v)
        if m:
            v = m.group(1)
        return v if re.fullmatch(r"[1-9]\d{0,8}", v) else None
    return v


ARXIV_DOI_PREFIX = "10.48550/arxiv."  # DataCite's DOIs for arXiv papers (Zotero exports them)


def arxiv_of_doi(doi: str) -> str | None:
    """The arXiv ID that an arXiv DOI names (`10.48550/arxiv.1706.03762` ->
    `1706.03762`), or None for any other DOI. `doi` is normalised (lower case)."""
    if not doi.startswith(ARXIV_DOI_PREFIX):
        return None
    return normalise("arxiv", doi[len(ARXIV_DOI_PREFIX):])


def arxiv_base(arxiv_id: str) -> str:
    """An arXiv id without its version: `2101.00001v2` -> `2101.00001`."""
    return re.sub(r"v\d+$", "", arxiv_id)


def quote_doi(doi: str) -> str:
    """A DOI made safe for a URL path (SICI DOIs carry `<>;#?` and friends)."""
    return quote(doi, safe="/()")
