"""Download one paper: candidates in order, retries, `.part` streaming, PDF checks.

Workers call `Fetcher.fetch`; it reports progress through the `emit` callback
(which puts QueueMessages on the results queue) and returns an Outcome. It
touches no shared state: only the paper's own `.part` and final file.
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

from papers.hosts import Cancelled, HostLimiter, Reservation, host_of
from papers.messages import MessageType, Outcome, QueueMessage
from papers.models import Paper
from papers.retry import TRANSIENT_STATUS, RetryPolicy, parse_retry_after
from papers.transport import READ_ERRORS, Transport, TransportError, _short

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
    user_agent: str = "papers"
    policy: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(slots=True)
class Attempt:
    """What one HTTP request for one URL achieved."""

    ok: bool = False
    permanent: bool = False
    reason: str = ""
    retry_after: float | None = None
    retry_now: bool = False           # e.g. a resume was refused: restart at once
    wrote_part: bool = False          # this response's bytes are in the .part (validators apply)
    fatal: bool = False               # our disk cannot take writes: stop the run
    nbytes: int = 0
    sha256: str | None = None
    etag: str | None = None
    last_modified: str | None = None


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


def describe_not_pdf(head: bytes, content_type: str | None) -> str:
    """One line saying what the server sent instead of a PDF."""
    ct = (content_type or "no Content-Type").split(";")[0].strip()
    lowered = head[:SNIFF_BYTES].lstrip().lower()
    if lowered.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in lowered:
        return f"not a PDF: the server sent an HTML page ({ct}), likely a login or landing page"
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


class Fetcher:
    """Fetches papers to disk. One instance serves all workers; sessions are per thread."""

    def __init__(self, config: FetchConfig, limiter: HostLimiter, cancel: threading.Event,
                 emit: Callable[[QueueMessage], None],
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.limiter = limiter
        self.cancel = cancel
        self.emit = emit
        self.clock = clock
        self.monotonic = monotonic
        self._transport: Transport | None = None
        self._tl = threading.local()

    @property
    def transport(self) -> Transport:
        """The HTTP transport (a connection pool per worker thread), made on first use."""
        if self._transport is None:
            self._transport = Transport(self.config.timeout, {
                "User-Agent": self.config.user_agent,
                "Accept": "application/pdf,*/*;q=0.8",
                # Byte ranges and length checks need the bytes as stored; PDFs
                # are compressed already.
                "Accept-Encoding": "identity",
            })
        return self._transport

    # -- one paper -------------------------------------------------------------
    def fetch(self, paper: Paper, path: str, prior: dict[str, Any] | None = None,
              reservation: Reservation | None = None, on_disk: tuple[bool, bool] = (True, True)) -> Outcome:
        """Get `paper` to `path`; see `_fetch`. Bytes not yet reported ride on the outcome.

        `on_disk` says whether the final file and its `.part` may exist (False:
        known absent at the start of the run), which saves syscalls per paper.
        """
        self._tl.unreported = 0
        self._tl.final_may_exist, self._tl.part_may_exist = on_disk
        outcome = self._fetch(paper, path, prior, reservation)
        if self._tl.unreported:
            outcome = replace(outcome, unreported=self._tl.unreported)
        return outcome

    def _fetch(self, paper: Paper, path: str, prior: dict[str, Any] | None,
               reservation: Reservation | None) -> Outcome:
        """Get `paper` to `path`, trying its candidate URLs in order.

        Returns an Outcome with status downloaded, skipped (a complete file was
        already there), failed, or interrupted (the run is stopping).
        `reservation` is a connection slot the scheduler took for the first host.
        """
        started = self.clock()
        if not paper.urls:
            return Outcome(status="failed", error=paper.problem or "no PDF URL to try",
                           started=started, finished=self.clock())
        existing = self._adopt_existing(path, paper, started) if self._tl.final_may_exist else None
        if existing is not None:
            return existing
        tried: list[tuple[str, Attempt]] = []
        attempts = 0
        validators: dict[str, tuple[str | None, str | None]] = {}
        if prior and prior.get("url") and (prior.get("etag") or prior.get("last_modified")):
            validators[prior["url"]] = (prior.get("etag"), prior.get("last_modified"))
        part = path + ".part"
        last_url_with_part: str | None = prior.get("url") if prior else None
        for url in paper.urls:
            if last_url_with_part != url and url not in validators and self._tl.part_may_exist:
                # The .part (if any) came from another URL: its bytes cannot be resumed here.
                _remove(part)
            try:
                result, n = self._fetch_url(url, path, validators, reservation)
            except Cancelled as stop:
                # Abandoned mid-way: keep the .part and say how to resume it.
                etag, last_modified = (stop.args[0] if stop.args and stop.args[0]
                                       else validators.get(url, (None, None)))
                return Outcome(status="interrupted", url=url, attempts=attempts, started=started,
                               finished=self.clock(), error="interrupted",
                               etag=etag, last_modified=last_modified)
            attempts += n
            if result.fatal:
                return Outcome(status="failed", url=url, attempts=attempts, started=started,
                               finished=self.clock(), error=result.reason, fatal=True)
            if result.ok:
                return Outcome(status="downloaded", path=path, bytes=result.nbytes,
                               sha256=result.sha256, url=url, attempts=attempts,
                               started=started, finished=self.clock())
            tried.append((url, result))
            last_url_with_part = url
            if len(paper.urls) > 1:
                log.info("%s: candidate %s failed: %s", paper.id, url, result.reason)
        permanent = all(a.permanent for _, a in tried)
        last_url = tried[-1][0]
        etag, last_modified = validators.get(last_url, (None, None))
        return Outcome(status="failed", url=last_url, attempts=attempts, started=started,
                       finished=self.clock(), permanent=permanent,
                       error=self._explain(tried), etag=etag, last_modified=last_modified)

    @staticmethod
    def _explain(tried: list[tuple[str, Attempt]]) -> str:
        if len(tried) == 1:
            url, a = tried[0]
            return f"{a.reason} (tried {url})"
        parts = "; ".join(f"{url}: {a.reason}" for url, a in tried)
        return f"all {len(tried)} candidate URLs failed: {parts}"

    def _adopt_existing(self, path: str, paper: Paper, started: float) -> Outcome | None:
        # A final-named file only ever comes from os.replace after every check, so
        # one that exists is complete: it was renamed but not recorded (crash, lost
        # state). Take it instead of fetching it again.
        try:
            h, head = _hash_file(path)
        except FileNotFoundError:
            return None
        except OSError:
            return None
        if PDF_MAGIC not in head:
            return None
        size = os.path.getsize(path)
        return Outcome(status="skipped", path=path, bytes=size, sha256=h.hexdigest(),
                       url=paper.urls[0], attempts=0, started=started, finished=self.clock())

    def _fetch_url(self, url: str, path: str, validators: dict[str, tuple[str | None, str | None]],
                   reservation: Reservation | None = None) -> tuple[Attempt, int]:
        """Try one URL with retries; return the last attempt and the number of requests."""
        if not url.lower().startswith(("http://", "https://")):
            scheme = url.split(":", 1)[0] if ":" in url else url
            return Attempt(permanent=True, reason=f"unsupported URL scheme {scheme!r} (only http and https)"), 0
        policy = self.config.policy
        attempt = Attempt()
        n = 0
        retry = 0
        while True:
            if self.cancel.is_set():
                raise Cancelled()
            host = host_of(url)
            held = reservation is not None and reservation.take(host)
            with self.limiter.slot(host, held=held):
                attempt = self._request(url, path, validators.get(url))
            n += 1
            # Only the server's own trouble counts against it (not a 404, not our disk).
            self.limiter.report(host, ok=attempt.ok or attempt.permanent or attempt.fatal)
            if attempt.wrote_part and (attempt.etag or attempt.last_modified):
                validators[url] = (attempt.etag, attempt.last_modified)
            elif attempt.wrote_part or attempt.retry_now:
                validators.pop(url, None)
            if attempt.ok or attempt.permanent or attempt.fatal:
                return attempt, n
            if attempt.retry_now and n <= policy.max_retries + 2:
                continue  # a refused resume is not the server's fault: restart at once
            if retry >= policy.max_retries:
                if policy.max_retries:
                    attempt.reason += f" (after {n} attempts)"
                return attempt, n
            delay = policy.delay(retry, attempt.retry_after)
            if attempt.retry_after is not None:
                self.limiter.pause(host_of(url), delay)
            log.info("retrying %s in %.1fs: %s", url, delay, attempt.reason)
            retry += 1
            if self.cancel.wait(delay):
                raise Cancelled()

    def _request(self, url: str, path: str,
                 validators: tuple[str | None, str | None] | None) -> Attempt:
        """One GET: stream the body into `path`.part and, if all is well, rename it."""
        cfg = self.config
        part = path + ".part"
        have = 0
        try:
            st = os.lstat(part) if self._tl.part_may_exist else None
        except OSError:
            st = None
        if st is not None and not stat.S_ISREG(st.st_mode):
            _remove(part)  # a planted symlink (or anything odd) is never written through
        elif st is not None and validators:
            have = st.st_size
        headers = {}
        if have:
            etag, last_modified = validators or (None, None)
            headers["Range"] = f"bytes={have}-"
            # If-Range: the server sends the whole new file (200) if it changed.
            headers["If-Range"] = etag or last_modified  # type: ignore[assignment]
        try:
            resp = self.transport.get(url, headers)
        except TransportError as e:
            if e.timeout:
                return Attempt(reason=f"timed out after {cfg.timeout:g}s waiting for the server")
            return Attempt(permanent=e.permanent, reason=str(e))
        try:
            return self._receive(resp, url, path, part, have)
        finally:
            _done_with(resp)

    def _receive(self, resp: Any, url: str, path: str, part: str, have: int) -> Attempt:
        cfg = self.config
        status = resp.status
        etag = resp.headers.get("ETag")
        last_modified = resp.headers.get("Last-Modified")
        base = Attempt(etag=etag, last_modified=last_modified)
        if status == 416:
            _remove(part)
            base.reason, base.retry_now = "the server refused to resume (416)", True
            base.etag = base.last_modified = None
            return base
        if status >= 400:
            reason = f"HTTP {status} {resp.reason or ''}".rstrip()
            if status in TRANSIENT_STATUS:
                return Attempt(reason=reason,
                               retry_after=parse_retry_after(resp.headers.get("Retry-After")))
            return Attempt(permanent=True, reason=reason)
        if status not in (200, 206):
            return Attempt(permanent=True, reason=f"unexpected HTTP {status} {resp.reason or ''}".rstrip())
        encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")
        append = False
        total: int | None = None
        if status == 206:
            cr = parse_content_range(resp.headers.get("Content-Range"))
            if not have or cr is None or cr[0] != have or encoded:
                _remove(part)
                base.reason = "the server sent a range we did not ask for; restarting"
                base.retry_now = True
                base.etag = base.last_modified = None
                return base
            append, total = True, cr[2]
        length = resp.headers.get("Content-Length")
        if total is None and length and length.isdigit() and not encoded:
            total = int(length) + (have if append else 0)
        if cfg.max_size and total and total > cfg.max_size:
            _remove(part)
            return Attempt(permanent=True, reason=f"too large: {total} bytes is over --max-size {cfg.max_size}")
        return self._stream(resp, path, part, append, have, total, base)

    def _stream(self, resp: Any, path: str, part: str, append: bool, have: int,
                total: int | None, base: Attempt) -> Attempt:
        cfg = self.config
        pending = 0
        last_emit = window_start = self.monotonic()
        window_bytes = 0
        try:
            if append:
                h, head = _hash_file(part, limit=have)
                written = have
            else:
                h, head, written = hashlib.sha256(), b"", 0
            is_pdf = PDF_MAGIC in head
            fd = _open_part(part, append, absent=not self._tl.part_may_exist)
            self._tl.part_may_exist = True
            base.wrote_part = True
            with os.fdopen(fd, "wb", buffering=0) as f:
                try:
                    # read1: one socket read per call, so a body cut short still hands
                    # over what arrived (a buffered read would drop it with the error).
                    read1 = resp.read1
                    size = cfg.chunk_size
                    while True:
                        chunk = read1(size, decode_content=True)
                        if not chunk:
                            break
                        if self.cancel.is_set():
                            # The kept .part is resumable with this response's validators.
                            raise Cancelled((base.etag, base.last_modified) if is_pdf else None)
                        if not is_pdf:
                            head += chunk[:SNIFF_BYTES - len(head)] if len(head) < SNIFF_BYTES else b""
                            if PDF_MAGIC in head:
                                is_pdf = True
                            elif len(head) >= SNIFF_BYTES:
                                return self._reject(part, describe_not_pdf(head, resp.headers.get("Content-Type")))
                        try:
                            _write_all(f, chunk)
                        except OSError as e:
                            raise _DiskError(e) from e
                        h.update(chunk)
                        written += len(chunk)
                        pending += len(chunk)
                        if cfg.max_size and written > cfg.max_size:
                            return self._reject(part, f"too large: over --max-size {cfg.max_size} bytes")
                        now = self.monotonic()
                        window_bytes += len(chunk)
                        if cfg.min_speed and now - window_start >= cfg.min_speed_window:
                            rate = window_bytes / (now - window_start)
                            if rate < cfg.min_speed:
                                os.fsync(f.fileno())
                                base.reason = (f"too slow: {rate:.0f} B/s over {now - window_start:.0f}s "
                                               f"(minimum {cfg.min_speed} B/s), at {written} bytes")
                                return base
                            window_start, window_bytes = now, 0
                        if pending >= PROGRESS_BYTES or now - last_emit >= PROGRESS_SECONDS:
                            self.emit(QueueMessage(MessageType.PROGRESS_UPDATE, nbytes=pending))
                            pending, last_emit = 0, now
                except _DiskError:
                    raise
                except TimeoutError:
                    os.fsync(f.fileno())
                    base.reason = f"timed out after {cfg.timeout:g}s without data, at {written} bytes"
                    return base
                except READ_ERRORS as e:
                    # Keep what arrived: the next attempt resumes it with Range.
                    os.fsync(f.fileno())
                    base.reason = f"connection broken after {written} bytes" + (
                        f" of {total}" if total else "") + f": {_short(e)}"
                    if not is_pdf:
                        _remove(part)
                    return base
                if not is_pdf:
                    return self._reject(part, describe_not_pdf(head, resp.headers.get("Content-Type")))
                if total is not None and written != total:
                    os.fsync(f.fileno())
                    base.reason = f"truncated body: got {written} of {total} bytes"
                    if written > total:
                        _remove(part)
                        base.etag = base.last_modified = None
                    return base
                os.fsync(f.fileno())
        except (_DiskError, OSError) as e:
            # Our side cannot write: the paper stays resumable, nothing is half-renamed.
            err = e.__cause__ if isinstance(e, _DiskError) else e
            base.reason = f"cannot write {part}: {getattr(err, 'strerror', None) or err}"
            base.fatal = getattr(err, "errno", None) in _DISK_ERRNOS
            return base
        finally:
            # What was not reported yet travels with the outcome: no message per small file.
            self._tl.unreported = getattr(self._tl, "unreported", 0) + pending
        try:
            os.replace(part, path)
        except OSError as e:
            base.reason = f"cannot rename {part} to its final name: {e.strerror}"
            return base
        # The directory fsync that makes the rename durable is grouped: the result
        # processor does one before the state records a batch of downloads.
        return Attempt(ok=True, nbytes=written, sha256=h.hexdigest())

    @staticmethod
    def _reject(part: str, reason: str) -> Attempt:
        _remove(part)
        return Attempt(permanent=True, reason=reason)


# Errors that will hit every other paper too: stop the run instead of failing them all.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


class _DiskError(Exception):
    """Writing the .part failed (disk full, permissions): our fault, not the server's."""


def _done_with(resp: Any) -> None:
    """Give the connection back for reuse if its body was read, else close it."""
    try:
        if resp.isclosed() or resp.length_remaining == 0:
            resp.release_conn()
        elif (resp.length_remaining or 0) <= 64 * 1024 and resp.status >= 300:
            resp.drain_conn()  # a short error page: cheaper to read than to reconnect
            resp.release_conn()
        else:
            resp.close()
            resp.release_conn()
    except READ_ERRORS:
        resp.close()


__all__ = ["Fetcher", "FetchConfig", "Cancelled", "host_of", "parse_content_range", "describe_not_pdf"]
