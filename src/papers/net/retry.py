"""The retry policy, declared once: what is transient, how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone

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
