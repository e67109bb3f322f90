"""Download one paper: candidates in order, landing pages, retries, `.part` streaming, PDF checks.

Workers call `Fetcher.fetch`; it reports progress through the `emit` callback
(which puts QueueMessages on the results queue) and returns an Outcome. It
touches no shared state: only the paper's own `.part` and final file. The
bytes travel over libcurl (`net/curl.py`); a `Body` (body.py) takes one response
into the paper's files (files.py); each request ends in an `Attempt` (attempt.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from papers.disk.files import write_metadata
from papers.download import rules
from papers.download.attempt import (FINAL_RESULTS, NOT_THE_SERVERS_FAULT, PERMANENT_RESULTS,
                                     Attempt, Download, FetchConfig, Result, disk_failure)
from papers.download.blocked import BREAK_AFTER, Breaker, reason, shown, what
from papers.download.body import Body, BodyLimits, duplicate, walled
from papers.download.dedupe import First, SameFiles
from papers.download.identity import Identity, check, has_trailer
from papers.download.landing import MAX_LANDING_HOPS, pdf_link
from papers.download.planner import Fetch
from papers.download.scheduler import Reservation
from papers.errors import Cancelled, DiskError, TransferError
from papers.model import Outcome, Status, candidate_urls
from papers.net.curl import CurlClient, Limits, referer
from papers.net.hosts import HostLimiter, host_of
from papers.net.retry import RetryManager
from papers.output.metadata import metadata_record
from papers.pipeline.messages import ProgressUpdate

log = logging.getLogger("papers")


def _say_open(host: str, kind: str) -> None:
    log.warning("%s: %d papers were blocked by %s; its other papers wait for the next run",
                shown(host), BREAK_AFTER, what(kind))


def url_problem(url: str) -> str | None:
    """Why an http(s) URL cannot be fetched as it is written, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as e:
        return f"{e} in {url[:200]!r}"
    return None if parts.hostname else f"no host name in {url[:200]!r}"


class Fetcher:
    """Fetches papers to disk. One instance serves all workers; each thread has its own handle."""

    def __init__(self, config: FetchConfig, limiter: HostLimiter, cancel: threading.Event,
                 emit: Callable[[ProgressUpdate], None],
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 breaker: Breaker | None = None, turns: Any = None) -> None:
        self.config = config
        self.turns = turns  # the scheduler: `lent()` while PDFium reads a file (or None)
        self.breaker = breaker or Breaker(on_open=_say_open)
        self.limiter = limiter
        self.cancel = cancel
        self.emit = emit
        self.clock = clock
        self.monotonic = monotonic
        self._client: CurlClient | None = None
        self._client_lock = threading.Lock()
        self.same = SameFiles()  # this run's files, by bytes and by final URL
        self.body_limits = BodyLimits(config.max_size, cancel, emit, monotonic, self.same)

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
        dl = Download(job, self.clock())
        outcome = self._fetch(dl, reservation, lookup_error or job.lookup_error, job)
        return outcome, dl.tried

    def _fetch(self, dl: Download, reservation: Reservation | None,
               lookup_error: str | None, job: Fetch) -> Outcome:
        urls = candidate_urls(dl.paper, self.config.doi_resolver if job.doi_fallback else None)
        if not urls:
            return self._outcome(dl, Status.FAILED, None, error=lookup_error or dl.paper.problem
                                 or "no PDF URL to try")
        existing = self._adopt_existing(dl, urls[0]) if dl.file.final_may_exist else None
        if existing is not None:
            return existing
        for url in urls:
            if dl.file.source is None or dl.file.source.url != url:
                dl.file.drop_part()  # its bytes, if any, came from elsewhere: they cannot be resumed here
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
                                        version=(job.versions or {}).get(url),
                                        license=(job.licenses or {}).get(url),
                                        identity=attempt.identity)
                if self.config.metadata and not attempt.duplicate_of:
                    write_metadata(attempt.path or "", metadata_record(dl.paper, outcome),
                                   dl.paper.id)
                return outcome
            dl.tried.append((url, attempt))
            if len(urls) > 1:
                log.info("%s: candidate %s failed: %s", dl.paper.id, url, attempt.reason)
        tried = [*job.earlier, *dl.tried]  # with the candidates other sources named before
        wrong = next((a for _, a in tried if a.identity == "mismatch"), None)
        others = [(u, a) for u, a in tried if a is not wrong]
        error = self._explain(others, dl.paper.id) if others else ""
        if wrong is not None:  # said first: what the file found is, and where it is kept
            error = f"{wrong.reason}; {error}" if error else wrong.reason
        permanent = all(a.result in PERMANENT_RESULTS for _, a in tried)
        too_large = any(a.result is Result.TOO_LARGE for _, a in tried)
        wall = next((a for _, a in reversed(tried) if a.result is Result.BLOCKED), None)
        return self._outcome(dl, Status.FAILED, dl.tried[-1][0], permanent=permanent,
                             identity="mismatch" if wrong else None,
                             size_limit=self.config.max_size if too_large else None,
                             error=f"{lookup_error}; then {error}" if lookup_error else error,
                             blocked=wall.blocked if wall else None,
                             blocked_at=shown(wall.host or "") if wall else None)

    def _outcome(self, dl: Download, status: Status, url: str | None, **kw: Any) -> Outcome:
        """The paper's Outcome; a failure carries the validators of a kept `.part`."""
        if status in (Status.FAILED, Status.INTERRUPTED) and url:
            kw["etag"], kw["last_modified"] = dl.file.validators_for(url)
        return Outcome(status=status, url=url, attempts=dl.attempts, started=dl.started,
                       finished=self.clock(), unreported=dl.unreported, **kw)

    @staticmethod
    def _explain(tried: list[tuple[str, Attempt]], paper_id: str) -> str:
        if len(tried) == 1:
            url, a = tried[0]
            return a.reason if url == paper_id else f"{a.reason} (tried {url})"
        parts = "; ".join(f"{url}: {a.reason}" for url, a in tried)
        return f"all {len(tried)} candidate URLs failed: {parts}"

    def _adopt_existing(self, dl: Download, url: str) -> Outcome | None:
        # A PDF under the final name was renamed but not recorded: take it instead of
        # fetching it again.
        found = dl.file.existing()
        if found is None:
            return None
        sha256, size = found
        verdict = check(dl.file.path, dl.paper.doi, dl.paper.title) if self.config.identity_check \
            else None
        if verdict is not None and verdict.wrong:  # saved by a run that did not check: left as it is
            log.warning("%s: %s is not this paper (%s)", dl.paper.id, dl.file.path, verdict.describe())
        return self._outcome(dl, Status.SKIPPED, url, path=dl.file.path, bytes=size, sha256=sha256,
                             identity=verdict.kind if verdict else None)

    def _fetch_candidate(self, dl: Download, url: str, reservation: Reservation | None) -> Attempt:
        """Try one candidate URL, following at most MAX_LANDING_HOPS landing pages to the PDF."""
        target, page = url, None
        dl.referer = None
        for hop in range(MAX_LANDING_HOPS + 1):
            attempt = self._fetch_url(dl, target, reservation)
            if attempt.result is not Result.LANDING:
                attempt.landing_page = page
                return attempt
            at = attempt.page_url or target
            link = pdf_link(attempt.landing or b"", at, attempt.charset)
            if link is None and attempt.blocked:  # a page with no way on: a wall, named
                return self._wall(walled(attempt.blocked, attempt.host or host_of(target)))
            # A platform's reader is not its PDF; a page with no link may keep it where
            # its platform always does (download/rules.py).
            link = rules.direct(link) if link else rules.fallback(at)
            if link is None or link in (at, target):
                return attempt  # its reason says that no PDF link was on the page
            if hop == MAX_LANDING_HOPS:
                break
            log.info("%s: landing page %s points to %s", url, at, link)
            target, page = link, at
            dl.referer = at  # as a browser sends it (Zotero too): some PDFs need it
        return Attempt(Result.PERMANENT, f"landing pages led on more than {MAX_LANDING_HOPS} "
                                         f"times, never to a PDF (last: {target})")

    def _fetch_url(self, dl: Download, url: str, reservation: Reservation | None = None) -> Attempt:
        """Try one URL with retries; return the last attempt."""
        if not url.lower().startswith(("http://", "https://")):
            scheme = url.split(":", 1)[0] if ":" in url else url
            return Attempt(Result.PERMANENT, f"unsupported URL scheme {scheme!r} (only http and https)")
        malformed = url_problem(url)
        if malformed:
            return Attempt(Result.PERMANENT, f"malformed URL: {malformed}")
        host = host_of(url)
        kind = self.breaker.open(host)
        if kind is not None:  # this host has walled off enough papers of this run
            return Attempt(Result.BLOCKED, f"{reason(kind, shown(host))} (not asked: "
                           f"{BREAK_AFTER} papers of this run were blocked there already)",
                           blocked=kind, host=host)
        tries = RetryManager(self.config.policy, self.cancel, url,
                             pause=lambda delay: self.limiter.pause(host, delay))
        for _ in tries:
            held = reservation is not None and reservation.take(host)
            with self.limiter.slot(host, held=held):
                attempt = self._request(dl, url)
            dl.attempts += 1
            # Only the server's own trouble counts against it (not a 404, not our disk).
            self.limiter.report(host, ok=attempt.result in NOT_THE_SERVERS_FAULT)
            if attempt.result is Result.OK:  # judged out of the slot: the next transfer need not wait
                return self._settle(dl, url, attempt)
            if attempt.result is Result.BLOCKED:
                return self._wall(attempt)
            if attempt.result in FINAL_RESULTS:
                return attempt
            if not tries.again(attempt.reason, attempt.retry_after,
                               at_once=attempt.result is Result.RETRY_NOW):
                attempt.reason = tries.spent(attempt.reason)
        if attempt.blocked:  # a rate limit (or a wall on a retried status) to the last try
            return self._wall(walled(attempt.blocked, attempt.host or host))
        return attempt

    def _wall(self, attempt: Attempt) -> Attempt:
        """A wall a host answered with: counted against the host for this run."""
        self.breaker.blocked(attempt.host or "", attempt.blocked or "")
        return attempt

    def _request(self, dl: Download, url: str) -> Attempt:
        """One GET: stream the body into the `.part` and, if all is well, rename it."""
        have = dl.file.resumable_bytes(url)
        headers = {}
        if have and dl.file.source is not None:
            headers["Range"] = f"bytes={have}-"
            # If-Range: the server sends the whole new file (200) if it changed.
            headers["If-Range"] = dl.file.source.validator or ""
            # Ranges count stored bytes: ask for them as stored, not re-encoded.
            headers["Accept-Encoding"] = "identity"
        if dl.referer:
            headers["Referer"] = referer(dl.referer, to=url)
        body = Body(self.body_limits, dl, url, have)
        try:
            head = self.client.get(url, headers, body)
        except TransferError as e:
            return body.failed(e)
        except Cancelled:
            body.close(keep=body.is_pdf)
            raise
        except DiskError as e:
            body.close(keep=body.is_pdf)
            return disk_failure(dl.file.part, e.__cause__ or e)
        try:
            return body.finish(head)
        except OSError as e:
            return disk_failure(dl.file.part, e)

    def _settle(self, dl: Download, url: str, attempt: Attempt) -> Attempt:
        """A whole PDF is in the `.part` (or is another paper's file of this run): if it is
        the paper, its final name, or the first paper's file when the bytes are the same."""
        if attempt.duplicate_of:
            return self._judged(dl, url, attempt, attempt.path or "")
        attempt.path = dl.file.final_path(dl.paper, dl.candidate, self.config.namer)
        attempt = self._judged(dl, url, attempt, dl.file.part)
        if attempt.result is not Result.OK:
            return attempt
        first = self.same.claim(First(dl.paper.key, dl.paper.id, attempt.path, attempt.nbytes,
                                      attempt.sha256 or "", attempt.pdf_url or url))
        if first is not None:  # the same bytes as another paper's file: no second copy
            dl.file.drop_part()
            return replace(duplicate(first, attempt), identity=attempt.identity)
        try:
            dl.file.finish_part(attempt.path)
        except OSError as e:
            return Attempt(Result.RETRY, f"cannot rename {dl.file.part} to its final name: {e.strerror}")
        return attempt

    def _judged(self, dl: Download, url: str, attempt: Attempt, pdf: str) -> Attempt:
        """`attempt` with the identity of the PDF at `pdf`; a wrong paper is kept aside as
        NAME.pdf.suspect (never under its final name) and fails this candidate."""
        if not self.config.identity_check:
            return attempt
        if not has_trailer(pdf, attempt.tail):
            verdict = Identity("unchecked")  # not a whole PDF to PDFium: nothing to read
        else:
            # PDFium's time is no transfer's: another worker may work meanwhile.
            with self.turns.lent() if self.turns else nullcontext():
                verdict = check(pdf, dl.paper.doi, dl.paper.title)
        attempt.identity = verdict.kind
        if not verdict.wrong:
            return attempt
        if attempt.duplicate_of:  # another paper's file: it stays theirs
            where = f"the file of {attempt.duplicate_of}"
        else:
            try:
                kept = dl.file.set_aside(attempt.path or dl.file.path, attempt.nbytes,
                                         attempt.sha256 or "")
            except OSError as e:
                return disk_failure(dl.file.part, e)
            where = f"kept as {kept}"
        log.warning("%s: %s is not this paper (%s); %s", dl.paper.id, url, verdict.describe(), where)
        return Attempt(Result.PERMANENT, f"wrong paper: {verdict.describe()} ({where})",
                       pdf_url=attempt.pdf_url, identity="mismatch")

