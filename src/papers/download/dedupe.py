"""One file for one set of bytes: the files a run has written, by their SHA-256 and by
the URL they came from, so that a second paper with the same bytes (or the same final
URL) is recorded as a duplicate of the first and no second copy is written."""

from __future__ import annotations

import threading
from typing import NamedTuple


class First(NamedTuple):
    """The paper that wrote a file first, and the file."""

    key: str
    id: str
    path: str
    size: int
    sha256: str
    url: str           # where its bytes came from


class SameFiles:
    """The files of this run, shared by the download workers (under one lock). Indexed
    by the hash of the SHA-256 and of the final URL, each checked in full on a hit: a
    few dozen bytes a file, as the strings are the ones the state holds anyway."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_sha: dict[int, First] = {}
        self._by_url: dict[int, First] = {}

    def by_url(self, url: str, key: str) -> First | None:
        """The other paper whose file came from `url` in this run, if one did."""
        first = self._by_url.get(hash(url))
        return first if first is not None and first.url == url and first.key != key else None

    def claim(self, first: First) -> First | None:
        """Note `first`'s file, unless another paper has written the same bytes (by
        SHA-256) in this run: then that paper, and nothing is noted."""
        with self._lock:
            other = self._by_sha.get(hash(first.sha256))
            if other is not None and other.sha256 == first.sha256 and other.key != first.key:
                return other
            self._by_sha[hash(first.sha256)] = first
            self._by_url[hash(first.url)] = first
        return None
