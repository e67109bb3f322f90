"""The retry policy, declared once: what is transient, how long to wait."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from papers.errors import Cancelled

log = logging.getLogger("papers")

#: Statuses worth another attempt, and why.
TRANSIENT_STATUS = {
    408: "Request Timeout: the server gave up waiting for us; a new request usually works",
    429: "Too Many Requests: we are being rate limited; wait (Retry-After) and try again",
    500: "Internal Server Error: often a passing fault in the server",
    502: "Bad Gateway: a proxy could not reach the origin, usually briefly",
    503: "Service Unavailable: overloaded or in maintenance; Retry-After says when to return",
    504: "Gateway Timeout: the origin was too slow for a proxy this time",
}
# Every other 4xx/5xx is permanent: asking again gives the same answer.


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times to retry a transient failure and how long to wait between tries."""

    max_retries: int = 3          # retries after the first attempt, per candidate URL
    backoff_base: float = 1.0     # seconds; attempt n waits up to base * 2**n
    backoff_max: float = 60.0     # cap on the exponential backoff
    retry_after_max: float = 120.0  # cap on a server's Retry-After

    def delay(self, attempt: int, retry_after: float | None = None,
              rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0-based).

        A server's Retry-After wins (capped); otherwise exponential backoff with
        full jitter, so that many workers hitting one host do not retry in step.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        r = (rng or random).random()
        # Keep at least half the ceiling: full jitter can otherwise retry at once.
        return ceiling * (0.5 + 0.5 * r)


class RetryManager:
    """The tries of one request, as yt-dlp's `RetryManager`, for the file fetcher and
    the API client alike. Iterate over it to make each try; after a transient failure,
    `again` waits (backoff, or the server's Retry-After, which also pauses the host
    through `pause`) and says whether another try is due. `Cancelled` when the run
    stops, before a try or during a wait."""

    def __init__(self, policy: RetryPolicy, cancel: threading.Event, what: str,
                 pause: Callable[[float], None] | None = None) -> None:
        self.policy, self.cancel, self.what, self.pause = policy, cancel, what, pause
        self.tries = 0    # requests made
        self.retries = 0  # waits made
        self._due = True

    def __iter__(self) -> Iterator["RetryManager"]:
        while self._due:
            if self.cancel.is_set():
                raise Cancelled()
            self._due = False
            self.tries += 1
            yield self

    def again(self, reason: str, retry_after: float | None = None, *,
              at_once: bool = False) -> bool:
        """A try failed for a passing `reason`: wait, and True if another try is due;
        False when the retries are spent. `at_once`: not the server's fault (a refused
        resume), so the next try goes without a wait, a few times at most."""
        if at_once and self.tries <= self.policy.max_retries + 2:
            self._due = True
            return True
        if self.retries >= self.policy.max_retries:
            return False
        delay = self.policy.delay(self.retries, retry_after)
        if retry_after is not None and self.pause is not None:
            self.pause(delay)
        log.info("retrying %s in %.1fs: %s", self.what, delay, reason)
        self.retries += 1
        if self.cancel.wait(delay):
            raise Cancelled()
        self._due = True
        return True

    def spent(self, reason: str) -> str:
        """`reason` for giving up, saying how many tries it took once there were retries."""
        return f"{reason} (after {self.tries} attempts)" if self.retries else reason


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        from email.utils import parsedate_to_datetime  # rare: most servers send seconds

        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())
