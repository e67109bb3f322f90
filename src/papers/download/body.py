"""One response body on its way to the `.part`: the head judged, the magic sniffed, the
bytes hashed and written, progress reported."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from papers.disk.files import PDF_MAGIC, SIDECAR_AFTER, SNIFF_BYTES, hash_file, write_all
from papers.download.attempt import Attempt, Download, Result
from papers.download.blocked import ANY_STATUS, SNIFF, classify, reason, shown
from papers.download.dedupe import First, SameFiles
from papers.download.identity import TRAILER_BYTES
from papers.download.landing import MAX_PAGE_BYTES
from papers.errors import Cancelled, DiskError, ErrorKind, TransferError
from papers.net.head import Head
from papers.net.hosts import host_of
from papers.net.retry import TRANSIENT_STATUS, parse_retry_after
from papers.pipeline.messages import ProgressUpdate

PROGRESS_BYTES = 1 << 20  # coalesce progress: one message per MiB ...


PROGRESS_SECONDS = 0.25   # ... or per quarter second, whichever comes first


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """`bytes 100-199/1000` -> (100, 199, 1000); total None for `*`; None if malformed."""
    if not value:
        return None
    m = _CONTENT_RANGE.match(value)
    if not m:
        return None
    start, end = int(m.group(1)), int(m.group(2))
    total = None if m.group(3) == "*" else int(m.group(3))
    if end < start or (total is not None and end >= total):
        return None
    return start, end, total


def looks_like_html(head: bytes) -> bool:
    """True when a body's first bytes are an HTML (or XHTML) page."""
    lowered = head[:SNIFF_BYTES].lstrip().lower()
    return lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in lowered


def describe_not_pdf(head: bytes, content_type: str | None) -> str:
    """One line saying what the server sent instead of a PDF (`content_type`: its media type)."""
    ct = content_type or "no Content-Type"
    if looks_like_html(head):
        served = "" if ct == "text/html" else f" (served as {ct})"
        return (f"not a PDF: the server sent an HTML page{served} with no link to a PDF in it, "
                "likely a login page")
    if not head:
        return f"not a PDF: the server sent an empty body ({ct})"
    snippet = head[:24].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"not a PDF: the body starts with {snippet!r} ({ct})"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """What a body needs from the fetcher that asked for it: the size limit, the run's
    stop signal, where progress goes, the clock, and the run's files (for duplicates)."""

    max_size: int | None
    cancel: threading.Event
    emit: Callable[[Any], None]
    monotonic: Callable[[], float]
    same: SameFiles


class Body:
    """One response on its way to the `.part` file, or to memory if it is a landing page.

    The client hands it the head, then the decoded body chunk by chunk. It
    decides from the head (status, Content-Range, size) and from the first
    bytes (PDF or HTML) what to do; `verdict` ends the transfer early.
    """

    def __init__(self, limits: BodyLimits, dl: Download, url: str, have: int) -> None:
        self.limits = limits
        self.dl = dl
        self.url = url
        self.have = have                   # bytes of the .part we asked the server to skip
        self.verdict: Attempt | None = None  # decided before the end: stop reading
        self.discard = 0                   # bytes of an error page read to keep the connection
        self.refusal: bytearray | None = None  # an error page's first bytes, for its signs
        self.append = False
        self.total: int | None = None
        self.etag: str | None = None       # this response's validators
        self.last_modified: str | None = None
        self.content_type: str | None = None   # the media type, without parameters
        self.sniff = b""                   # the first bytes, until they show a PDF or not
        self.html: bytearray | None = None
        self.is_pdf = False
        self.file: Any = None
        self.hasher: Any = None
        self.written = 0
        self.tail = b""                    # the last TRAILER_BYTES written (identity.has_trailer)
        self.saved = False                 # the sidecar names this body's source (or the state does)
        self.pending = 0                   # bytes not yet reported as progress
        self.expect_left = 0               # of a large body, bytes announced and still to come
        self.last_emit = limits.monotonic()

    # -- the head ---------------------------------------------------------------
    def head(self, head: Head) -> None:
        self.etag, self.last_modified = head.get("etag"), head.get("last-modified")
        self.content_type = head.media_type()
        encoded = (head.get("content-encoding") or "identity").lower() not in ("identity", "")
        if encoded:
            self.etag = self.last_modified = None  # decoded bytes cannot be resumed by byte ranges
        self.verdict = self._judge(head, encoded)
        if self.verdict is None and self.total and self.total - self.have > PROGRESS_BYTES:
            # A large body: the bar's time remaining counts its bytes (small ones end first).
            self.expect_left = self.total - self.have
            self.limits.emit(ProgressUpdate(0, self.expect_left))
        if self.verdict is None and self.append:
            h, self.sniff = hash_file(self.dl.file.part, limit=self.have)
            self.hasher, self.written = h, self.have
            self.is_pdf = PDF_MAGIC in self.sniff

    def _judge(self, head: Head, encoded: bool) -> Attempt | None:
        """The verdict on a response from its head alone, or None to read the body."""
        status, have = head.status, self.have
        if status == 416:
            self.dl.file.drop_part()
            return Attempt(Result.RETRY_NOW, "the server refused to resume (416)")
        if status >= 400:
            self.refusal = bytearray()  # a wall says what it is in its page
            reason = f"HTTP {status} {head.reason or ''}".rstrip()
            if status in TRANSIENT_STATUS:
                return Attempt(Result.RETRY, reason, parse_retry_after(head.get("retry-after")))
            return Attempt(Result.PERMANENT, reason)
        if status not in (200, 206):
            return Attempt(Result.PERMANENT, f"unexpected HTTP {status} {head.reason or ''}".rstrip())
        if status == 206:
            cr = parse_content_range(head.get("content-range"))
            if not have or cr is None or cr[0] != have or encoded:
                self.dl.file.drop_part()
                return Attempt(Result.RETRY_NOW, "the server sent a range we did not ask for; restarting")
            self.append, self.total = True, cr[2]
        length = head.get("content-length")
        if self.total is None and length and length.isdigit() and not encoded:
            self.total = int(length)
        limit = self.limits.max_size
        if limit and self.total and self.total > limit:
            return self._reject(f"too large: {self.total} bytes is over --max-size {limit}", Result.TOO_LARGE)
        first = self.limits.same.by_url(head.url or self.url, self.dl.paper.key) if not have else None
        if first is not None and (self.total is None or self.total == first.size):
            return duplicate(first)  # the same final URL as a file of this run: no body read
        return None

    def _walled(self, head: Head, verdict: Attempt) -> Attempt:
        """An error status's verdict, named if its page is a wall: a challenge or a captcha
        at once (retrying cannot pass it); a rate limit or a login on a status that is
        retried (429, 503) is retried as before, and named if the tries run out."""
        where = head.url or self.url
        kind = classify(head.status, head.headers or {}, bytes(self.refusal or b""), where)
        if kind is None:
            return verdict
        if verdict.result is Result.RETRY and kind not in ANY_STATUS:
            verdict.blocked, verdict.host = kind, host_of(where)
            return verdict
        return walled(kind, host_of(where))

    def _reject(self, reason: str, result: Result = Result.PERMANENT) -> Attempt:
        self.dl.file.drop_part()
        return Attempt(result, reason)

    # -- the body -----------------------------------------------------------------
    def data(self, chunk: bytes) -> bool:
        if self.verdict is not None:
            # A short error page is cheaper to read than a new connection.
            if self.refusal is not None and len(self.refusal) < SNIFF:
                self.refusal += chunk[:SNIFF - len(self.refusal)]
            self.discard += len(chunk)
            return self.discard <= 64 * 1024
        if self.html is not None:
            self.html += chunk
            return len(self.html) < MAX_PAGE_BYTES
        if not self.is_pdf:
            return self._sniff(chunk)
        return self._write(chunk)

    def _sniff(self, chunk: bytes) -> bool:
        self.sniff += chunk
        if PDF_MAGIC in self.sniff[:SNIFF_BYTES + len(PDF_MAGIC)]:
            self.is_pdf = True
            buffered, self.sniff = self.sniff, self.sniff[:SNIFF_BYTES]
            return self._write(buffered)
        if len(self.sniff) < SNIFF_BYTES:
            return True
        if looks_like_html(self.sniff):
            self.html, self.sniff = bytearray(self.sniff), self.sniff[:SNIFF_BYTES]
            return len(self.html) < MAX_PAGE_BYTES
        self.verdict = self._reject(describe_not_pdf(self.sniff, self.content_type))
        return False

    def _write(self, chunk: bytes) -> bool:
        f = self.limits
        if f.cancel.is_set():
            raise Cancelled()
        if self.file is None:
            self._open()
        try:
            write_all(self.file, chunk)
        except OSError as e:
            raise DiskError(e) from e
        self.hasher.update(chunk)
        self.written += len(chunk)
        self.tail = chunk[-TRAILER_BYTES:] if len(chunk) >= TRAILER_BYTES \
            else (self.tail + chunk)[-TRAILER_BYTES:]
        self.pending += len(chunk)
        if self.written >= SIDECAR_AFTER and not self.saved:
            self.saved = True
            self.dl.file.save_source()
        limit = f.max_size
        if limit and self.written > limit:
            self.verdict = self._reject(f"too large: over --max-size {limit} bytes", Result.TOO_LARGE)
            return False
        now = f.monotonic()
        if self.pending >= PROGRESS_BYTES or now - self.last_emit >= PROGRESS_SECONDS:
            came = min(self.pending, self.expect_left)
            f.emit(ProgressUpdate(self.pending, -came))
            self.pending, self.last_emit, self.expect_left = 0, now, self.expect_left - came
        return True

    def _open(self) -> None:
        dl = self.dl
        try:
            fd = dl.file.open_part(self.append)
        except OSError as e:
            raise DiskError(e) from e
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.saved = self.append  # a resumed .part's source is on disk already
        if not self.append:
            dl.file.claim_part(self.url, self.etag, self.last_modified)
        if self.hasher is None:
            self.hasher = hashlib.sha256()

    # -- the end -------------------------------------------------------------------
    def close(self, keep: bool) -> None:
        """Close the `.part`: fsynced if its bytes are worth resuming, else removed."""
        self.dl.unreported += self.pending
        self.pending = 0
        if self.expect_left:  # none of it is still to come
            self.limits.emit(ProgressUpdate(0, -self.expect_left))
            self.expect_left = 0
        if self.file is None:
            return  # this response wrote nothing: an earlier .part stays as it was
        try:
            if keep:
                os.fsync(self.file.fileno())
        finally:
            self.file.close()
            self.file = None
        if not keep:
            self.dl.file.drop_part()

    def failed(self, e: TransferError) -> Attempt:
        """The transfer broke: keep what arrived of a PDF, so the next try resumes it."""
        self.close(keep=self.is_pdf and self.written > 0 and e.kind is not ErrorKind.PERMANENT)
        result = {ErrorKind.PERMANENT: Result.PERMANENT,
                  ErrorKind.UNREACHABLE: Result.UNREACHABLE}.get(e.kind, Result.RETRY)
        if result is Result.PERMANENT and e.reason.startswith("too large"):
            result = Result.TOO_LARGE  # libcurl's own --max-size check
        if result is Result.PERMANENT or (self.written and e.reason.startswith(("timed out", "too slow"))):
            return Attempt(result, e.reason)  # says all there is to say
        if self.written:
            of = f" of {self.total}" if self.total else ""
            return Attempt(result, f"connection broken after {self.written} bytes{of}: {e.reason}")
        return Attempt(result, e.reason)

    def finish(self, head: Head) -> Attempt:
        """The transfer ended: judge what came; a complete PDF is ready to be renamed."""
        if self.verdict is not None:
            self.close(keep=False)
            return self.verdict if self.refusal is None else self._walled(head, self.verdict)
        if not self.is_pdf:
            self.close(keep=False)
            if self.html is not None or looks_like_html(self.sniff):
                page = bytes(self.html if self.html is not None else self.sniff)
                # A wall is named if the page has no link to a PDF either (fetch decides).
                kind = classify(head.status, head.headers or {}, page, head.url or self.url)
                return Attempt(Result.LANDING, describe_not_pdf(self.sniff, self.content_type),
                               landing=page, page_url=head.url, charset=head.charset(),
                               blocked=kind, host=host_of(head.url or self.url) if kind else None)
            return self._reject(describe_not_pdf(self.sniff, self.content_type))
        if self.total is not None and self.written != self.total:
            self.close(keep=self.written < self.total)  # more than announced: start over
            return Attempt(Result.RETRY, f"truncated body: got {self.written} of {self.total} bytes")
        self.close(keep=True)
        # A resumed body's tail may begin in the bytes an earlier answer brought.
        tail = self.tail if not self.have or len(self.tail) >= TRAILER_BYTES else None
        return Attempt(Result.OK, nbytes=self.written, sha256=self.hasher.hexdigest(),
                       pdf_url=head.url, tail=tail)


def walled(kind: str, host: str) -> Attempt:
    """The attempt of a URL whose answer was a wall (`host`: its `scheme://host:port`)."""
    return Attempt(Result.BLOCKED, reason(kind, shown(host)), blocked=kind, host=host)


def duplicate(first: First, attempt: Attempt | None = None) -> Attempt:
    """A download that is `first`'s file: done, at its path, with nothing written."""
    return Attempt(Result.OK, nbytes=first.size, sha256=first.sha256,
                   pdf_url=attempt.pdf_url if attempt else first.url, path=first.path,
                   duplicate_of=first.id)
