"""Download one paper: candidates in order, landing pages, retries, `.part` streaming, PDF checks.

Workers call `Fetcher.fetch`; it reports progress through the `emit` callback
(which puts QueueMessages on the results queue) and returns an Outcome. It
touches no shared state: only the paper's own `.part` and final file. The
bytes travel over libcurl (`curlclient.py`); a `_Body` takes one response.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from papers.curlclient import CurlClient, Head, Limits
from papers.errors import Cancelled, DiskError, ErrorKind, TransferError
from papers.hosts import HostLimiter, Reservation, host_of
from papers.landing import MAX_LANDING_HOPS, MAX_PAGE_BYTES, charset_of, pdf_link
from papers.messages import Outcome, ProgressUpdate, Status
from papers.models import Paper, candidate_urls
from papers.netconf import NetConfig
from papers.retry import TRANSIENT_STATUS, RetryPolicy, parse_retry_after
from papers.state import PaperRecord

log = logging.getLogger("papers")

SNIFF_BYTES = 1024        # the PDF magic must appear within this many bytes
PDF_MAGIC = b"%PDF-"
PROGRESS_BYTES = 1 << 20  # coalesce progress: one message per MiB ...
PROGRESS_SECONDS = 0.25   # ... or per quarter second, whichever comes first
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


@dataclass(slots=True)
class Attempt:
    """What one HTTP request for one URL achieved."""

    ok: bool = False
    permanent: bool = False
    reason: str = ""
    retry_after: float | None = None
    retry_now: bool = False           # e.g. a resume was refused: restart at once
    unreachable: bool = False         # not in this run (no DNS): no retries now, but next run
    wrote_part: bool = False          # this response's bytes are in the .part (validators apply)
    fatal: bool = False               # our disk cannot take writes: stop the run
    nbytes: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    pdf_url: str | None = None        # where the bytes finally came from (after redirects)
    landing: bytes | None = None      # an HTML page that may point at the PDF ...
    page_url: str | None = None       # ... and its final URL, to resolve its links against
    charset: str | None = None
    landing_page: str | None = None   # the last landing page that led to the PDF


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
    """One line saying what the server sent instead of a PDF."""
    ct = (content_type or "no Content-Type").split(";")[0].strip()
    if looks_like_html(head):
        served = "" if ct == "text/html" else f" (served as {ct})"
        return (f"not a PDF: the server sent an HTML page{served} with no link to a PDF in it, "
                "likely a login page")
    if not head:
        return f"not a PDF: the server sent an empty body ({ct})"
    snippet = head[:24].decode("latin-1").encode("unicode_escape").decode("ascii")
    return f"not a PDF: the body starts with {snippet!r} ({ct})"


def _open_part(part: str, append: bool, absent: bool = False) -> int:
    nofollow = getattr(os, "O_NOFOLLOW", 0)
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

    def __init__(self, fetcher: "Fetcher", part: str, have: int) -> None:
        self.fetcher = fetcher
        self.part = part
        self.have = have                   # bytes of the .part we asked the server to skip
        self.attempt = Attempt()           # validators and result of this response
        self.verdict: Attempt | None = None  # decided before the end: stop reading
        self.discard = 0                   # bytes of an error page read to keep the connection
        self.append = False
        self.total: int | None = None
        self.content_type: str | None = None
        self.sniff = b""                   # the first bytes, until they show a PDF or not
        self.html: bytearray | None = None
        self.is_pdf = False
        self.file: Any = None
        self.hasher: Any = None
        self.written = 0
        self.pending = 0                   # bytes not yet reported as progress
        self.last_emit = fetcher.monotonic()

    # -- the head ---------------------------------------------------------------
    def head(self, head: Head) -> None:
        a = self.attempt
        a.etag, a.last_modified = head.get("etag"), head.get("last-modified")
        self.content_type = head.get("content-type")
        encoded = (head.get("content-encoding") or "identity").lower() not in ("identity", "")
        if encoded:
            a.etag = a.last_modified = None  # decoded bytes cannot be resumed by byte ranges
        self.verdict = self._judge(head, encoded)
        if self.verdict is None and self.append:
            h, self.sniff = _hash_file(self.part, limit=self.have)
            self.hasher, self.written = h, self.have
            self.is_pdf = PDF_MAGIC in self.sniff

    def _judge(self, head: Head, encoded: bool) -> Attempt | None:
        """The verdict on a response from its head alone, or None to read the body."""
        status, have = head.status, self.have
        if status == 416:
            _remove(self.part)
            return Attempt(reason="the server refused to resume (416)", retry_now=True)
        if status >= 400:
            reason = f"HTTP {status} {head.reason or ''}".rstrip()
            if status in TRANSIENT_STATUS:
                return Attempt(reason=reason, retry_after=parse_retry_after(head.get("retry-after")))
            return Attempt(permanent=True, reason=reason)
        if status not in (200, 206):
            return Attempt(permanent=True, reason=f"unexpected HTTP {status} {head.reason or ''}".rstrip())
        if status == 206:
            cr = parse_content_range(head.get("content-range"))
            if not have or cr is None or cr[0] != have or encoded:
                _remove(self.part)
                return Attempt(reason="the server sent a range we did not ask for; restarting",
                               retry_now=True)
            self.append, self.total = True, cr[2]
        length = head.get("content-length")
        if self.total is None and length and length.isdigit() and not encoded:
            self.total = int(length)
        limit = self.fetcher.config.max_size
        if limit and self.total and self.total > limit:
            _remove(self.part)
            return Attempt(permanent=True, reason=f"too large: {self.total} bytes is over --max-size {limit}")
        return None

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
        self.verdict = Fetcher._reject(self.part, describe_not_pdf(self.sniff, self.content_type))
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
        limit = f.config.max_size
        if limit and self.written > limit:
            self.verdict = Fetcher._reject(self.part, f"too large: over --max-size {limit} bytes")
            return False
        now = f.monotonic()
        if self.pending >= PROGRESS_BYTES or now - self.last_emit >= PROGRESS_SECONDS:
            f.emit(ProgressUpdate(self.pending))
            self.pending, self.last_emit = 0, now
        return True

    def _open(self) -> None:
        tl = self.fetcher._tl
        try:
            fd = _open_part(self.part, self.append, absent=not tl.part_may_exist)
        except OSError as e:
            raise DiskError(e) from e
        tl.part_may_exist = True
        self.attempt.wrote_part = True
        self.file = os.fdopen(fd, "wb", buffering=0)
        if self.hasher is None:
            self.hasher = hashlib.sha256()

    # -- the end -------------------------------------------------------------------
    def close(self, keep: bool) -> None:
        """Close the `.part`: fsynced if its bytes are worth resuming, else removed."""
        self.fetcher._tl.unreported += self.pending
        self.pending = 0
        if self.file is None:
            return
        try:
            if keep:
                os.fsync(self.file.fileno())
        finally:
            self.file.close()
            self.file = None
        if not keep:
            _remove(self.part)

    def validators(self) -> tuple[str | None, str | None] | None:
        """The validators that make the kept `.part` resumable, if any."""
        if self.is_pdf and (self.attempt.etag or self.attempt.last_modified):
            return self.attempt.etag, self.attempt.last_modified
        return None

    def failed(self, e: TransferError) -> Attempt:
        """The transfer broke: keep what arrived of a PDF, so the next try resumes it."""
        a = self.attempt
        keep = self.is_pdf and self.written > 0 and e.kind is not ErrorKind.PERMANENT
        self.close(keep)
        a.wrote_part = a.wrote_part and keep
        a.permanent = e.kind is ErrorKind.PERMANENT
        a.unreachable = e.kind is ErrorKind.UNREACHABLE
        if a.permanent or (self.written and e.reason.startswith(("timed out", "too slow"))):
            a.reason = e.reason  # says all there is to say
        elif self.written:
            of = f" of {self.total}" if self.total else ""
            a.reason = f"connection broken after {self.written} bytes{of}: {e.reason}"
        else:
            a.reason = e.reason
        return a

    def finish(self, head: Head) -> Attempt:
        """The transfer ended: judge what came, and rename a complete PDF to `path`."""
        if self.verdict is not None:
            self.close(keep=False)
            if self.verdict.retry_now or self.verdict.wrote_part:
                self.verdict.etag = self.verdict.last_modified = None
            return self.verdict
        if not self.is_pdf:
            self.close(keep=False)
            if self.html is not None or looks_like_html(self.sniff):
                return Attempt(landing=bytes(self.html if self.html is not None else self.sniff),
                               page_url=head.url, charset=charset_of(self.content_type),
                               reason=describe_not_pdf(self.sniff, self.content_type), permanent=True)
            return Fetcher._reject(self.part, describe_not_pdf(self.sniff, self.content_type))
        a = self.attempt
        if self.total is not None and self.written != self.total:
            over = self.written > self.total
            self.close(keep=not over)
            if over:
                a.etag = a.last_modified = None
            a.reason = f"truncated body: got {self.written} of {self.total} bytes"
            return a
        self.close(keep=True)
        a.ok, a.nbytes, a.sha256, a.pdf_url = True, self.written, self.hasher.hexdigest(), head.url
        return a


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
        self._tl = threading.local()

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
    def fetch(self, paper: Paper, path: str, prior: PaperRecord | None = None,
              reservation: Reservation | None = None, on_disk: tuple[bool, bool] = (True, True),
              lookup_error: str | None = None) -> Outcome:
        """Get `paper` to `path`; see `_fetch`. Bytes not yet reported ride on the outcome.

        `on_disk` says whether the final file and its `.part` may exist (False:
        known absent at the start of the run), which saves syscalls per paper.
        `lookup_error` says why the scholarly sources named no candidate.
        """
        self._tl.unreported = 0
        self._tl.final_may_exist, self._tl.part_may_exist = on_disk
        outcome = self._fetch(paper, path, prior, reservation, lookup_error)
        if self._tl.unreported:
            outcome = replace(outcome, unreported=self._tl.unreported)
        return outcome

    def _fetch(self, paper: Paper, path: str, prior: PaperRecord | None,
               reservation: Reservation | None, lookup_error: str | None) -> Outcome:
        """Get `paper` to `path`, trying its candidate URLs in order.

        Returns an Outcome with status downloaded, skipped (a complete file was
        already there), failed, or interrupted (the run is stopping).
        `reservation` is a connection slot the scheduler took for the first host.
        """
        started = self.clock()
        urls = candidate_urls(paper, self.config.doi_resolver)
        if not urls:
            return Outcome(status=Status.FAILED, error=lookup_error or paper.problem or "no PDF URL to try",
                           started=started, finished=self.clock())
        existing = self._adopt_existing(path, urls[0], started) if self._tl.final_may_exist else None
        if existing is not None:
            return existing
        tried: list[tuple[str, Attempt]] = []
        attempts = 0
        validators: dict[str, tuple[str | None, str | None]] = {}
        if prior and prior.url and (prior.etag or prior.last_modified):
            validators[prior.url] = (prior.etag, prior.last_modified)
        part = path + ".part"
        last_url_with_part: str | None = prior.url if prior else None
        for url in urls:
            if last_url_with_part != url and url not in validators and self._tl.part_may_exist:
                # The .part (if any) came from another URL: its bytes cannot be resumed here.
                _remove(part)
            try:
                result, n = self._fetch_candidate(url, path, validators, reservation)
            except Cancelled as stop:
                # Abandoned mid-way: keep the .part and say how to resume it.
                etag, last_modified = (stop.args[0] if stop.args and stop.args[0]
                                       else validators.get(url, (None, None)))
                return Outcome(status=Status.INTERRUPTED, url=url, attempts=attempts, started=started,
                               finished=self.clock(), error="interrupted",
                               etag=etag, last_modified=last_modified)
            attempts += n
            if result.fatal:
                return Outcome(status=Status.FAILED, url=url, attempts=attempts, started=started,
                               finished=self.clock(), error=result.reason, fatal=True)
            if result.ok:
                return Outcome(status=Status.DOWNLOADED, path=path, bytes=result.nbytes,
                               sha256=result.sha256, url=url, pdf_url=result.pdf_url,
                               landing_page=result.landing_page,
                               attempts=attempts, started=started, finished=self.clock())
            tried.append((url, result))
            last_url_with_part = url
            if len(urls) > 1:
                log.info("%s: candidate %s failed: %s", paper.id, url, result.reason)
        last_url = tried[-1][0]
        etag, last_modified = validators.get(last_url, (None, None))
        error = self._explain(tried)
        return Outcome(status=Status.FAILED, url=last_url, attempts=attempts, started=started,
                       finished=self.clock(), permanent=all(a.permanent for _, a in tried),
                       error=f"{lookup_error}; then {error}" if lookup_error else error,
                       etag=etag, last_modified=last_modified)

    @staticmethod
    def _explain(tried: list[tuple[str, Attempt]]) -> str:
        if len(tried) == 1:
            url, a = tried[0]
            return f"{a.reason} (tried {url})"
        parts = "; ".join(f"{url}: {a.reason}" for url, a in tried)
        return f"all {len(tried)} candidate URLs failed: {parts}"

    def _adopt_existing(self, path: str, url: str, started: float) -> Outcome | None:
        # A final-named file only ever comes from os.replace after every check, so
        # one that exists is complete: it was renamed but not recorded (crash, lost
        # state). Take it instead of fetching it again.
        try:
            h, head = _hash_file(path)
        except OSError:
            return None
        if PDF_MAGIC not in head:
            return None
        size = os.path.getsize(path)
        return Outcome(status=Status.SKIPPED, path=path, bytes=size, sha256=h.hexdigest(),
                       url=url, attempts=0, started=started, finished=self.clock())

    def _fetch_candidate(self, url: str, path: str,
                         validators: dict[str, tuple[str | None, str | None]],
                         reservation: Reservation | None) -> tuple[Attempt, int]:
        """Try one candidate URL, following at most MAX_LANDING_HOPS landing pages to the PDF."""
        target, n, page = url, 0, None
        for hop in range(MAX_LANDING_HOPS + 1):
            attempt, used = self._fetch_url(target, path, validators, reservation)
            n += used
            if attempt.landing is None:
                attempt.landing_page = page
                return attempt, n
            link = pdf_link(attempt.landing, attempt.page_url or target, attempt.charset)
            if link is None:
                return attempt, n  # its reason says that no PDF link was on the page
            if hop == MAX_LANDING_HOPS:
                break
            log.info("%s: landing page %s points to %s", url, attempt.page_url, link)
            target, page = link, attempt.page_url
        return Attempt(permanent=True, reason=f"landing pages led on more than {MAX_LANDING_HOPS} "
                                              f"times, never to a PDF (last: {target})"), n

    def _fetch_url(self, url: str, path: str, validators: dict[str, tuple[str | None, str | None]],
                   reservation: Reservation | None = None) -> tuple[Attempt, int]:
        """Try one URL with retries; return the last attempt and the number of requests."""
        if not url.lower().startswith(("http://", "https://")):
            scheme = url.split(":", 1)[0] if ":" in url else url
            return Attempt(permanent=True, reason=f"unsupported URL scheme {scheme!r} (only http and https)"), 0
        policy = self.config.policy
        n = retry = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            host = host_of(url)
            held = reservation is not None and reservation.take(host)
            with self.limiter.slot(host, held=held):
                attempt = self._request(url, path, validators.get(url))
            n += 1
            # Only the server's own trouble counts against it (not a 404, not our disk).
            self.limiter.report(host, ok=attempt.ok or attempt.permanent or attempt.fatal
                                or attempt.landing is not None)
            if attempt.wrote_part and (attempt.etag or attempt.last_modified):
                validators[url] = (attempt.etag, attempt.last_modified)
            elif attempt.wrote_part or attempt.retry_now:
                validators.pop(url, None)
            if attempt.ok or attempt.permanent or attempt.fatal or attempt.unreachable:
                return attempt, n
            if attempt.retry_now and n <= policy.max_retries + 2:
                continue  # a refused resume is not the server's fault: restart at once
            if retry >= policy.max_retries:
                if policy.max_retries:
                    attempt.reason += f" (after {n} attempts)"
                return attempt, n
            delay = policy.delay(retry, attempt.retry_after)
            if attempt.retry_after is not None:
                self.limiter.pause(host, delay)
            log.info("retrying %s in %.1fs: %s", url, delay, attempt.reason)
            retry += 1
            if self.cancel.wait(delay):
                raise Cancelled()

    def _request(self, url: str, path: str,
                 validators: tuple[str | None, str | None] | None) -> Attempt:
        """One GET: stream the body into `path`.part and, if all is well, rename it."""
        part = path + ".part"
        have = self._resumable_bytes(part) if validators else 0
        headers = {}
        if have:
            etag, last_modified = validators or (None, None)
            headers["Range"] = f"bytes={have}-"
            # If-Range: the server sends the whole new file (200) if it changed.
            headers["If-Range"] = etag or last_modified or ""
            # Ranges count stored bytes: ask for them as stored, not re-encoded.
            headers["Accept-Encoding"] = "identity"
        body = _Body(self, part, have)
        try:
            head = self.client.get(url, headers, body)
        except TransferError as e:
            return body.failed(e)
        except Cancelled:
            body.close(keep=body.is_pdf)
            raise Cancelled(body.validators()) from None
        except DiskError as e:
            body.close(keep=body.is_pdf)
            return _disk_failure(part, e.__cause__ or e)
        try:
            attempt = body.finish(head)
        except OSError as e:
            return _disk_failure(part, e)
        if not attempt.ok:
            return attempt
        try:
            os.replace(part, path)
        except OSError as e:
            return Attempt(reason=f"cannot rename {part} to its final name: {e.strerror}")
        # The directory fsync that makes the rename durable is grouped: the result
        # processor does one before the state records a batch of downloads.
        return attempt

    def _resumable_bytes(self, part: str) -> int:
        """The size of a `.part` that can be resumed; anything odd there is removed."""
        if not self._tl.part_may_exist:
            return 0
        try:
            st = os.lstat(part)
        except OSError:
            return 0
        if not stat.S_ISREG(st.st_mode):
            _remove(part)  # a planted symlink (or anything odd) is never written through
            return 0
        return st.st_size

    @staticmethod
    def _reject(part: str, reason: str) -> Attempt:
        _remove(part)
        return Attempt(permanent=True, reason=reason)


def _disk_failure(part: str, err: BaseException) -> Attempt:
    """Our side cannot write: the paper stays resumable, nothing is half-renamed."""
    return Attempt(reason=f"cannot write {part}: {getattr(err, 'strerror', None) or err}",
                   fatal=getattr(err, "errno", None) in _DISK_ERRNOS)


# Errors that will hit every other paper too: stop the run instead of failing them all.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


__all__ = ["Fetcher", "FetchConfig", "Cancelled", "host_of", "parse_content_range", "describe_not_pdf"]
