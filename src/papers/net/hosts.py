"""Politeness per host (or per API): `HostLimiter` caps concurrent connections per key
and spaces request starts 1/rate apart (a spacing, not a burst allowance); it pauses a
key on Retry-After and backs off a key that keeps failing (a circuit breaker). Both
HTTP clients (files and APIs) go through it; `download.scheduler` orders the work by it.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from papers.errors import Cancelled


def hostname(url: str) -> str:
    """The lower-cased host name of a URL, or "" when it has none (or does not parse)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def host_of(url: str) -> str:
    """`scheme://host:port` of a URL: the unit that limits apply to."""
    # Called several times per paper: parse only the scheme://authority prefix, once.
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _host_key(url)
    end = len(rest)
    for ch in "/?#":
        i = rest.find(ch)
        if i != -1 and i < end:
            end = i
    return _host_key(scheme + "://" + rest[:end])


@functools.lru_cache(maxsize=4096)
def _host_key(prefix: str) -> str:
    parts = urlsplit(prefix)
    try:
        port = parts.port
    except ValueError:
        port = None
    port = port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


BREAKER_THRESHOLD = 5      # consecutive failures before a host is backed off
BREAKER_MAX_PAUSE = 300.0  # seconds


class HostLimiter:
    """At most N connections per key, request starts 1/rate seconds apart."""

    def __init__(self, max_per_host: int, rate_limit: float, cancel: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_host = max_per_host
        self.interval = 1.0 / rate_limit if rate_limit > 0 else 0.0
        self.cancel = cancel
        self.clock = clock
        self.cond = threading.Condition()
        self._max: dict[str, int] = {}
        self._intervals: dict[str, float] = {}
        self._active: dict[str, int] = {}
        self._next_start: dict[str, float] = {}   # the next turn to hand out
        self._last_start: dict[str, float] = {}   # when the last request really started
        self._paused_until: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._refused: dict[str, str] = {}   # why `key`'s last try was refused: rate or slots
        self.starts = 0                      # download requests started (not API calls)
        self.held = {"rate": 0, "slots": 0}  # of those, how many first waited, and for what
        self.answered = 0                    # download requests a server answered

    def configure(self, key: str, max_connections: int, rate_limit: float) -> None:
        """Own limits for `key`."""
        with self.cond:
            self._max[key] = max_connections
            self._intervals[key] = 1.0 / rate_limit if rate_limit > 0 else 0.0

    def tighten(self, key: str, max_connections: int | None, rate_limit: float | None) -> bool:
        """Lower `key`'s limits to what its server announced (never raise them); True if
        either changed."""
        with self.cond:
            changed = False
            if max_connections and max_connections < self._max.get(key, self.max_per_host):
                self._max[key] = max_connections
                changed = True
            interval = self._intervals.get(key, self.interval)
            if rate_limit and (interval == 0 or 1.0 / rate_limit > interval):
                self._intervals[key] = 1.0 / rate_limit
                changed = True
            return changed

    def try_acquire(self, key: str) -> float:
        """Take a slot for `key` now if allowed: 0.0. Otherwise seconds to wait (inf: no slot).

        Call with `cond` held.
        """
        if self._active.get(key, 0) >= self._max.get(key, self.max_per_host):
            self._refused[key] = "slots"
            return math.inf
        now = self.clock()
        start = self._next_start.get(key, 0.0)
        if start > now:
            self._refused[key] = "rate"
            return start - now
        self._active[key] = self._active.get(key, 0) + 1
        self._next_start[key] = now + self._intervals.get(key, self.interval)
        self._count_start(key)
        return 0.0

    def _count_start(self, key: str) -> None:
        if key not in self._max:  # a download host, not a scholarly API
            self.starts += 1
            why = self._refused.pop(key, None)
            if why:
                self.held[why] += 1

    def pace_note(self) -> str | None:
        """What set the pace of the downloads, when a per-host limit did (most requests
        had to wait for it), for the closing summary."""
        if self.starts < 4 or not self.answered:  # no server answered: nothing was held back
            return None
        why = max(self.held, key=lambda k: self.held[k])
        if self.held[why] * 2 < self.starts:
            return None
        if why == "rate":
            return (f"held to {1 / self.interval:g} requests/s per host by --rate-limit; "
                    "see --rate-limit/--max-per-host")
        n = self.max_per_host
        return (f"held to {n} connection{'s' if n != 1 else ''} per host by --max-per-host; "
                "see --rate-limit/--max-per-host")

    def release(self, key: str) -> None:
        """Give back a slot taken by `try_acquire` or `slot`."""
        with self.cond:
            self._active[key] -= 1
            self.cond.notify_all()

    @contextmanager
    def slot(self, key: str, held: bool = False) -> Iterator[None]:
        """Hold a connection slot for `key` (already `held` from the scheduler, or wait for
        one); the request starts as the block is entered."""
        try:
            with self.cond:
                if not held:
                    while True:
                        if self.cancel.is_set():
                            raise Cancelled()
                        wait = self.try_acquire(key)
                        if wait == 0.0:
                            break
                        # Paused, spaced out or full: wait, then look again.
                        self.cond.wait(min(wait, 0.2))
                    held = True
                self._space_start(key)
            yield
        finally:
            if held:
                self.release(key)

    def _space_start(self, key: str) -> None:
        # The turn was taken when the work was handed out; a worker that got going late
        # must not then start right behind one that started on time (the server sees
        # starts, not turns). Call with `cond` held.
        interval = self._intervals.get(key, self.interval)
        while True:
            now = self.clock()
            wait = max(self._last_start.get(key, -math.inf) + interval,
                       self._paused_until.get(key, -math.inf)) - now
            if wait <= 0:
                break
            if self.cancel.is_set():
                raise Cancelled()
            self.cond.wait(min(wait, 0.2))
        self._last_start[key] = now

    def pause(self, key: str, seconds: float) -> None:
        """Send no new request for `key` for `seconds`."""
        with self.cond:
            until = self.clock() + seconds
            if until > self._next_start.get(key, 0.0):
                self._next_start[key] = until
            if until > self._paused_until.get(key, -math.inf):
                self._paused_until[key] = until

    def report(self, key: str, ok: bool) -> None:
        """Feed the circuit breaker: a host that keeps failing is backed off, doubling."""
        with self.cond:
            if ok:
                self.answered += key not in self._max  # a download host, not an API
                self._failures.pop(key, None)
                return
            n = self._failures.get(key, 0) + 1
            self._failures[key] = n
        if n >= BREAKER_THRESHOLD:
            self.pause(key, min(BREAKER_MAX_PAUSE, 2.0 ** (n - BREAKER_THRESHOLD + 1)))


