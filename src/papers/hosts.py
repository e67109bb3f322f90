"""Politeness per host (or per API): a cap on concurrent connections and a spacing
between request starts."""

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
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


class HostLimiter:
    """At most `max_per_host` connections per key, request starts `1/rate` seconds apart.

    A key is a host (`host_of(url)`) or any name, such as an API. The rate
    limit is a spacing between request starts, not a burst allowance. `pause`
    holds a key back (after a 429 or 503 with Retry-After) without touching
    the others. `configure` gives one key its own limits.
    """

    def __init__(self, max_per_host: int, rate_limit: float, cancel: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_host = max_per_host
        self.interval = 1.0 / rate_limit if rate_limit > 0 else 0.0
        self.cancel = cancel
        self.clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, threading.Semaphore] = {}
        self._intervals: dict[str, float] = {}
        self._next_start: dict[str, float] = {}

    def configure(self, key: str, max_connections: int, rate_limit: float) -> None:
        """Own limits for `key` (call before its first use)."""
        with self._lock:
            self._slots[key] = threading.Semaphore(max_connections)
            self._intervals[key] = 1.0 / rate_limit if rate_limit > 0 else 0.0

    def _semaphore(self, key: str) -> threading.Semaphore:
        with self._lock:
            sem = self._slots.get(key)
            if sem is None:
                sem = self._slots[key] = threading.Semaphore(self.max_per_host)
            return sem

    def _wait(self, seconds: float) -> None:
        if seconds > 0 and self.cancel.wait(seconds):
            raise Cancelled()
        if self.cancel.is_set():
            raise Cancelled()

    @contextmanager
    def slot(self, key: str) -> Iterator[None]:
        """Hold a connection slot for `key`, starting no sooner than its rate allows."""
        sem = self._semaphore(key)
        while not sem.acquire(timeout=0.2):
            if self.cancel.is_set():
                raise Cancelled()
        try:
            while True:
                with self._lock:
                    now = self.clock()
                    start = max(now, self._next_start.get(key, 0.0))
                    if start <= now:
                        self._next_start[key] = now + self._intervals.get(key, self.interval)
                        break
                # Paused or spaced out: wait, then look again (a pause may have grown).
                self._wait(min(start - now, 0.5))
            yield
        finally:
            sem.release()

    def pause(self, key: str, seconds: float) -> None:
        """Send no new request for `key` for `seconds`."""
        with self._lock:
            until = self.clock() + seconds
            if until > self._next_start.get(key, 0.0):
                self._next_start[key] = until
