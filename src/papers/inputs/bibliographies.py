"""Reference-manager exports as paper records: BibTeX (bibtexparser), RIS (rispy), and
CSV/TSV (the csv module). Each yields `(line, record)` pairs, or `(line, problem)` for an
entry that cannot be read, so that a malformed entry is reported with its line and
the rest goes on. Records have the fields `paper_from_record` reads.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from typing import Any, TextIO

from papers.errors import InputError
from papers.inputs.ids import ID_KINDS, normalise

log = logging.getLogger("papers")

#: The record field that carries a BibTeX input entry as written: (type, key, fields).
BIBTEX_ENTRY = "_bibtex"

Entry = tuple[int, dict[str, Any] | str]  # (line, record) or (line, why it cannot be read)

#: CSV/TSV header names found by themselves (compared lower-cased, without spaces,
#: dashes and underscores), by the record field they fill.
COLUMNS = {
    "doi": ("doi",),
    "pdf_url": ("pdfurl", "pdf", "pdflink", "fulltexturl", "fulltext"),
    "url": ("url", "link", "articleurl", "href"),
    "arxiv": ("arxiv", "arxivid", "eprint"),
    "pmid": ("pmid", "pubmedid"),
    "pmcid": ("pmcid", "pmc"),
    "title": ("title", "articletitle"),
    "authors": ("authors", "author"),
    "year": ("year", "publicationyear", "pubyear"),
}
_FOLD = re.compile(r"[\s_\-]+")


def bibtex_entries(text: str) -> Iterator[Entry]:
    """The entries of a BibTeX file: `@string` macros resolved, LaTeX accents decoded."""
    import bibtexparser
    from bibtexparser import middlewares as mw

    quiet_bibtexparser()
    lib = bibtexparser.parse_string(text, parse_stack=[mw.ResolveStringReferencesMiddleware()])
    if all(isinstance(b, bibtexparser.model.ImplicitComment) for b in lib.blocks):
        # Text, and no @block in it at all: not BibTeX (a file of @comments is, empty).
        raise InputError("no BibTeX entry in it (@article{...}); is it BibTeX? "
                         "(--format names the format when the extension misleads)")
    # Each entry as written (macros resolved, values still enclosed), for --bibtex to
    # keep; then the values read as text.
    as_written = {e.start_line: (e.entry_type, e.key, [(f.key, f.value) for f in e.fields])
                  for e in lib.entries}
    for middleware in (mw.RemoveEnclosingMiddleware(), mw.LatexDecodingMiddleware(),
                       mw.SeparateCoAuthors(), mw.SplitNameParts()):
        lib = middleware.transform(lib)
    blocks = sorted([*lib.entries, *lib.failed_blocks], key=lambda b: b.start_line)
    for block in blocks:
        line = block.start_line + 1
        if not hasattr(block, "fields_dict"):
            yield line, f"malformed BibTeX entry: {_first_line(getattr(block, 'error', None))}"
            continue
        record = _bibtex_record({f.key.lower(): f.value for f in block.fields})
        record[BIBTEX_ENTRY] = as_written.get(block.start_line)
        yield line, record


def quiet_bibtexparser() -> None:
    """bibtexparser logs several lines of its own for each block it cannot parse; papers
    says one line for each instead (with the file and line), so its logger is muted."""
    muted = logging.getLogger("bibtexparser")
    if not muted.handlers:  # its modules' loggers hand their records up to this one
        muted.addHandler(logging.NullHandler())
    muted.propagate = False


def _bibtex_record(fields: dict[str, Any]) -> dict[str, Any]:
    rec: dict[str, Any] = {k: fields[k] for k in ("doi", "url", "title", "year", "pmid", "pmcid")
                           if isinstance(fields.get(k), str) and fields[k].strip()}
    eprint = fields.get("eprint")
    prefix = str(fields.get("archiveprefix") or fields.get("eprinttype") or "").lower()
    if isinstance(eprint, str) and (prefix == "arxiv" or normalise("arxiv", eprint)):
        rec["arxiv"] = eprint
    authors = fields.get("author")
    if isinstance(authors, list):
        rec["authors"] = [_name(a) for a in authors if _name(a)]
    if "title" in rec:
        title = re.sub(r"\$([^$]*)\$", lambda m: re.sub(r"[_^{}\\]", "", m.group(1)), rec["title"])
        rec["title"] = re.sub(r"[{}]", "", title)  # case-protecting braces; math as plain text
    return rec


def _name(parts: Any) -> str:
    """`Last, First` from bibtexparser's NameParts."""
    last = " ".join([*getattr(parts, "von", []), *getattr(parts, "last", [])])
    first = " ".join(getattr(parts, "first", []))
    return re.sub(r"[{}]", "", f"{last}, {first}" if first else last).strip(", ")


def ris_entries(stream: TextIO, name: str = "") -> Iterator[Entry]:
    """The entries of a RIS file (Zotero, EndNote, Mendeley exports), in file order.

    rispy reads each entry, from its `TY  -` line to its `ER  -` line, and tells the
    tags apart. A run of lines outside any entry is one problem, at its first line. An
    entry cut short (no `ER  -` before the end) is read as it stands, with a warning."""
    import rispy

    parser = rispy.RisParser()
    entry: list[str] = []
    start, stray_at = 0, -1
    n = 0
    for n, line in enumerate(stream, 1):
        tag = parser.parse_line(line)[0]
        if entry:
            entry.append(line)
            if tag == parser.END_TAG:
                yield start, _ris_record(parser.parse_lines(iter(entry))[0])
                entry = []
        elif tag == parser.START_TAG:
            entry, start = [line], n
        elif line.strip().lstrip("\ufeff"):
            if n != stray_at + 1:  # one stray run of lines is reported once
                yield n, (f"malformed RIS entry: {line.strip()[:60]!r} "
                          "is outside an entry (no TY line before it)")
            stray_at = n
    if entry:
        log.warning("%s%d: the last RIS entry has no 'ER  -' line (is the file cut short?); "
                    "it is read as it stands", f"{name}:" if name else "line ", start)
        yield start, _ris_record(parser.parse_lines(iter([*entry, "ER  - \n"]))[0])


def _ris_record(rec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rec.get("doi"):
        out["doi"] = rec["doi"]
    pdfs = [rec[k] for k in sorted(rec) if k.startswith("file_attachments") and isinstance(rec[k], str)]
    urls = [u for u in rec.get("urls", []) if isinstance(u, str)]
    if pdfs:
        out["pdf_urls"] = pdfs
    if urls:
        out["url"] = urls[0]
    an = str(rec.get("accession_number") or "").strip()
    for kind in ID_KINDS:
        if an and kind not in out and normalise(kind, an) and not an.isdigit():
            out[kind] = an
    if an.isdigit():
        out["pmid"] = an  # PubMed exports put the PMID in AN
    title = rec.get("title") or rec.get("primary_title")
    if title:
        out["title"] = title
    authors = rec.get("authors") or rec.get("first_authors")
    if authors:
        out["authors"] = authors
    year = rec.get("year") or rec.get("publication_year") or rec.get("date")
    if year:
        out["year"] = str(year)[:4]
    return out


def csv_entries(stream: TextIO, dialect: str, column: str | None) -> Iterator[Entry]:
    """The rows of a CSV (`dialect` ","), or TSV ("\\t"), file with a header row. Known
    columns are found by their names; `column` names the one with the papers."""
    reader = csv.reader(stream, delimiter=dialect)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InputError(f"line 1: malformed header: {e}") from None
    fields = _columns(header, column)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield reader.line_num, f"malformed row: {e}"
            continue
        if not any(cell.strip() for cell in row):
            continue
        rec = {field: row[i].strip() for i, field in fields if i < len(row) and row[i].strip()}
        if "authors" in rec:
            rec["authors"] = _author_cell(rec["authors"])
        yield reader.line_num, rec


def _author_cell(cell: str) -> list[str]:
    """The names in one CSV cell: `A; B`, `A and B`, or Google Scholar's `H Zhang, CX Liu`
    (a comma splits only when every part is a whole name, not `Zhang, Haijun`)."""
    parts = [a.strip() for a in re.split(r";|\band\b", cell) if a.strip()]
    if len(parts) == 1 and "," in cell:
        names = [a.strip() for a in cell.split(",") if a.strip()]
        if len(names) > 1 and all(" " in n for n in names):
            return names
    return parts


def _columns(header: list[str], column: str | None) -> list[tuple[int, str]]:
    folded = [_FOLD.sub("", h.strip().lower()) for h in header]
    fields = []
    for field, names in COLUMNS.items():
        i = next((i for i, h in enumerate(folded) if h in names), None)
        if i is not None:
            fields.append((i, field))
    if column is not None:
        if column not in header:
            raise InputError(f"no column named {column!r} (the header has: {', '.join(header)})")
        fields = [(i, f) for i, f in fields if header[i] != column] + [(header.index(column), "paper")]
    if not any(f in ("doi", "url", "pdf_url", "arxiv", "pmid", "pmcid", "paper") for _, f in fields):
        raise InputError("no column of papers found (named like doi, url, pdf_url, arxiv, pmid "
                         f"or pmcid; the header has: {', '.join(header)}); pick one with --column NAME")
    return fields


def _first_line(error: Any) -> str:
    text = (getattr(error, "abort_reason", None) or str(error or "")).strip().splitlines()
    return text[0].strip().rstrip(".") if text and text[0].strip() else "syntax error"
