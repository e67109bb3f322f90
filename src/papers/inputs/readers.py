"""Read papers from arguments, files and stdin, lazily.

Formats: plain text (one PAPER per line, blank lines and `#` comments ignored), a
JSON array of records or strings, a JSON object `{"papers": [...]}`, JSON Lines, and
the exports of reference managers: BibTeX, RIS, CSV and TSV (bibliographies.py). The format
comes from `--format`, else the file's extension, else its first content line. Text,
JSON Lines and JSON arrays are read incrementally, so a list of a million papers
never sits in memory whole.
"""

from __future__ import annotations

import codecs
import functools
import io
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from itertools import chain
from typing import Any, BinaryIO, TextIO

from papers.errors import InputError, reading
from papers.inputs.records import paper_from_record, paper_from_text
from papers.model import MAX_PAPER, Paper, year_of

log = logging.getLogger("papers")

_CHUNK = 1 << 16
MAX_LINE = 1 << 20    # bytes in one input line before it is passed over, unread


def _item_to_paper(item: Any, where: str) -> Paper:
    """A JSON element as a paper; one that is neither a record nor a string fails alone."""
    if isinstance(item, str):
        return paper_from_text(item)
    if isinstance(item, dict):
        return _entry_paper(item, where)
    shown = json.dumps(item)
    return junk(where, "expected a paper record (JSON object) or a string, got "
                       f"{type(item).__name__} {shown[:40]}{'…' if len(shown) > 40 else ''}")


FORMATS = ("text", "json", "jsonl", "bibtex", "ris", "csv", "tsv")
_BY_EXTENSION = {".bib": "bibtex", ".bibtex": "bibtex", ".ris": "ris", ".csv": "csv", ".tsv": "tsv",
                 ".tab": "tsv"}
_BIBTEX_START = re.compile(r"^@\s*[A-Za-z]+\s*[{(]")
_BIBTEX_NOT_ENTRIES = (b"@string", b"@comment", b"@preamble")


def read_stream(stream: TextIO, name: str, fmt: str | None = None,
                column: str | None = None) -> Iterator[Paper]:
    """Yield the papers in `stream`. Its format is `fmt` if given, else its name's
    extension says it, else its first content line. `column`: a CSV/TSV column of papers."""
    try:
        yield from _read_stream(stream, name, fmt, column)
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _read_stream(stream: TextIO, name: str, fmt: str | None, column: str | None) -> Iterator[Paper]:
    head: list[str] = []
    first = ""
    for line in stream:
        head.append(line)
        if line.strip():
            first = line.strip()
            break
    if not first:
        return
    fmt = fmt or _BY_EXTENSION.get(os.path.splitext(name)[1].lower()) or _sniff(first)
    lines = chain(head, stream)
    if fmt in ("bibtex", "ris", "csv", "tsv"):
        yield from _bibliography(lines, name, fmt, column)
    elif fmt == "json" or (fmt is None and first.startswith("[")):
        if first.startswith("["):
            yield from _json_array(lines, name)
        else:
            yield from _json_document("".join(lines), name)
    elif fmt == "jsonl" or (fmt is None and first.startswith("{")):
        yield from _json_object_or_lines(first, head, stream, name, forced=fmt == "jsonl")
    else:
        yield from _text_lines(lines, name)


def _text_lines(lines: Iterable[str], name: str) -> Iterator[Paper]:
    """One PAPER a line; blank lines and `#` comments skipped."""
    for lineno, line in enumerate(lines, 1):
        s = line.strip()
        if s and s[0] != "#":
            yield paper_from_text(s) if len(s) <= MAX_PAPER else _too_long(name, lineno, len(s))
        elif type(line) is LongLine:
            yield _too_long(name, lineno, line.length)


def _too_long(name: str, lineno: int, length: int) -> Paper:
    return junk(f"{name}:{lineno}", f"a line of {length:,} characters, not a paper")


def _sniff(first: str) -> str | None:
    """A format told by a file's first content line, or None (text or JSON)."""
    if _BIBTEX_START.match(first):
        return "bibtex"
    if first.lstrip("\ufeff").startswith("TY  - "):
        return "ris"
    from papers.inputs.bibliographies import COLUMNS

    known = {n for names in COLUMNS.values() for n in names}
    for fmt, sep in (("tsv", "\t"), ("csv", ",")):
        cells = [re.sub(r"[\s_\-\"]+", "", c.lower()) for c in first.split(sep)]
        if len(cells) > 1 and known & set(cells):
            return fmt
    return None


def _json_object_or_lines(first: str, head: list[str], stream: TextIO, name: str,
                          forced: bool) -> Iterator[Paper]:
    try:
        obj = json.loads(first)
    except json.JSONDecodeError:
        obj = None
    if forced or (isinstance(obj, dict) and not _is_wrapper(obj)):
        yield from _json_lines(chain(head, stream), name)
    else:
        yield from _json_document("".join(head) + stream.read(), name)


def _bibliography(lines: Iterator[str], name: str, fmt: str, column: str | None) -> Iterator[Paper]:
    """Papers from a BibTeX, RIS, CSV or TSV file; an entry that cannot be read, or that
    names no paper, is a failed paper with the file and line, and the rest goes on."""
    from papers.inputs import bibliographies as formats

    if fmt == "bibtex":
        entries = formats.bibtex_entries("".join(lines))
    elif fmt == "ris":
        entries = formats.ris_entries(lines, name)  # type: ignore[arg-type]
    else:
        entries = formats.csv_entries(lines, "\t" if fmt == "tsv" else ",", column)  # type: ignore[arg-type]
    try:
        for line, entry in entries:
            yield _entry_paper(entry, f"{name}:{line}")
    except InputError as e:  # said with the file's name, once
        raise InputError(str(e) if str(e).startswith(f"{name}:") else f"{name}: {e}") from None


def _entry_paper(entry: dict[str, Any] | str, where: str) -> Paper:
    if isinstance(entry, str):
        return junk(where, entry)
    if "paper" in entry:  # the --column cell: a PAPER string, with the row's metadata
        text = entry.pop("paper")
        paper = paper_from_text(text)
        return replace(paper, title=entry.get("title") or paper.title,
                       authors=tuple(entry.get("authors") or paper.authors),
                       year=year_of(entry.get("year")) or paper.year)
    paper = paper_from_record(entry)
    if paper.problem:
        return replace(paper, key=f"junk:{where}", id=where, problem=f"{where}: {paper.problem}")
    bad = [k for k in ("doi", "arxiv", "pmid", "pmcid") if entry.get(k) and not getattr(paper, k)]
    if bad:
        log.warning("%s: %s %r is not a valid %s; using its %s", where, bad[0], entry[bad[0]],
                    bad[0].upper() if bad[0] != "arxiv" else "arXiv ID",
                    "URL" if paper.urls else "other identifiers")
    return paper


def _is_wrapper(obj: dict) -> bool:
    return isinstance(obj.get("papers"), list)


def _json_lines(lines: Iterable[str], name: str) -> Iterator[Paper]:
    """One record a line; a line that is not one is a failed paper, and the rest goes on."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            if type(line) is LongLine:
                yield _too_long(name, lineno, line.length)
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as e:
            yield junk(f"{name}:{lineno}", f"malformed JSON: {e.msg} (column {e.pos + 1})")
            continue
        yield _item_to_paper(item, f"{name}:{lineno}")


def _json_document(text: str, name: str) -> Iterator[Paper]:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{name}:{e.lineno}: malformed JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict) or not _is_wrapper(obj):
        raise InputError(f'{name}: a JSON object must look like {{"papers": [...]}}')
    for i, item in enumerate(obj["papers"]):
        yield _item_to_paper(item, f"{name}: papers[{i}]")


def _json_array(lines: Iterator[str], name: str) -> Iterator[Paper]:
    """Stream the elements of a top-level JSON array without loading it whole."""
    for item, line in _ArrayReader(lines, name).items():
        yield _item_to_paper(item, f"{name}:{line}")


class _ArrayReader:
    """The elements of a JSON array read from `lines` a chunk at a time: `json`'s
    raw_decode parses each element; this only steps over the brackets and commas."""

    def __init__(self, lines: Iterator[str], name: str) -> None:
        self.lines, self.name = lines, name
        self.decoder = json.JSONDecoder()
        self.buf = ""
        self.base_line = 1  # line number of buf[0]
        self.pos = 0
        self.eof = False
        self._counted, self._line = 0, 1  # newlines are counted up to buf[_counted]: its line

    def items(self) -> Iterator[tuple[Any, int]]:
        """(element, its line number) for each element, in order."""
        self.more()
        if self.skip_ws() != "[":
            raise self.fail("expected '['")
        self.pos += 1
        if self.skip_ws() == "]":
            self.pos += 1
        else:
            while True:
                if not self.skip_ws():
                    raise self.fail("unexpected end of input inside the array")
                yield self.element(), self.line_at(self.pos)
                c = self.skip_ws()
                self.pos += 1
                if c == "]":
                    break
                if c != ",":
                    self.pos -= 1
                    raise self.fail("expected ',' or ']' after an array element" if c else
                                    "unexpected end of input inside the array")
        if self.skip_ws():
            raise self.fail("extra data after the JSON array")

    def element(self) -> Any:
        while True:
            try:
                item, end = self.decoder.raw_decode(self.buf, self.pos)
                break
            except json.JSONDecodeError as e:
                # The element may just be cut by the chunk boundary: read more and retry.
                if not self.more():
                    raise self.fail(e.msg, e.pos) from None
        if end == len(self.buf) and not self.eof:
            # A number at the buffer's end could still continue.
            self.more()
            item, end = self.decoder.raw_decode(self.buf, self.pos)
        self.pos = end
        return item

    def more(self) -> bool:
        """Read the next chunk into the buffer; False at the end of the input."""
        if self.eof:
            return False
        # Drop what has been consumed, keeping line numbers right.
        self.base_line = self.line_at(self.pos)
        self.buf, self.pos = self.buf[self.pos:], 0
        self._counted, self._line = 0, self.base_line
        got: list[str] = []
        size = 0
        for line in self.lines:
            got.append(line)
            size += len(line)
            if size >= _CHUNK:
                break
        else:
            self.eof = True
        self.buf += "".join(got)
        return bool(got) or not self.eof

    def skip_ws(self) -> str:
        """Step over whitespace; the next character, or "" at the end of the input."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def line_at(self, pos: int) -> int:
        """The line of `buf[pos]`, counting on from the last position asked about (counting
        from the buffer's start each time made a long array quadratic: "JSON array input"
        in bench/AB.md)."""
        if pos < self._counted:
            return self.base_line + self.buf.count("\n", 0, pos)
        self._line += self.buf.count("\n", self._counted, pos)
        self._counted = pos
        return self._line

    def fail(self, msg: str, at: int | None = None) -> InputError:
        line = self.line_at(self.pos if at is None else at)
        return InputError(f"{self.name}:{line}: malformed JSON: {msg}")


class LongLine(str):
    """A line too long to be read (over MAX_LINE bytes), passed over unread: an empty
    string that knows how long the line was."""

    length: int

    def __new__(cls, length: int) -> "LongLine":
        line = super().__new__(cls, "")
        line.length = length
        return line


class DecodedLines:
    """The lines of a binary stream, decoded strictly: UTF-8 unless a byte-order mark
    says UTF-8 or UTF-16, or `encoding` is given. A byte that does not decode is an
    InputError naming its line, with a hint; a line over MAX_LINE bytes comes as a
    `LongLine` (its bytes are never held whole). Iterate it, or `read()` it all."""

    def __init__(self, raw: BinaryIO, name: str, encoding: str | None = None) -> None:
        self.raw, self.name = raw, name
        head = raw.peek(4)[:4] if hasattr(raw, "peek") else b""
        if encoding is None and head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            encoding = "utf-16"
        elif encoding is None and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        self.encoding = codecs.lookup(encoding or "utf-8").name
        self.shown = encoding or ("UTF-16" if self.encoding.startswith("utf-16") else "UTF-8")
        self._lines = self._read()

    def __iter__(self) -> Iterator[str]:
        return self._lines

    def read(self) -> str:
        return "".join(self._lines)

    def _read(self) -> Iterator[str]:
        encoding = self.encoding
        if encoding.startswith("utf-16"):  # two bytes a character: no line splits on bytes
            readline = io.TextIOWrapper(self.raw, encoding=encoding).readline
            for line in iter(functools.partial(readline, MAX_LINE), ""):
                yield LongLine(len(line) + self._skip_rest(readline)) if len(line) == MAX_LINE \
                    and line[-1:] != "\n" else line
            return
        if encoding == "utf-8-sig":
            self.raw.read(3)
            encoding = "utf-8"
        readline = self.raw.readline
        # A line at a time, so that an undecodable byte is told by its line: about a
        # quarter of a second per million lines over TextIOWrapper ("Input decoding"
        # in bench/AB.md).
        for lineno, line in enumerate(iter(functools.partial(readline, MAX_LINE), b""), 1):
            if len(line) == MAX_LINE and line[-1:] != b"\n":
                yield LongLine(len(line) + self._skip_rest(readline))
                continue
            try:
                yield line.decode(encoding)
            except UnicodeDecodeError as e:
                raise InputError(self._undecodable(lineno, line, e)) from None

    @staticmethod
    def _skip_rest(readline: Any) -> int:
        """Read past the rest of an over-long line; how much of it there was."""
        n = 0
        while (chunk := readline(MAX_LINE)):
            n += len(chunk)
            if chunk[-1:] in ("\n", b"\n"):
                break
        return n

    def _undecodable(self, lineno: int, line: bytes, e: UnicodeDecodeError) -> str:
        hint = ("; if it is a spreadsheet's export, try --encoding latin-1 (or cp1252)"
                if self.shown == "UTF-8" else "")
        return (f"{self.name}:{lineno}: not {self.shown} text (byte 0x{line[e.start]:02x} "
                f"at column {e.start + 1}){hint}")


def open_input(path: str, stdin: TextIO, encoding: str | None = None) -> tuple[Any, str]:
    """Open an input source ('-' is stdin) as decoded lines, with a name for messages."""
    if path == "-":
        raw = getattr(stdin, "buffer", None)
        return (stdin if raw is None else DecodedLines(raw, "<stdin>", encoding)), "<stdin>"
    with reading(path, InputError):
        return DecodedLines(open(path, "rb"), path, encoding), path


def iter_papers(args: Iterable[str], files: Iterable[str], stdin: TextIO, fmt: str | None = None,
                column: str | None = None, encoding: str | None = None) -> Iterator[Paper]:
    """All papers from PAPER arguments, then each input file in order, lazily. `fmt`
    forces the files' format; `column` picks a CSV/TSV column; `encoding` is the files'
    (and stdin's) text encoding, if not UTF-8."""
    for a in args:
        yield _argument_paper(a)
    for path in files:
        stream, name = open_input(path, stdin, encoding)
        try:
            yield from read_stream(stream, name, fmt, column)
        finally:
            raw = getattr(stream, "raw", None)
            if raw is not None and raw is not getattr(stdin, "buffer", None):
                raw.close()


def _argument_paper(arg: str) -> Paper:
    try:
        arg.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8, kept by the OS as surrogates
        shown = arg.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return junk(f"argument {shown[:80]!r}", "not UTF-8 text")
    return paper_from_text(arg)


def junk(where: str, reason: str) -> Paper:
    """A paper that the input names wrongly, shown as `where`: it fails with `reason`,
    said with its place so that the error stands alone in `--json` output too."""
    return Paper(key=f"junk:{where}", id=where, problem=f"{where}: {reason}")


def estimate_count(args: Iterable[str], files: Iterable[str], limit_bytes: int = 256 << 20) -> int | None:
    """A quick guess of how many papers the input holds, for the progress bar.

    Counts arguments and the content lines of regular text / JSON Lines files;
    None when a source cannot be counted cheaply (stdin, JSON documents, huge files).
    """
    n = len(list(args))
    for path in files:
        if path == "-":
            return None
        try:
            if os.path.getsize(path) > limit_bytes:
                return None
            with open(path, "rb") as f:
                first = b""
                count = 0
                kind = None
                for line in f:
                    s = line.strip()
                    if not s or s.startswith(b"#"):
                        continue
                    if not first:
                        first = s
                        # A JSON document (array, or an object over several lines) is
                        # not one paper per line: no cheap count.
                        if s.startswith(b"[") or (s.startswith(b"{") and not s.endswith(b"}")):
                            return None
                        kind = _BY_EXTENSION.get(os.path.splitext(path)[1].lower()) \
                            or _sniff(s.decode("utf-8", "replace"))
                        if kind in ("csv", "tsv"):
                            continue  # the header row
                    if kind == "bibtex":
                        count += s.startswith(b"@") and not s.lower().startswith(_BIBTEX_NOT_ENTRIES)
                    elif kind == "ris":
                        count += s.startswith(b"TY  -")
                    else:
                        count += 1
        except OSError:
            return None  # open_input reports it properly
        n += count
    return n
