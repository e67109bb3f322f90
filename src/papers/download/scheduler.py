"""A scheduler that never waits on a busy host: it holds queued papers per host and
hands a worker the next paper whose host has a free connection and a rate token."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from papers.errors import Cancelled
from papers.net.hosts import HostLimiter

#: Worker threads a run has beyond --workers while each PDF is checked after its transfer
#: (download.identity): a worker checking, or waiting for PDFium, holds no transfer.
CHECKING_WORKERS = 32


def checking_workers(workers: int, identity_check: bool) -> int:
    """How many worker threads a run with `--workers` may start beyond them, each when a
    worker lends its turn out to check a PDF (none for a run whose bodies are no PDFs)."""
    return min(workers, CHECKING_WORKERS) if identity_check else 0


class Reservation:
    """A connection slot the scheduler took for a worker; the fetcher uses it for its
    first request to that host, or the worker gives it back."""

    __slots__ = ("key", "taken")

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.taken = key is None

    def take(self, key: str) -> bool:
        """True (once) if this reservation is for `key`."""
        if not self.taken and key == self.key:
            self.taken = True
            return True
        return False


class HostScheduler:
    """Per-host queues; `get` returns work whose host can take a request now.

    Items with host None (papers still to be looked up) are always ready.
    `put` blocks while `capacity` items are queued, so the input is read
    only that far ahead.
    """

    def __init__(self, limiter: HostLimiter, capacity: int, cancel: threading.Event,
                 workers: int | None = None) -> None:
        self.limiter = limiter
        # At most `workers` at work at once (--workers), however many worker threads the
        # run has: a thread whose PDF PDFium reads lends its turn out (`lent`).
        self._workers = workers if workers is not None else math.inf
        self._working = 0
        self.capacity = capacity
        self.cancel = cancel
        self.cond = limiter.cond  # slot releases wake waiting workers
        self._queues: dict[str | None, deque[Any]] = {}
        self._hosts: deque[str | None] = deque()  # hosts with queued work, round robin
        self._size = 0
        self._closed = False

    def put(self, host: str | None, item: Any) -> bool:
        """Queue `item` for `host`; False if the run is stopping."""
        with self.cond:
            while self._size >= self.capacity:
                if self.cancel.is_set():
                    return False
                self.cond.wait(0.2)
            q = self._queues.get(host)
            if q is None:
                q = self._queues[host] = deque()
            if not q:
                self._hosts.append(host)
            q.append(item)
            self._size += 1
            # One waiting worker is enough for one item (waking all makes a futex storm).
            self.cond.notify()
            return True

    def close(self) -> None:
        """No more items will come; idle workers may leave."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    def get(self) -> tuple[Reservation, Any] | None:
        """The next item whose host is ready, with its slot reserved; None when all is done."""
        with self.cond:
            while True:
                if self.cancel.is_set():
                    return None
                best = math.inf
                for _ in range(len(self._hosts) if self._working < self._workers else 0):
                    host = self._hosts[0]
                    wait = 0.0 if host is None else self.limiter.try_acquire(host)
                    if wait == 0.0:
                        q = self._queues[host]
                        item = q.popleft()
                        self._size -= 1
                        self._hosts.popleft()
                        if q:
                            self._hosts.append(host)  # its turn again after the others
                        self._working += 1
                        self.cond.notify_all()
                        return Reservation(host), item
                    best = min(best, wait)
                    self._hosts.rotate(-1)
                if self._closed and not self._size:
                    return None
                self.cond.wait(min(best, 0.2))

    def finished(self) -> None:
        """The item `get` gave is done with: another may be given."""
        with self.cond:
            self._working -= 1
            self.cond.notify_all()

    @contextmanager
    def lent(self) -> Iterator[None]:
        """While this worker's PDF is read (download.identity), another may work; back
        to work after it once fewer than `workers` are ("Files in flight" in
        bench/IDENTITY.md). Cancelled if the run stops while it waits to come back."""
        self.finished()
        try:
            yield
        finally:
            with self.cond:
                while self._working >= self._workers:
                    if self.cancel.is_set():
                        self._working += 1  # as `finished` will count it
                        raise Cancelled()
                    self.cond.wait(0.25)
                self._working += 1
