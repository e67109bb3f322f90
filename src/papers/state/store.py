"""The JSON state file: every paper's outcome, safe against crashes.

`StateStore` is a thin wrapper over three parts: the lock (`state.lock`, one run per
state), the snapshot (`state.snapshot`, one JSON document with a paper per line, read
and written a run of lines at a time; older layouts upgraded) and the journal
(`state.journal`, one line appended per outcome). A download record is a
`PaperRecord`; consolidate keeps plain dicts.

Recording an outcome appends one journal line (O(1), no rewrite of the whole file).
The snapshot is rewritten atomically (temp file, fsync, os.replace) when the journal
grows to a sixteenth of the state (`StateStore.compact_due`), and at the end of a run
over a state of up to 100,000 papers. Loading replays the journal over the snapshot,
ignoring a torn last line left by `kill -9`. The previous snapshot is kept as
`<state>.bak`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from papers.errors import StateError
from papers.state.journal import Journal
from papers.state.lock import StateLock, check_writable
from papers.state.records import PlainRecords
from papers.state.snapshot import Snapshot


class StateStore:
    """Load, update and persist per-paper records. Used by one thread only.

    `record`: the record type (`PaperRecord`), with `decode_all` and `to_json`;
    `PlainRecords` keeps them as the JSON objects they are (consolidate).
    """

    BLOCK = 1 << 22  # snapshot and journal bytes parsed per json call when loading
    # The journal is compacted into the snapshot once it holds a sixteenth as many lines
    # as the state has papers (and at least MIN_JOURNAL): a resume after kill -9 then
    # replays at most that, and a run over a big state does not rewrite it for a few
    # new outcomes. (A compaction copies the unchanged lines, so it costs little more
    # than the write; a shorter journal makes the resume cheaper: "Compaction" in
    # bench/AB.md.) A state of at most SMALL papers is compacted at every close, as
    # that costs little and leaves the snapshot complete.
    MIN_JOURNAL = 50_000
    SMALL = 100_000

    def __init__(self, path: str, record: Any = PlainRecords, private: bool = False) -> None:
        self.path = os.path.abspath(path)
        # A private state (consolidate's checkpoint keeps URLs with their credentials)
        # is readable by its owner alone.
        mode = 0o600 if private else 0o644
        self._encode = record.to_json
        self._decode_all = record.decode_all
        self.snapshot = Snapshot(self.path, mode, record.decode_all, record.to_json)
        self.journal = Journal(self.path + ".journal", mode)
        self._lock = StateLock(self.path)
        self.journal_path = self.journal.path
        self.backup_path = self.snapshot.backup_path
        self.records: dict[str, Any] = {}
        self.last_run: dict[str, Any] = {}  # when the last run started and ended, and what it was
        # Papers whose snapshot line is out of date (recorded since, or never in it): a
        # compaction copies the other lines as they are.
        self._dirty: set[str] = set()

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: str, record: Any = PlainRecords, private: bool = False) -> "StateStore":
        """Lock and load the state at `path`; StateError (lock released) if unusable."""
        store = cls(path, record, private)
        store.lock()
        try:
            store.load()
            store.check_writable()
        except StateError:
            store.close(compact=False)
            store.unmake()
            raise
        return store

    def lock(self) -> None:
        """Take an exclusive lock so that two runs cannot share one state file."""
        self._lock.take()

    def unmake(self) -> None:
        """Remove what `lock` created, for a run refused before it began."""
        self._lock.unmake()

    def check_writable(self) -> None:
        """StateError now, rather than after the downloads, if the state cannot be written."""
        check_writable(self.path, self.journal_path)

    def load(self) -> None:
        """Read the snapshot and replay the journal. Raises StateError if corrupt."""
        self.records, self.last_run = self.snapshot.load(self.BLOCK)
        for runs, keys, recs in self.journal.replay(self._decode_all, self.BLOCK):
            for run in runs:
                self.last_run = {} if "started" in run else self.last_run
                self.last_run.update(run)
            self.records.update(zip(keys, recs))
            self._dirty.update(keys)

    # -- updating ----------------------------------------------------------
    def get(self, key: str) -> Any:
        """The record for `key`, or None."""
        return self.records.get(key)

    def note_run(self, **fields: Any) -> None:
        """Record facts of this run (`started`, `ended`, `command`); a new `started`
        forgets the previous run's."""
        if "started" in fields:
            self.last_run = {}
        self.last_run.update(fields)
        self.journal.add(json.dumps({"run": fields}, separators=(",", ":")), run=True)

    def put(self, key: str, record: Any) -> None:
        """Record an outcome; it reaches disk at the next `flush`."""
        self.records[key] = record
        self._dirty.add(key)
        self.journal.add(json.dumps({"k": key, "r": self._encode(record)}, ensure_ascii=False,
                                    separators=(",", ":")))

    def flush(self) -> None:
        """Append pending records to the journal (the OS has them: they survive kill -9)."""
        self.journal.flush()

    def sync(self) -> None:
        """Flush and fsync the journal (survives power loss too)."""
        self.journal.sync()

    def compact_due(self) -> bool:
        """Whether the journal's outcomes have grown enough to fold into the snapshot now
        (the few lines that say when runs started and ended do not count)."""
        return self.journal.lines - self.journal.run_lines >= self.journal_limit

    @property
    def journal_limit(self) -> int:
        """The outcomes the journal holds before it is folded into the snapshot."""
        return max(self.MIN_JOURNAL, len(self.records) // 16)

    @property
    def journal_lines(self) -> int:
        """Lines in the journal: the cost of replaying it at the next start."""
        return self.journal.lines

    def compact(self) -> None:
        """Write a full snapshot atomically, then empty the journal."""
        self.flush()
        self.snapshot.write(self.records, self.last_run, self._dirty, self.BLOCK)
        # Only now may the journal go: the snapshot holds everything it said.
        self.journal.remove()
        self._dirty.clear()

    def adopt(self, records: dict[str, Any]) -> None:
        """Make `records` the whole state (merge-state); it reaches disk at `compact`."""
        self.records = records
        self.snapshot.in_order = 0

    def close(self, compact: bool = True) -> None:
        """Persist everything and release the lock."""
        try:
            self.flush()
            # Only new outcomes make a small state worth rewriting, not the lines of runs.
            small = len(self.records) <= self.SMALL and self.journal.lines > self.journal.run_lines
            if compact and (small or self.compact_due() or self.snapshot.old_layout
                            or not os.path.exists(self.path)):
                self.compact()
            else:
                self.sync()
        finally:
            self.journal.close()
            self._lock.release()
