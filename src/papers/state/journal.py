"""The journal of a state file, `<state>.journal`: one JSON line per outcome recorded
since the snapshot (and a few about runs). Appending a line is O(1); loading replays
the lines over the snapshot, ignoring a torn last line left by `kill -9`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from papers.errors import StateError
from papers.state.layouts import LEGACY_FIELDS, record_of

Decode = Callable[[list[Any]], list[Any]]


def line_runs(f: Any, size: int, end: int | None = None) -> Iterator[bytes]:
    """`f` from its position (to offset `end`) in runs of about `size` bytes that end at
    a newline; the last run holds what follows the last newline (b"" if none)."""
    rest = b""
    while chunk := f.read(size if end is None else min(size, end - f.tell())):
        chunk = rest + chunk
        cut = chunk.rfind(b"\n") + 1
        if cut:
            yield chunk[:cut]
        rest = chunk[cut:]
    yield rest


class Journal:
    """Appends, the torn tail, the replay. Used by one thread only."""

    def __init__(self, path: str, mode: int) -> None:
        self.path, self.mode = path, mode
        self.lines = 0       # lines in the file: the cost of replaying it
        self.run_lines = 0   # of those, the ones about runs
        self._pending: list[str] = []
        self._file: Any = None
        self._unsynced = False

    def replay(self, decode_all: Decode, block: int) -> Iterator[tuple[list[dict], list[str], list[Any]]]:
        """(run facts, keys, records) of each run of lines, `block` bytes at a time (never
        the whole file at once). StateError at the first line that is not a record."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return
        except OSError as e:
            raise StateError(f"state journal {self.path}: cannot read ({e.strerror})") from None
        with f:
            for run in line_runs(f, block):
                lines = run.split(b"\n")
                if lines[-1]:
                    # A record cut short by kill -9; its paper is simply done again.
                    self.lines += 1
                yield self._entries(lines[:-1], decode_all)

    def _entries(self, lines: list[bytes], decode_all: Decode) -> tuple[list[dict], list[str], list[Any]]:
        first = self.lines + 1
        self.lines += len(lines)
        try:
            entries = json.loads(b"[" + b",".join(x for x in lines if x.strip()) + b"]")
            runs = [e["run"] for e in entries if "run" in e]
            self.run_lines += len(runs)
            entries = [e for e in entries if "run" not in e]
            recs = [record_of(LEGACY_FIELDS, e["r"]) if isinstance(e["r"], list) else e["r"]
                    for e in entries]  # arrays: written by papers before schema 4
            return runs, [e["k"] for e in entries], decode_all(recs)
        except (ValueError, KeyError, TypeError):
            bad = next((n for n, line in enumerate(lines, first)
                        if line.strip() and not _line_ok(line, decode_all)), first)
            raise StateError(f"state journal {self.path} is corrupt at line {bad}; "
                             "it was left untouched: move it away to drop the outcomes "
                             "recorded since the last snapshot") from None

    def add(self, line: str, run: bool = False) -> None:
        """A line to append at the next `flush`; `run`: it is about the run, not a paper."""
        self._pending.append(line)
        self.run_lines += run

    def flush(self) -> None:
        """Append the pending lines (the OS has them: they survive kill -9)."""
        if not self._pending:
            return
        if self._file is None:
            self._drop_torn_tail()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
            self._file = os.fdopen(fd, "ab")
        data = ("\n".join(self._pending) + "\n").encode("utf-8")
        self._file.write(data)
        self._file.flush()
        self.lines += len(self._pending)
        self._pending.clear()
        self._unsynced = True

    def sync(self) -> None:
        """Flush and fsync (survives power loss too)."""
        self.flush()
        if self._file is not None and self._unsynced:
            os.fsync(self._file.fileno())
            self._unsynced = False

    def close(self) -> None:
        """Close the file (what was flushed stays)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Empty the journal: a snapshot now holds everything it said."""
        self.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.lines = self.run_lines = 0
        self._unsynced = False

    def _drop_torn_tail(self) -> None:
        # A line cut short by a crash would end up in the middle of the journal
        # once we append: cut it off first (its paper is simply done again).
        try:
            f = open(self.path, "r+b")
        except FileNotFoundError:
            return
        with f:
            size = f.seek(0, os.SEEK_END)
            if not size:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            block = 1 << 16
            end = size
            while end > 0:
                start = max(0, end - block)
                f.seek(start)
                chunk = f.read(end - start)
                nl = chunk.rfind(b"\n")
                if nl >= 0:
                    f.truncate(start + nl + 1)
                    return
                end = start
            f.truncate(0)


def _line_ok(line: bytes, decode_all: Decode) -> bool:
    try:
        entry = json.loads(line)
        if isinstance(entry.get("run"), dict):
            return True
        rec = entry["r"]
        decode_all([record_of(LEGACY_FIELDS, rec) if isinstance(rec, list) else rec])
        return isinstance(entry["k"], str)
    except (ValueError, KeyError, TypeError):
        return False
