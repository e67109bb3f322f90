"""Recognise what a PAPER string is: a URL or a scholarly identifier.

Pure functions only. Full normalisation and resolution of identifiers to PDF
URLs belongs to the consolidate layer; this module only tells kinds apart and
produces a canonical key so that two spellings of one paper are one paper.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_DOI_URL = re.compile(r"^(?:https?://)?(?:dx\.)?doi\.org/(10\.\d{4,9}/\S+)$", re.I)
_DOI = re.compile(r"^(?:doi:\s*)?(10\.\d{4,9}/\S+)$", re.I)
_ARXIV_NEW = re.compile(r"^(?:arxiv:\s*)?(\d{4}\.\d{4,5}(?:v\d+)?)$", re.I)
_ARXIV_OLD = re.compile(r"^(?:arxiv:\s*)?([a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7}(?:v\d+)?)$", re.I)
_ARXIV_URL = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/(.+?)(?:\.pdf)?/?$", re.I
)
_PMID = re.compile(r"^(?:pmid:\s*)(\d{1,9})$", re.I)
_PMCID = re.compile(r"^(?:pmcid:\s*)?(pmc\d+)$", re.I)


class Identifier(NamedTuple):
    """A recognised PAPER string: `kind` is url, doi, arxiv, pmid or pmcid."""

    kind: str
    value: str


def classify(text: str) -> Identifier | None:
    """Return what `text` is, or None when it is neither a URL nor a known identifier.

    URLs on doi.org are DOIs; every other http(s) URL (arXiv ones included) is
    taken as a direct URL, because the user gave us a place to fetch from.
    """
    s = text.strip()
    if not s:
        return None
    m = _DOI_URL.match(s)
    if m:
        return Identifier("doi", m.group(1).lower())
    if s.lower().startswith(("http://", "https://")):
        return Identifier("url", s)
    m = _DOI.match(s)
    if m:
        return Identifier("doi", m.group(1).lower())
    m = _ARXIV_NEW.match(s) or _ARXIV_OLD.match(s)
    if m:
        return Identifier("arxiv", m.group(1).lower())
    m = _PMCID.match(s)
    if m:
        return Identifier("pmcid", m.group(1).upper())
    m = _PMID.match(s)
    if m:
        return Identifier("pmid", m.group(1))
    return None


def normalise(kind: str, value: str) -> str:
    """Canonical form of an identifier value of a known kind (for keys and comparison)."""
    v = value.strip()
    if kind == "doi":
        ident = classify(v)
        return ident.value if ident and ident.kind == "doi" else v.lower()
    if kind == "arxiv":
        m = _ARXIV_URL.match(v)
        if m:
            v = m.group(1)
        if v.lower().startswith("arxiv:"):
            v = v[6:].strip()
        return v.lower()
    if kind == "pmcid":
        v = v.upper()
        return v if v.startswith("PMC") else "PMC" + v
    if kind == "pmid":
        return v[5:].strip() if v.lower().startswith("pmid:") else v
    return v
