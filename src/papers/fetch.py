"""Download one paper: candidates in order, landing pages, retries, `.part` streaming, PDF checks.

Workers call `Fetcher.fetch`; it reports progress through the `emit` callback
(which puts QueueMessages on the results queue) and returns an Outcome. It
touches no shared state: only the paper's own `.part` and final file. The
bytes travel over libcurl (`curlclient.py`); a `_Body` takes one response.
"""

from __future__ import annotations

import enum
import errno
import hashlib
import json
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from papers.curlclient import CurlClient, Head, Limits
from papers.dedupe import First, SameFiles
from papers.errors import Cancelled, DiskError, ErrorKind, TransferError
from papers.hosts import HostLimiter, Reservation, host_of
from papers.landing import MAX_LANDING_HOPS, MAX_PAGE_BYTES, pdf_link
from papers.messages import Outcome, ProgressUpdate, Status
from papers.models import Paper, candidate_urls
from papers.redact import redacted
from papers.naming import Namer, url_derived, with_hash
from papers.netconf import NetConfig
from papers.retry import TRANSIENT_STATUS, RetryPolicy, parse_retry_after
from papers.planner import Fetch
from papers.state import PaperRecord, iso

log = logging.getLogger("papers")

SNIFF_BYTES = 1024        # the PDF magic must appear within this many bytes
PDF_MAGIC = b"%PDF-"
PROGRESS_BYTES = 1 << 20  # coalesce progress: one message per MiB ...
PROGRESS_SECONDS = 0.25   # ... or per quarter second, whichever comes first
SIDECAR_AFTER = 256 * 1024  # a body this far along gets its source written beside its .part
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$", re.I)


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """What the fetcher needs from the settings."""

    timeout: float = 30.0
    max_size: int | None = None
    chunk_size: int = 256 * 1024
    min_speed: int | None = None      # bytes/s over min_speed_window, else abort (drip-feeders)
    min_speed_window: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    net: NetConfig = field(default_factory=NetConfig)
    doi_resolver: str | None = "https://doi.org"  # the last resort for a paper with a DOI
    namer: Namer | None = None        # names a paper whose name depends on the URL that delivers it
    metadata: bool = False            # write NAME.json beside each PDF


class Result(enum.Enum):
    """How one HTTP request for one URL ended."""

    OK = "ok"                    # the PDF is at its final name
    RETRY = "retry"              # the server's trouble: try again after a delay
    RETRY_NOW = "retry now"      # e.g. a refused resume: restart at once
    PERMANENT = "permanent"      # retrying will not help
    TOO_LARGE = "too large"      # over --max-size: retried by a run with a higher limit
    LANDING = "landing"          # an HTML page that may point at the PDF
    UNREACHABLE = "unreachable"  # not in this run (no DNS): no retries now, but next run
    FATAL = "fatal"              # our disk cannot take writes: stop the run


_FINAL = {Result.OK, Result.PERMANENT, Result.TOO_LARGE, Result.LANDING, Result.UNREACHABLE,
          Result.FATAL}
_NOT_THE_SERVERS_FAULT = {Result.OK, Result.PERMANENT, Result.TOO_LARGE, Result.LANDING, Result.FATAL}
_PERMANENT = (Result.PERMANENT, Result.TOO_LARGE, Result.LANDING)


@dataclass(slots=True)
class Attempt:
    """What one HTTP request for one URL achieved."""

    result: Result = Result.RETRY
    reason: str = ""
    retry_after: float | None = None
    nbytes: int = 0
    sha256: str | None = None
    pdf_url: str | None = None        # where the bytes finally came from (after redirects)
    landing: bytes | None = None      # a landing page (Result.LANDING) ...
    page_url: str | None = None       # ... its final URL, to resolve its links against
    charset: str | None = None
    landing_page: str | None = None   # the last landing page that led to the PDF
    path: str | None = None           # Result.OK: where the file now is
    duplicate_of: str | None = None   # Result.OK: the same file as this paper's (no copy written)


@dataclass(frozen=True, slots=True)
class PartSource:
    """Where the bytes of a `.part` came from: what a Range request needs to resume it."""

    url: str
    etag: str | None = None
    last_modified: str | None = None

    @property
    def validator(self) -> str | None:
        """The If-Range value: the ETag, else the Last-Modified date."""
        return self.etag or self.last_modified


class _Download:
    """One paper's download, as pip's `_FileDownload`: its files, what its `.part`
    holds, and what it has cost so far. Made by `Fetcher.fetch`; one worker thread.

    `PATH.part.json` beside the `.part` names its source once a body has passed
    SIDECAR_AFTER bytes, so a run killed by `kill -9` (no state record for the paper
    yet) resumes it with Range + If-Range instead of starting over. A smaller body
    costs less to fetch again than a sidecar costs every file ("Sidecar" in
    bench/RESULTS.md).
    """

    def __init__(self, job: Fetch, started: float) -> None:
        self.paper, self.path = job.paper, job.path
        self.part = job.path + ".part"
        self.sidecar = self.part + ".json"
        self.final_may_exist = job.final_may_exist
        self.part_may_exist = job.part_may_exist
        self.started = started
        self.attempts = 0                 # HTTP requests made
        self.unreported = 0               # bytes received but not yet sent as progress
        self.tried: list[tuple[str, Attempt]] = []
        self.candidate = ""               # the candidate URL being tried
        self.sidecar_may_exist = job.part_may_exist
        self.source = self._source(job.prior) if job.part_may_exist else None

    def _source(self, prior: PaperRecord | None) -> PartSource | None:
        try:
            with open(self.sidecar, "rb") as f:
                saved = json.loads(f.read(1 << 16))
            return PartSource(str(saved["url"]), saved.get("etag"), saved.get("last_modified"))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none, or torn by a crash: the state record may still say
        if prior is not None and prior.url and (prior.etag or prior.last_modified):
            return PartSource(prior.url, prior.etag, prior.last_modified)
        return None

    def resumable_bytes(self, url: str) -> int:
        """The size of the `.part` if it holds `url`'s bytes with a validator, else 0."""
        if self.source is None or self.source.url != url or not self.source.validator:
            return 0
        try:
            st = os.lstat(self.part)
        except OSError:
            return 0
        if not stat.S_ISREG(st.st_mode):
            self.drop_part()  # a planted symlink (or anything odd) is never written through
            return 0
        return st.st_size

    def claim_part(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """A new body is going into the `.part`: remember where it comes from."""
        self.part_may_exist = True
        self.source = PartSource(url, etag, last_modified) if etag or last_modified else None
        if self.sidecar_may_exist:
            _remove(self.sidecar)  # an older body's
            self.sidecar_may_exist = False

    def save_source(self) -> None:
        """Write the `.part`'s source to its sidecar (the OS has it: it survives kill -9)."""
        if self.source is None:
            return
        data = json.dumps({"url": self.source.url, "etag": self.source.etag,
                           "last_modified": self.source.last_modified}).encode()
        try:
            fd = os.open(self.sidecar, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o644)
            self.sidecar_may_exist = True
            with os.fdopen(fd, "wb") as f:
                _write_all(f, data)
        except OSError as e:
            raise DiskError(e) from e

    def drop_part(self) -> None:
        """Remove the `.part` and its sidecar: their bytes cannot be resumed."""
        if self.part_may_exist:
            _remove(self.part)
        self._drop_sidecar()

    def finish_part(self, final: str) -> None:
        """The `.part` is complete and checked: give it its final name, `final`."""
        os.replace(self.part, final)
        self._drop_sidecar()

    def final_path(self, candidate: str, namer: Namer | None) -> str:
        """Where the file goes when `candidate` delivered it: the planned path, unless the
        name comes from the URL (a name never comes from a candidate that failed)."""
        if namer is None or not self.paper.urls or candidate == self.paper.urls[0] \
                or not url_derived(self.paper, namer.template):
            return self.path
        path = namer.path(self.paper, candidate)
        return with_hash(path, self.paper) if path != self.path and os.path.exists(path) else path

    def _drop_sidecar(self) -> None:
        self.source = None
        if self.sidecar_may_exist:
            _remove(self.sidecar)
            self.sidecar_may_exist = False

    def validators_for(self, url: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) of a kept `.part` of `url`, for the state record."""
        if self.source is not None and self.source.url == url:
            return self.source.etag, self.source.last_modified
        return None, None


def url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be fetched as it is written, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        return f"{e} in {url[:200]!r}"
    return None if parts.hostname else f"no host name in {url[:200]!r}"


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


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _open_part(part: str, append: bool, absent: bool = False) -> int:
    nofollow = _NOFOLLOW
    if append:
        return os.open(part, os.O_WRONLY | os.O_APPEND | nofollow)
    if not absent:
        try:
            os.unlink(part)
        except FileNotFoundError:
            pass
    # O_EXCL|O_NOFOLLOW: a symlink planted at the .part name cannot redirect the write.
    return os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o644)


def _write_all(f: Any, data: bytes) -> None:
    """Write all of `data`: a raw write may take only part of it (a filling disk)."""
    view = memoryview(data)
    while view:
        n = f.write(view)
        if not n:
            raise OSError(errno.ENOSPC, "No space left on device")
        view = view[n:]


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _hash_file(path: str, h: Any | None = None, limit: int | None = None) -> tuple[Any, bytes]:
    """Hash a file (optionally only its first `limit` bytes); return the hasher and its head."""
    h = h or hashlib.sha256()
    head = b""
    remaining = limit
    with open(path, "rb") as f:
        while True:
            n = 1 << 20 if remaining is None else min(1 << 20, remaining)
            if n == 0:
                break
            block = f.read(n)
            if not block:
                break
            if len(head) < SNIFF_BYTES:
                head += block[:SNIFF_BYTES - len(head)]
            h.update(block)
            if remaining is not None:
                remaining -= len(block)
    return h, head


class _Body:
    """One response on its way to the `.part` file, or to memory if it is a landing page.

    The client hands it the head, then the decoded body chunk by chunk. It
    decides from the head (status, Content-Range, size) and from the first
    bytes (PDF or HTML) what to do; `verdict` ends the transfer early.
    """

    def __init__(self, fetcher: "Fetcher", dl: _Download, url: str, have: int) -> None:
        self.fetcher = fetcher
        self.dl = dl
        self.url = url
        self.have = have                   # bytes of the .part we asked the server to skip
        self.verdict: Attempt | None = None  # decided before the end: stop reading
        self.discard = 0                   # bytes of an error page read to keep the connection
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
        self.saved = False                 # the sidecar names this body's source (or the state does)
        self.pending = 0                   # bytes not yet reported as progress
        self.expect_left = 0               # of a large body, bytes announced and still to come
        self.last_emit = fetcher.monotonic()

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
            self.fetcher.emit(ProgressUpdate(0, self.expect_left))
        if self.verdict is None and self.append:
            h, self.sniff = _hash_file(self.dl.part, limit=self.have)
            self.hasher, self.written = h, self.have
            self.is_pdf = PDF_MAGIC in self.sniff

    def _judge(self, head: Head, encoded: bool) -> Attempt | None:
        """The verdict on a response from its head alone, or None to read the body."""
        status, have = head.status, self.have
        if status == 416:
            self.dl.drop_part()
            return Attempt(Result.RETRY_NOW, "the server refused to resume (416)")
        if status >= 400:
            reason = f"HTTP {status} {head.reason or ''}".rstrip()
            if status in TRANSIENT_STATUS:
                return Attempt(Result.RETRY, reason, parse_retry_after(head.get("retry-after")))
            return Attempt(Result.PERMANENT, reason)
        if status not in (200, 206):
            return Attempt(Result.PERMANENT, f"unexpected HTTP {status} {head.reason or ''}".rstrip())
        if status == 206:
            cr = parse_content_range(head.get("content-range"))
            if not have or cr is None or cr[0] != have or encoded:
                self.dl.drop_part()
                return Attempt(Result.RETRY_NOW, "the server sent a range we did not ask for; restarting")
            self.append, self.total = True, cr[2]
        length = head.get("content-length")
        if self.total is None and length and length.isdigit() and not encoded:
            self.total = int(length)
        limit = self.fetcher.config.max_size
        if limit and self.total and self.total > limit:
            return self._reject(f"too large: {self.total} bytes is over --max-size {limit}", Result.TOO_LARGE)
        first = self.fetcher.same.by_url(head.url or self.url, self.dl.paper.key) if not have else None
        if first is not None and (self.total is None or self.total == first.size):
            return _duplicate(first)  # the same final URL as a file of this run: no body read
        return None

    def _reject(self, reason: str, result: Result = Result.PERMANENT) -> Attempt:
        self.dl.drop_part()
        return Attempt(result, reason)

    # -- the body -----------------------------------------------------------------
    def data(self, chunk: bytes) -> bool:
        if self.verdict is not None:
            # A short error page is cheaper to read than a new connection.
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
        f = self.fetcher
        if f.cancel.is_set():
            raise Cancelled()
        if self.file is None:
            self._open()
        try:
            _write_all(self.file, chunk)
        except OSError as e:
            raise DiskError(e) from e
        self.hasher.update(chunk)
        self.written += len(chunk)
        self.pending += len(chunk)
        if self.written >= SIDECAR_AFTER and not self.saved:
            self.saved = True
            self.dl.save_source()
        limit = f.config.max_size
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
            try:
                fd = _open_part(dl.part, self.append, absent=not dl.part_may_exist)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(dl.part), exist_ok=True)  # a --name template's folder
                fd = _open_part(dl.part, self.append, absent=True)
        except OSError as e:
            raise DiskError(e) from e
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.saved = self.append  # a resumed .part's source is on disk already
        if not self.append:
            dl.claim_part(self.url, self.etag, self.last_modified)
        if self.hasher is None:
            self.hasher = hashlib.sha256()

    # -- the end -------------------------------------------------------------------
    def close(self, keep: bool) -> None:
        """Close the `.part`: fsynced if its bytes are worth resuming, else removed."""
        self.dl.unreported += self.pending
        self.pending = 0
        if self.expect_left:  # none of it is still to come
            self.fetcher.emit(ProgressUpdate(0, -self.expect_left))
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
            self.dl.drop_part()

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
            return self.verdict
        if not self.is_pdf:
            self.close(keep=False)
            if self.html is not None or looks_like_html(self.sniff):
                return Attempt(Result.LANDING, describe_not_pdf(self.sniff, self.content_type),
                               landing=bytes(self.html if self.html is not None else self.sniff),
                               page_url=head.url, charset=head.charset())
            return self._reject(describe_not_pdf(self.sniff, self.content_type))
        if self.total is not None and self.written != self.total:
            self.close(keep=self.written < self.total)  # more than announced: start over
            return Attempt(Result.RETRY, f"truncated body: got {self.written} of {self.total} bytes")
        self.close(keep=True)
        return Attempt(Result.OK, nbytes=self.written, sha256=self.hasher.hexdigest(), pdf_url=head.url)


class Fetcher:
    """Fetches papers to disk. One instance serves all workers; each thread has its own handle."""

    def __init__(self, config: FetchConfig, limiter: HostLimiter, cancel: threading.Event,
                 emit: Callable[[ProgressUpdate], None],
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.limiter = limiter
        self.cancel = cancel
        self.emit = emit
        self.clock = clock
        self.monotonic = monotonic
        self._client: CurlClient | None = None
        self._client_lock = threading.Lock()
        self.same = SameFiles()  # this run's files, by bytes and by final URL

    @property
    def client(self) -> CurlClient:
        """The libcurl client (a handle per worker thread), made on first use."""
        with self._client_lock:
            if self._client is None:
                cfg = self.config
                self._client = CurlClient(cfg.net, Limits(
                    timeout=cfg.timeout, min_speed=cfg.min_speed, window=cfg.min_speed_window,
                    max_size=cfg.max_size, buffer_size=cfg.chunk_size), self.cancel, self.monotonic)
            return self._client

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()

    # -- one paper -------------------------------------------------------------
    def fetch(self, job: Fetch, reservation: Reservation | None = None,
              lookup_error: str | None = None) -> Outcome:
        """Get `job.paper` to `job.path`, trying its candidate URLs in order.

        Returns an Outcome with status downloaded, skipped (a complete file was
        already there), failed, or interrupted (the run is stopping); bytes not yet
        reported as progress ride on it. `reservation` is a connection slot the
        scheduler took for the first host. `lookup_error` says why the scholarly
        sources named no candidate.
        """
        return self.attempt(job, reservation, lookup_error)[0]

    def attempt(self, job: Fetch, reservation: Reservation | None = None,
                lookup_error: str | None = None) -> tuple[Outcome, list[tuple[str, Attempt]]]:
        """`fetch`, and the candidates that failed in this call, with why."""
        dl = _Download(job, self.clock())
        outcome = self._fetch(dl, reservation, lookup_error or job.lookup_error, job)
        return outcome, dl.tried

    def _fetch(self, dl: _Download, reservation: Reservation | None,
               lookup_error: str | None, job: Fetch) -> Outcome:
        urls = candidate_urls(dl.paper, self.config.doi_resolver if job.doi_fallback else None)
        if not urls:
            return self._outcome(dl, Status.FAILED, None, error=lookup_error or dl.paper.problem
                                 or "no PDF URL to try")
        existing = self._adopt_existing(dl, urls[0]) if dl.final_may_exist else None
        if existing is not None:
            return existing
        for url in urls:
            if dl.source is None or dl.source.url != url:
                dl.drop_part()  # its bytes, if any, came from elsewhere: they cannot be resumed here
            dl.candidate = url
            try:
                attempt = self._fetch_candidate(dl, url, reservation)
            except Cancelled:
                # Abandoned mid-way: keep the .part and say how to resume it.
                return self._outcome(dl, Status.INTERRUPTED, url, error="interrupted")
            if attempt.result is Result.FATAL:
                return self._outcome(dl, Status.FAILED, url, error=attempt.reason, fatal=True)
            if attempt.result is Result.OK:
                outcome = self._outcome(dl, Status.DOWNLOADED, url, path=attempt.path, bytes=attempt.nbytes,
                                        sha256=attempt.sha256, pdf_url=attempt.pdf_url,
                                        landing_page=attempt.landing_page,
                                        duplicate_of=attempt.duplicate_of,
                                        version=(job.versions or {}).get(url))
                if self.config.metadata and not attempt.duplicate_of:
                    write_metadata(dl.paper, outcome)
                return outcome
            dl.tried.append((url, attempt))
            if len(urls) > 1:
                log.info("%s: candidate %s failed: %s", dl.paper.id, url, attempt.reason)
        tried = [*job.earlier, *dl.tried]  # with the candidates other sources named before
        error = self._explain(tried, dl.paper.id)
        permanent = all(a.result in _PERMANENT for _, a in tried)
        too_large = any(a.result is Result.TOO_LARGE for _, a in tried)
        return self._outcome(dl, Status.FAILED, dl.tried[-1][0], permanent=permanent,
                             size_limit=self.config.max_size if too_large else None,
                             error=f"{lookup_error}; then {error}" if lookup_error else error)

    def _outcome(self, dl: _Download, status: Status, url: str | None, **kw: Any) -> Outcome:
        """The paper's Outcome; a failure carries the validators of a kept `.part`."""
        if status in (Status.FAILED, Status.INTERRUPTED) and url:
            kw["etag"], kw["last_modified"] = dl.validators_for(url)
        return Outcome(status=status, url=url, attempts=dl.attempts, started=dl.started,
                       finished=self.clock(), unreported=dl.unreported, **kw)

    @staticmethod
    def _explain(tried: list[tuple[str, Attempt]], paper_id: str) -> str:
        if len(tried) == 1:
            url, a = tried[0]
            return a.reason if url == paper_id else f"{a.reason} (tried {url})"
        parts = "; ".join(f"{url}: {a.reason}" for url, a in tried)
        return f"all {len(tried)} candidate URLs failed: {parts}"

    def _adopt_existing(self, dl: _Download, url: str) -> Outcome | None:
        # A final-named file only ever comes from os.replace after every check, so
        # one that exists is complete: it was renamed but not recorded (crash, lost
        # state). Take it instead of fetching it again.
        try:
            h, head = _hash_file(dl.path)
        except OSError:
            return None
        if PDF_MAGIC not in head:
            return None
        return self._outcome(dl, Status.SKIPPED, url, path=dl.path, bytes=os.path.getsize(dl.path),
                             sha256=h.hexdigest())

    def _fetch_candidate(self, dl: _Download, url: str, reservation: Reservation | None) -> Attempt:
        """Try one candidate URL, following at most MAX_LANDING_HOPS landing pages to the PDF."""
        target, page = url, None
        for hop in range(MAX_LANDING_HOPS + 1):
            attempt = self._fetch_url(dl, target, reservation)
            if attempt.result is not Result.LANDING:
                attempt.landing_page = page
                return attempt
            link = pdf_link(attempt.landing or b"", attempt.page_url or target, attempt.charset)
            if link is None:
                return attempt  # its reason says that no PDF link was on the page
            if hop == MAX_LANDING_HOPS:
                break
            log.info("%s: landing page %s points to %s", url, attempt.page_url, link)
            target, page = link, attempt.page_url
        return Attempt(Result.PERMANENT, f"landing pages led on more than {MAX_LANDING_HOPS} "
                                         f"times, never to a PDF (last: {target})")

    def _fetch_url(self, dl: _Download, url: str, reservation: Reservation | None = None) -> Attempt:
        """Try one URL with retries; return the last attempt."""
        if not url.lower().startswith(("http://", "https://")):
            scheme = url.split(":", 1)[0] if ":" in url else url
            return Attempt(Result.PERMANENT, f"unsupported URL scheme {scheme!r} (only http and https)")
        malformed = url_problem(url)
        if malformed:
            return Attempt(Result.PERMANENT, f"malformed URL: {malformed}")
        policy = self.config.policy
        n = retry = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            host = host_of(url)
            held = reservation is not None and reservation.take(host)
            with self.limiter.slot(host, held=held):
                attempt = self._request(dl, url)
            n += 1
            dl.attempts += 1
            # Only the server's own trouble counts against it (not a 404, not our disk).
            self.limiter.report(host, ok=attempt.result in _NOT_THE_SERVERS_FAULT)
            if attempt.result in _FINAL:
                return attempt
            if attempt.result is Result.RETRY_NOW and n <= policy.max_retries + 2:
                continue  # a refused resume is not the server's fault: restart at once
            if retry >= policy.max_retries:
                if policy.max_retries:
                    attempt.reason += f" (after {n} attempts)"
                return attempt
            delay = policy.delay(retry, attempt.retry_after)
            if attempt.retry_after is not None:
                self.limiter.pause(host, delay)
            log.info("retrying %s in %.1fs: %s", url, delay, attempt.reason)
            retry += 1
            if self.cancel.wait(delay):
                raise Cancelled()

    def _request(self, dl: _Download, url: str) -> Attempt:
        """One GET: stream the body into the `.part` and, if all is well, rename it."""
        have = dl.resumable_bytes(url)
        headers = {}
        if have and dl.source is not None:
            headers["Range"] = f"bytes={have}-"
            # If-Range: the server sends the whole new file (200) if it changed.
            headers["If-Range"] = dl.source.validator or ""
            # Ranges count stored bytes: ask for them as stored, not re-encoded.
            headers["Accept-Encoding"] = "identity"
        body = _Body(self, dl, url, have)
        try:
            head = self.client.get(url, headers, body)
        except TransferError as e:
            return body.failed(e)
        except Cancelled:
            body.close(keep=body.is_pdf)
            raise
        except DiskError as e:
            body.close(keep=body.is_pdf)
            return _disk_failure(dl.part, e.__cause__ or e)
        try:
            attempt = body.finish(head)
        except OSError as e:
            return _disk_failure(dl.part, e)
        if attempt.result is not Result.OK or attempt.duplicate_of:
            return attempt
        attempt.path = dl.final_path(dl.candidate, self.config.namer)
        first = self.same.claim(First(dl.paper.key, dl.paper.id, attempt.path, attempt.nbytes,
                                      attempt.sha256 or "", attempt.pdf_url or url))
        if first is not None:  # the same bytes as another paper's file: no second copy
            dl.drop_part()
            return _duplicate(first, attempt)
        try:
            dl.finish_part(attempt.path)
        except OSError as e:
            return Attempt(Result.RETRY, f"cannot rename {dl.part} to its final name: {e.strerror}")
        # The directory fsync that makes the rename durable is grouped: the result
        # processor does one before the state records a batch of downloads.
        return attempt


def _duplicate(first: First, attempt: Attempt | None = None) -> Attempt:
    """A download that is `first`'s file: done, at its path, with nothing written."""
    return Attempt(Result.OK, nbytes=first.size, sha256=first.sha256,
                   pdf_url=attempt.pdf_url if attempt else first.url, path=first.path,
                   duplicate_of=first.id)


def metadata_record(paper: Paper, outcome: Outcome) -> dict[str, Any]:
    """What `--metadata json` writes beside a PDF: the paper's merged record, and where
    and when its bytes came from. Secrets in URLs are masked."""
    rec: dict[str, Any] = {"id": redacted(paper.id), "doi": paper.doi, "arxiv": paper.arxiv,
                           "pmid": paper.pmid, "pmcid": paper.pmcid, "title": paper.title,
                           "authors": list(paper.authors), "year": paper.year}
    rec.update({k: v for k, v in paper.extra.items() if k not in rec and not k.startswith("_")})
    rec.update({"file": os.path.basename(outcome.path or ""), "bytes": outcome.bytes,
                "sha256": outcome.sha256, "url": redacted(outcome.url),
                "pdf_url": redacted(outcome.pdf_url), "landing_page": redacted(outcome.landing_page),
                "downloaded": iso(outcome.finished)})
    return {k: v for k, v in rec.items() if v not in (None, [], "")}


def write_metadata(paper: Paper, outcome: Outcome) -> None:
    """NAME.json beside NAME.pdf, replaced whole (a reader never sees half of it)."""
    path = os.path.splitext(outcome.path or "")[0] + ".json"
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metadata_record(paper, outcome), f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:  # the PDF is safe; say so rather than fail the paper
        log.warning("%s: cannot write %s (%s)", paper.id, path, e.strerror)
        _remove(tmp)


def _disk_failure(part: str, err: BaseException) -> Attempt:
    """Our side cannot write: the paper stays resumable, nothing is half-renamed."""
    fatal = getattr(err, "errno", None) in _DISK_ERRNOS
    return Attempt(Result.FATAL if fatal else Result.RETRY,
                   f"cannot write {part}: {getattr(err, 'strerror', None) or err}")


# Errors that will hit every other paper too: stop the run instead of failing them all.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


__all__ = ["Fetcher", "FetchConfig", "Cancelled", "host_of", "parse_content_range", "describe_not_pdf"]
