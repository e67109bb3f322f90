"""Deterministic, safe file names from a paper's own metadata.

Names never come from Content-Disposition or the server's final path: a server
cannot choose where we write. Every name is a single path component.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from urllib.parse import unquote, urlsplit

from papers.models import Paper

MAX_NAME_BYTES = 150  # well under the 255-byte limit of common filesystems, .part included
_WINDOWS_RESERVED = {
    "con", "prn", "aux", "nul",
    *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10)),
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_SPACES = re.compile(r"[\s_]+")
_REPEAT_DOTS = re.compile(r"\.{2,}")


def short_hash(text: str, n: int = 8) -> str:
    """First `n` hex digits of the SHA-256 of `text` (stable across runs and machines)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:n]


def sanitise(text: str, max_bytes: int = 100) -> str:
    """Turn arbitrary text into a safe single file-name component (may return "")."""
    s = unicodedata.normalize("NFKC", text)
    s = _UNSAFE.sub("_", s)
    s = _SPACES.sub("_", s)
    s = _REPEAT_DOTS.sub(".", s)
    s = s.strip("._- ")
    encoded = s.encode("utf-8")[:max_bytes]
    s = encoded.decode("utf-8", "ignore").rstrip("._- ")
    if s.split(".")[0].lower() in _WINDOWS_RESERVED:
        s = "_" + s
    return s


def _surname(author: str) -> str:
    author = author.strip()
    if "," in author:
        return author.split(",")[0]
    return author.split()[-1] if author.split() else ""


def _stem(paper: Paper) -> str:
    if paper.title:
        parts = []
        if paper.authors:
            parts.append(sanitise(_surname(paper.authors[0]), 30))
        if paper.year:
            parts.append(str(paper.year))
        parts.append(sanitise(paper.title, 80))
        # Titles are not unique ("Introduction"), so the key's hash keeps names apart.
        return "_".join(p for p in parts if p) + "_" + short_hash(paper.key)
    for kind, prefix in (("doi", ""), ("arxiv", "arXiv_"), ("pmcid", ""), ("pmid", "PMID_")):
        value = getattr(paper, kind)
        if value:
            safe = sanitise(prefix + value, 110)
            # Identifiers are unique, but sanitising can merge two of them.
            if safe != (prefix + value).replace("/", "_") or not safe:
                safe += "_" + short_hash(paper.key)
            return safe
    if paper.urls:
        parts = urlsplit(paper.urls[0])
        last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
        if last.lower().endswith(".pdf"):
            last = last[:-4]
        host = sanitise(parts.hostname or "", 40)
        return "_".join(p for p in (host, sanitise(last, 60)) if p) + "_" + short_hash(paper.key)
    return "paper_" + short_hash(paper.key)


def filename_for(paper: Paper) -> str:
    """The final PDF file name for `paper`: deterministic, one component, bounded length."""
    stem = _stem(paper) or "paper_" + short_hash(paper.key)
    stem = stem.encode("utf-8")[:MAX_NAME_BYTES - 4].decode("utf-8", "ignore")
    return stem + ".pdf"


def path_for(paper: Paper, output_dir: str, resolved: bool = False) -> str:
    """Absolute path of `paper`'s PDF, guaranteed to lie directly inside `output_dir`.

    Pass `resolved=True` when `output_dir` is already a realpath (saves the
    lookups per paper in a long run).
    """
    base = output_dir if resolved else os.path.realpath(output_dir)
    name = filename_for(paper)
    path = os.path.join(base, name)
    if os.path.dirname(path) != base or name in (".", ".."):
        raise ValueError(f"unsafe file name {name!r}")
    return path
