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

from papers.model import Paper
from papers.net.hosts import hostname

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


#: The fields a --name template may use.
TEMPLATE_FIELDS = ("id", "doi", "arxiv", "title", "first_author", "year", "source")


def check_template(template: str) -> str:
    """`template` if it is a usable --name template; ValueError saying why not."""
    import string

    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ValueError(f"not a template: {e}") from None
    used = [name for _, name, _, _ in parsed if name is not None]
    for name in used:
        if name not in TEMPLATE_FIELDS:
            raise ValueError(f"unknown field {{{name}}}; the fields are "
                             + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS))
    if not used:
        raise ValueError("no field in it: every paper would get the same name")
    try:
        template.format(**{f: "x" for f in TEMPLATE_FIELDS})
    except (ValueError, IndexError) as e:
        raise ValueError(f"not a template: {e}") from None
    return template


def template_fields(paper: Paper, url: str | None) -> dict[str, str]:
    """Each field's value for `paper`, sanitised so that no value adds a folder.
    `url`: the candidate the bytes come from, for {source}."""
    first = _surname(paper.authors[0]) if paper.authors else ""
    host = hostname(url) if url else ""
    values = {"id": paper.id, "doi": paper.doi or "", "arxiv": paper.arxiv or "",
              "title": paper.title or "", "first_author": first,
              "year": str(paper.year) if paper.year else "", "source": host}
    return {k: sanitise(v, 200) for k, v in values.items()}


def templated_path(paper: Paper, output_dir: str, template: str, url: str | None = None) -> str:
    """The path `template` gives `paper` inside `output_dir` (a realpath); folders come
    only from the template's own `/`. An empty result falls back to the default name."""
    rendered = template.format(**template_fields(paper, url))
    parts = [sanitise(p, MAX_NAME_BYTES - 4) for p in rendered.replace("\\", "/").split("/")]
    parts = [p for p in parts if p]
    if not parts:
        return path_for(paper, output_dir, resolved=True)
    parts[-1] = parts[-1].encode("utf-8")[:MAX_NAME_BYTES - 4].decode("utf-8", "ignore") + ".pdf"
    path = os.path.join(output_dir, *parts)
    if os.path.commonpath([output_dir, path]) != output_dir or ".." in parts:
        raise ValueError(f"unsafe file name {rendered!r}")
    return path


def with_hash(path: str, paper: Paper) -> str:
    """`path` told apart from another paper's by the paper's short hash."""
    stem, ext = os.path.splitext(path)
    return f"{stem}_{short_hash(paper.key)}{ext}"


def url_derived(paper: Paper, template: str | None) -> bool:
    """Whether `paper`'s name depends on which candidate URL delivers it."""
    if template is not None:
        return "{source" in template
    return not (paper.title or paper.doi or paper.arxiv or paper.pmcid or paper.pmid)


class Namer:
    """Names the papers of one run: the default scheme, or a --name template. Within a
    run (and against the state's recorded files) two papers never share a name: the
    later one gets its key's short hash, so a re-run of the same input names alike."""

    def __init__(self, output_dir: str, template: str | None = None,
                 taken: dict[str, str] | None = None) -> None:
        self.output_dir = output_dir
        self.template = template
        self.taken = taken if template is not None else None  # path -> key

    def path(self, paper: Paper, url: str | None = None) -> str:
        """`paper`'s path; `url` is the candidate the bytes came from (default: its first)."""
        url = url or (paper.urls[0] if paper.urls else None)
        if self.template is None:
            named = paper if url is None or not paper.urls else _with_first(paper, url)
            return path_for(named, self.output_dir, resolved=True)
        path = templated_path(paper, self.output_dir, self.template, url)
        if self.taken is not None:
            owner = self.taken.setdefault(path, paper.key)
            if owner != paper.key:
                path = with_hash(path, paper)
                self.taken[path] = paper.key
        return path


def _with_first(paper: Paper, url: str) -> Paper:
    from dataclasses import replace

    return paper if paper.urls[0] == url else replace(paper, urls=(url, *paper.urls))
