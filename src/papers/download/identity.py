"""Is this PDF the paper that was asked for? The text of its first pages, judged.

`check` reads the document's metadata and the text layer of its first `PAGES` pages
with PDFium (pypdfium2: BSD/Apache, a C++ engine; pypdf and pdfminer.six were measured
too, bench/IDENTITY.md); `judge` is pure: it holds that text against the record's DOI
and title.

The rule, in order:
1. the record's DOI is in the text or the metadata's Subject or Keywords (line breaks
   ignored): `doi`;
2. the record's title is the document's Title: `title`;
3. less than `MIN_LETTERS` letters of text (a scan, an unreadable page): `unchecked`;
4. the record's title is in the text: `title`;
5. the record has a title that is not there: `mismatch`;
6. the record has only a DOI and the first page shows another one: `mismatch`;
7. else (nothing to hold the text against): `unchecked`.
Titles are compared as normalised words with rapidfuzz's `partial_ratio`, at least
`MIN_TITLE_SCORE`. A matching title outranks another DOI on the page (rule 4 before 6):
a preprint of the paper carries its own DOI, and a cover sheet or references cite
others. Page 2 is read only when the metadata and page 1 do not settle it (`SETTLED`).
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, replace

from papers.discovery.match import normalise
from papers.inputs.ids import normalise as normalise_id

PAGES = 2                 # a publisher's cover sheet may come first
MIN_LETTERS = 200         # fewer letters than a short abstract: no text layer to judge
TRAILER_BYTES = 4096      # where `startxref` must be (the spec says the last 1,024; some append)
MIN_TITLE_SCORE = 90      # rapidfuzz partial_ratio, 0-100 (tests/download/test_identity.py)

KINDS = ("doi", "title", "unchecked", "mismatch")
SETTLED = ("doi", "title")  # no later page can change these

_DOI_IN_TEXT = re.compile(r"10\.\d{4,9}/[^\s\"'<>\[\]{}]+", re.I)
_TRAILING = ".,;:)]}'\""
# PDFium is not thread-safe, not even across documents: one call at a time in the process.
_PDFIUM = threading.Lock()


@dataclass(frozen=True, slots=True)
class PdfText:
    """The text of a PDF's first pages, and the title its metadata gives."""

    pages: tuple[str, ...]
    title: str = ""      # the document's Title
    subject: str = ""    # its Subject and Keywords, where some publishers put the DOI


@dataclass(frozen=True, slots=True)
class Identity:
    """The verdict on one file: `kind` (KINDS), and what the file is when it is not ours."""

    kind: str
    doi: str | None = None       # a DOI the file shows, not the record's
    title: str | None = None     # the title the file seems to have

    @property
    def wrong(self) -> bool:
        return self.kind == "mismatch"

    def describe(self) -> str:
        """`the PDF is 10.x/other "Its Title"`, from what the file shows."""
        said = " ".join(p for p in (self.doi, f'"{self.title}"' if self.title else "") if p)
        return f"the PDF is {said}" if said else "the PDF is another paper"


def has_trailer(path: str, tail: bytes | None = None) -> bool:
    """Whether the file ends as a PDF does, with `startxref` in its last bytes (`tail`,
    when the caller has them, else read). A body that only starts like a PDF would cost
    PDFium a scan of the whole file to repair ("Identity check" in bench/AB.md)."""
    if tail is not None:
        return b"startxref" in tail[-TRAILER_BYTES:]
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - TRAILER_BYTES))
            return b"startxref" in f.read()
    except OSError:
        return False


def _page_text(doc, index: int) -> str:
    page = doc[index]
    try:
        textpage = page.get_textpage()
        try:
            return textpage.get_text_bounded()
        finally:
            textpage.close()
    finally:
        page.close()


def check(path: str, doi: str | None, title: str | None) -> Identity:
    """The verdict on the PDF at `path` for a record with `doi` and `title`: from its
    metadata alone when that settles it, else from page 1, else from pages 1 and 2
    (each page costs PDFium a parse of its fonts: "Identity check" in bench/AB.md)."""
    if not has_trailer(path):
        return Identity("unchecked")
    import pypdfium2

    with _PDFIUM:
        try:
            doc = pypdfium2.PdfDocument(path)
        except (pypdfium2.PdfiumError, OSError, ValueError):
            return Identity("unchecked")  # damaged past repair, encrypted, not a PDF after all
        try:
            return _verdict(doc, doi, title)
        except pypdfium2.PdfiumError:
            return Identity("unchecked")
        finally:
            doc.close()


def _verdict(doc, doi: str | None, title: str | None) -> Identity:
    meta = {k: str(doc.get_metadata_value(k) or "") for k in ("Title", "Subject", "Keywords")}
    text = PdfText((), meta["Title"], f"{meta['Subject']} {meta['Keywords']}".strip())
    verdict = judge(text, doi, title)
    for index in range(min(PAGES, len(doc))):
        if verdict.kind in SETTLED:
            break
        text = replace(text, pages=(*text.pages, _page_text(doc, index)))
        verdict = judge(text, doi, title)
    return verdict


def judge(text: PdfText | None, doi: str | None, title: str | None) -> Identity:
    """The verdict on `text` for a record with `doi` and `title` (the module's rule)."""
    if text is None:
        return Identity("unchecked")
    title = title if title and normalise(title) else None  # "???" is no title to look for
    whole = "\n".join(text.pages)
    if doi and doi.lower() in re.sub(r"\s+", "", f"{whole}\n{text.subject}").lower():
        return Identity("doi")
    if title and text.title and title_in(title, text.title):
        return Identity("title")
    if sum(ch.isalpha() for ch in whole) < MIN_LETTERS:
        return Identity("unchecked")
    if title and title_in(title, whole):
        return Identity("title")
    shown = _first_other_doi(text.pages[0] if text.pages else "", doi)
    if title or (doi and shown):
        return Identity("mismatch", shown, shown_title(text))
    return Identity("unchecked")


def title_in(title: str, text: str) -> bool:
    """Whether `title` is, word for word give or take a few letters, in `text` (line
    breaks, hyphenation, case, accents and ligatures aside)."""
    from rapidfuzz import fuzz

    hay = normalise(_unhyphenated(text))
    return bool(hay) and bool(fuzz.partial_ratio(normalise(title), hay, score_cutoff=MIN_TITLE_SCORE))


def _unhyphenated(text: str) -> str:
    # "Trans-\nformers" as typeset at a line's end is one word.
    return re.sub(r"(\w)-\s*\n\s*(\w)", r"\1\2", text)


def _first_other_doi(page: str, ours: str | None) -> str | None:
    for m in _DOI_IN_TEXT.finditer(page):
        found = normalise_id("doi", m.group(0).rstrip(_TRAILING))
        if found and (not ours or found.lower() != ours.lower()):
            return found
    return None


def shown_title(text: PdfText) -> str | None:
    """What the file's title seems to be: its metadata title when that reads as one,
    else the first line of the first page that reads as a title, with the lines after it
    that go on with it (a title set over two or three lines: they start in lower case)."""
    meta = " ".join(text.title.split())
    if len(meta.split()) >= 3 and not re.search(r"\.(docx?|tex|pdf)\b|untitled", meta, re.I):
        return meta[:120]
    lines = [" ".join(line.split()) for line in (text.pages[0] if text.pages else "").splitlines()]
    for i, line in enumerate(lines[:12]):
        if len(line.split()) >= 3 and not re.search(r"https?:|doi|\d{4}|©|journal", line, re.I):
            more = list(itertools.takewhile(lambda nxt: nxt[:1].islower(), lines[i + 1:i + 3]))
            return " ".join([line, *more])[:120]
    return None
