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
from dataclasses import dataclass
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


@dataclass(slots=True, eq=False)
class Slot:
    """One host's (or one API's) limits and turns, as Scrapy's downloader `Slot`."""

    max_connections: int
    interval: float             # seconds between request starts (0: no spacing)
    api: bool = False           # a scholarly API with its own limits, not a download host
    active: int = 0             # connections held now
    next_start: float = 0.0     # the next turn to hand out
    last_start: float = -math.inf  # when the last request really started
    paused_until: float = -math.inf
    failures: int = 0           # in a row, for the circuit breaker
    refused: str | None = None  # why the last try to take a slot was refused: rate or slots


class HostLimiter:
    """At most N connections per key, request starts 1/rate seconds apart: a `Slot`
    per key, all guarded by one condition."""

    def __init__(self, max_per_host: int, rate_limit: float, cancel: threading.Event,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_per_host = max_per_host
        self.interval = 1.0 / rate_limit if rate_limit > 0 else 0.0
        self.cancel = cancel
        self.clock = clock
        self.cond = threading.Condition()
        self._slots: dict[str, Slot] = {}
        self.starts = 0                      # download requests started (not API calls)
        self.held = {"rate": 0, "slots": 0}  # of those, how many first waited, and for what
        self.answered = 0                    # download requests a server answered

    def _slot(self, key: str) -> Slot:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = Slot(self.max_per_host, self.interval)
        return slot

    def configure(self, key: str, max_connections: int, rate_limit: float) -> None:
        """Own limits for `key`."""
        with self.cond:
            slot = self._slot(key)
            slot.max_connections, slot.api = max_connections, True
            slot.interval = 1.0 / rate_limit if rate_limit > 0 else 0.0

    def limits(self, key: str) -> tuple[int, float]:
        """`key`'s limits now: (connections, seconds between request starts)."""
        with self.cond:
            slot = self._slot(key)
            return slot.max_connections, slot.interval

    def tighten(self, key: str, max_connections: int | None, rate_limit: float | None) -> bool:
        """Lower `key`'s limits to what its server announced (never raise them); True if
        either changed."""
        with self.cond:
            slot, changed = self._slot(key), False
            if max_connections and max_connections < slot.max_connections:
                slot.max_connections = max_connections
                changed = True
            if rate_limit and (slot.interval == 0 or 1.0 / rate_limit > slot.interval):
                slot.interval = 1.0 / rate_limit
                changed = True
            return changed

    def try_acquire(self, key: str) -> float:
        """Take a slot for `key` now if allowed: 0.0. Otherwise seconds to wait (inf: no slot).

        Call with `cond` held.
        """
        slot = self._slot(key)
        if slot.active >= slot.max_connections:
            slot.refused = "slots"
            return math.inf
        now = self.clock()
        if slot.next_start > now:
            slot.refused = "rate"
            return slot.next_start - now
        slot.active += 1
        slot.next_start = now + slot.interval
        if not slot.api:  # count download requests, not API calls
            self.starts += 1
            if slot.refused:
                self.held[slot.refused] += 1
                slot.refused = None
        return 0.0

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
            self._slots[key].active -= 1
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
        slot = self._slots[key]
        while True:
            now = self.clock()
            wait = max(slot.last_start + slot.interval, slot.paused_until) - now
            if wait <= 0:
                break
            if self.cancel.is_set():
                raise Cancelled()
            self.cond.wait(min(wait, 0.2))
        slot.last_start = now

    def pause(self, key: str, seconds: float) -> None:
        """Send no new request for `key` for `seconds`."""
        with self.cond:
            slot, until = self._slot(key), self.clock() + seconds
            slot.next_start = max(slot.next_start, until)
            slot.paused_until = max(slot.paused_until, until)

    def report(self, key: str, ok: bool) -> None:
        """Feed the circuit breaker: a host that keeps failing is backed off, doubling."""
        with self.cond:
            slot = self._slot(key)
            if ok:
                self.answered += not slot.api  # a download host, not an API
                slot.failures = 0
                return
            slot.failures += 1
            n = slot.failures
        if n >= BREAKER_THRESHOLD:
            self.pause(key, min(BREAKER_MAX_PAUSE, 2.0 ** (n - BREAKER_THRESHOLD + 1)))


