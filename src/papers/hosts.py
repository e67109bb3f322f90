"""Per-host politeness: a cap on concurrent connections and a spacing between requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit


class Cancelled(Exception):
    """The run is stopping; abandon this paper."""


def host_of(url: str) -> str:
    """`scheme://host:port` of a URL: the unit that limits apply to."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class HostLimiter:
    """At most `max_per_host` connections per host, request starts `1/rate` seconds apart.

    The rate limit is a spacing between request starts, not a burst allowance.
    `pause` holds a host back (after a 429 or 503 with Retry-After) without
    touching the others.
    """

    def __init__(self, max_per_host: int, rate_limit: float, cancel: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_host = max_per_host
        self.interval = 1.0 / rate_limit if rate_limit > 0 else 0.0
        self.cancel = cancel
        self.clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._next_start: dict[str, float] = {}

    def _semaphore(self, host: str) -> threading.Semaphore:
        with self._lock:
            sem = self._slots.get(host)
            if sem is None:
                sem = self._slots[host] = threading.Semaphore(self.max_per_host)
            return sem

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.cancel.wait(seconds):
            raise Cancelled()
        if self.cancel.is_set():
            raise Cancelled()

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold a connection slot for `url`'s host, starting no sooner than the rate allows."""
        host = host_of(url)
        sem = self._semaphore(host)
        while not sem.acquire(timeout=0.2):
            if self.cancel.is_set():
                raise Cancelled()
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    start = max(now, self._next_start.get(host, 0.0))
                    if start <= now:
                        self._next_start[host] = now + self.interval
                        break
                # Paused or spaced out: wait, then look again (a pause may have grown).
                self._wait(min(start - now, 0.5))
            yield
        finally:
            sem.release()

    def pause(self, url: str, seconds: float) -> None:
        """Send no new request to `url`'s host for `seconds`."""
        host = host_of(url)
        with self._lock:
            until = self.clock() + seconds
            if until > self._next_start.get(host, 0.0):
                self._next_start[host] = until
