"""`--bibtex FILE`: a BibTeX library of the downloaded papers, written (and on later runs
updated) with bibtexparser. Each entry's `file` field points at its PDF, relative to the
library, so Zotero and JabRef import the PDFs with the entries. Entries papers wrote
carry `papers_key`; on a later run those are replaced, everything else is kept."""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from typing import Any, NamedTuple

from papers.discovery.choice import version_key
from papers.disk.durable import write_atomic
from papers.errors import OutputError
from papers.inputs.bibliographies import BIBTEX_ENTRY, quiet_bibtexparser
from papers.model import Paper

log = logging.getLogger("papers")

KEY_FIELD = "papers_key"


def check(path: str) -> str:
    """`path` if a library can be written there (and one already there parses); else
    OutputError, before the run fetches anything."""
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise OutputError(f"--bibtex {path} is a directory; give a file name like library.bib")
    if os.path.exists(path):
        _load(path)
    elif os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputError(f"--bibtex {path}: {folder} is a file, not a directory")
    return path


def _load(path: str) -> Any:
    import bibtexparser

    quiet_bibtexparser()
    try:
        with open(path, encoding="utf-8") as f:
            return bibtexparser.parse_string(f.read())
    except (OSError, UnicodeDecodeError) as e:
        raise OutputError(f"--bibtex {path}: cannot read ({getattr(e, 'strerror', None) or e})") from None


class Shelved(NamedTuple):
    """A downloaded paper as the library takes it: its PDF, and the version and licence a
    source named for that file (None when none did)."""

    paper: Paper
    pdf: str
    version: str | None = None
    license: str | None = None


def update(path: str, papers: list[Shelved] | list[tuple[Any, ...]]) -> None:
    """Write `papers` (each with its PDF's path) into the library at `path`. Every block
    papers did not write (the user's entries, comments, @strings, even entries that do
    not parse) keeps its text byte for byte; papers' own entries are replaced."""
    import bibtexparser

    lib = _load(path) if os.path.exists(path) else bibtexparser.Library()
    for block in lib.failed_blocks:
        log.warning("--bibtex %s:%d: an entry papers cannot read is kept as it is", path,
                    block.start_line + 1)
    ours = {e.fields_dict[KEY_FIELD].value: e for e in lib.entries if KEY_FIELD in e.fields_dict}
    keys = {e.key for e in lib.entries}
    folder = os.path.dirname(os.path.abspath(path))
    replaced: dict[int, str] = {}
    added: dict[str, str] = {}  # by paper key: a paper given twice is one entry
    for paper, pdf, version, licence in papers:
        old = ours.get(paper.key)
        key = old.key if old is not None else _key_for(paper, keys)
        text = _entry_text(paper, os.path.relpath(pdf, folder), key, _about(version, licence))
        if old is not None:
            replaced[id(old)] = text
        else:
            keys.add(key)
            added.setdefault(paper.key, text)
    pieces = [replaced.get(id(b), b.raw) for b in lib.blocks] + list(added.values())
    os.makedirs(folder, exist_ok=True)
    write_atomic(path, ("\n\n".join(p.strip("\n") for p in pieces) + "\n").encode("utf-8"))


def _key_for(paper: Paper, taken: set[str]) -> str:
    """A new entry's citation key: the input entry's own, else `surnameYEARword`; told
    apart from the library's keys by a, b, c..."""
    written = paper.extra.get(BIBTEX_ENTRY)
    return _free(written[1], taken) if written and written[1] else _cite_key(paper, taken)


def _about(version: str | None, licence: str | None) -> list[tuple[str, str]]:
    """The `license` and `note` fields of the file's version and licence, when known."""
    out = [("license", licence)] if licence else []
    said = [f"{v} version" for v in [version_key(version)] if version] + (
        [f"licence {licence}"] if licence else [])
    return out + ([("note", "PDF: " + ", ".join(said))] if said else [])


def _entry_text(paper: Paper, pdf: str, key: str, about: list[tuple[str, str]] = ()) -> str:
    """The entry papers writes for `paper`, as BibTeX text (by bibtexparser). A paper
    from a BibTeX input keeps that entry's type and fields as written (journal, pages,
    month, the DOI's case...); only `file`, `papers_key` and, when known, the file's
    `license` and a `note` of its version are added (a `note` or `license` of the user's
    own stays as it is)."""
    import bibtexparser
    from bibtexparser.model import Entry, Field

    written = paper.extra.get(BIBTEX_ENTRY)
    ours = [("file", f":{pdf}:PDF"), (KEY_FIELD, paper.key)]
    if written:
        kind, _, fields = written
        own = {k.lower() for k, _ in fields}
        ours += [(k, v) for k, v in about if k not in own]
        keep = [Field(k, v) for k, v in fields if k.lower() not in ("file", KEY_FIELD)]
        entry = Entry(kind, key, keep + [Field(k, "{" + _braced(v) + "}") for k, v in ours])
        return bibtexparser.write_string(bibtexparser.Library([entry]), unparse_stack=[])
    fields = [("title", paper.title), ("author", " and ".join(paper.authors) or None),
              ("year", str(paper.year) if paper.year else None), ("doi", paper.doi),
              ("eprint", paper.arxiv), ("archiveprefix", "arXiv" if paper.arxiv else None),
              ("pmid", paper.pmid), ("pmcid", paper.pmcid),
              ("url", paper.urls[0] if paper.urls else None), *ours, *about]
    kind = "misc" if paper.arxiv and not paper.doi else "article"
    entry = Entry(kind, key, [Field(k, _braced(v)) for k, v in fields if v])
    return bibtexparser.write_string(bibtexparser.Library([entry]))


def _braced(value: str) -> str:
    # bibtexparser writes values between braces as they are: unbalanced ones would break the file.
    return value if value.count("{") == value.count("}") else value.replace("{", "").replace("}", "")


def _cite_key(paper: Paper, taken: set[str]) -> str:
    """`surnameYEARword`, ASCII, told apart from the library's keys by a, b, c..."""
    surname = paper.authors[0].split(",")[0] if paper.authors else ""
    word = next((w for w in re.findall(r"[A-Za-z]{4,}", paper.title or "")), "")
    base = _ascii(f"{surname.split()[-1] if surname.split() else ''}{paper.year or ''}{word}").lower()
    return _free(base or "paper" + re.sub(r"\W", "", paper.key)[-8:], taken)


def _free(base: str, taken: set[str]) -> str:
    """`base`, or `base` with a, b, c... when the library has it already."""
    key, n = base, 0
    while key in taken:
        n += 1
        key = base + _suffix(n)
    return key


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())


def _suffix(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(97 + r) + out
    return out
