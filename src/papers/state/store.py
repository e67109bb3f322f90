"""The JSON state file: every paper's outcome, safe against crashes.

Layout (schema 4): `<state>` is one JSON document with one paper per line,

    {"schema":4,"papers":{
    "doi:10.1/x":{"id":"10.1/x","status":"downloaded","path":"...","bytes":123,...},
    "arxiv:1706.03762":{"id":"arXiv:1706.03762","status":"failed","error":"...",...}
    }}

so `jq '.papers["doi:10.1/x"]' state.json` and `grep` both find a paper. A
download record is a `PaperRecord`; consolidate keeps plain dicts. Older
layouts (schemas 1 to 3) are read through one path, `upgrade`, and rewritten
as schema 4 when the run ends.

`<state>.journal` holds one JSON line per outcome recorded since the snapshot:
recording an outcome appends one line (O(1), no rewrite of the whole file);
the snapshot is rewritten atomically (temp file, fsync, os.replace) when the
journal grows to a sixteenth of the state (`StateStore.compact_due`), and at the end
of a run over a state of up to 100,000 papers. Loading replays
the journal over the snapshot line by line, ignoring a torn last line left by
`kill -9`. The previous snapshot is kept as `<state>.bak`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from papers.disk.durable import can_create_in, missing_dirs, write_atomic
from papers.errors import StateError
from papers.state.layouts import LEGACY_FIELDS, record_of, upgrade
from papers.state.records import PlainRecords

_key_json = json.encoder.encode_basestring  # type: ignore[attr-defined]  # as dumps writes a str

SCHEMA = 4


def _batches(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


_PAPERS = b'"papers":{'  # the head line ends here; then a paper per line


def _line_runs(f: Any, size: int, end: int | None = None) -> Iterator[bytes]:
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


def _in_step(run: bytes, keys: list[str]) -> bool:
    """Whether the first and last lines of a run of snapshot lines are those of the
    first and last of `keys` (lines are only ever replaced or added at the end, so a
    shift shows at the ends)."""
    end = len(run) - run.endswith(b"\n")
    last = run.rfind(b"\n", 0, end) + 1
    return run.startswith(_key_json(keys[0]).encode()) and run.startswith(_key_json(keys[-1]).encode(), last)


class StateStore:
    """Load, update and persist per-paper records. Used by one thread only.

    `record`: the record type (`PaperRecord`), with `decode_all` and `to_json`;
    `PlainRecords` keeps them as the JSON objects they are (consolidate).
    """

    BLOCK = 1 << 22  # snapshot bytes parsed per json call when loading
    # The journal is compacted into the snapshot once it holds a sixteenth as many lines
    # as the state has papers (and at least MIN_JOURNAL): a resume after kill -9 then
    # replays at most that, and a run over a big state does not rewrite it for a few
    # new outcomes. (A compaction copies the unchanged lines, so it costs little more
    # than the write; a shorter journal makes the resume cheaper: "Compaction" in
    # bench/RESULTS.md.) A state of at most SMALL papers is compacted at every close,
    # as that costs little and leaves the snapshot complete.
    MIN_JOURNAL = 50_000
    SMALL = 100_000

    def __init__(self, path: str, record: Any = PlainRecords, private: bool = False) -> None:
        self.path = os.path.abspath(path)
        # A private state (consolidate's checkpoint keeps URLs with their credentials)
        # is readable by its owner alone.
        self.mode = 0o600 if private else 0o644
        self._decode_all: Callable[[list[Any]], list[Any]] = record.decode_all
        self._encode: Callable[[Any], Any] = record.to_json
        self.journal_path = self.path + ".journal"
        self.lock_path = self.path + ".lock"
        self.backup_path = self.path + ".bak"
        self.records: dict[str, Any] = {}
        self._pending: list[str] = []
        self._journal_lines = 0
        self._journal: Any = None
        self._lock_fd: int | None = None
        self._unsynced = False
        self._old_layout = False  # loaded from an older or hand-made layout: rewrite at close
        self.last_run: dict[str, Any] = {}  # when the last run started and ended, and what it was
        self._run_lines = 0  # of the journal's lines, those about runs
        # Papers whose snapshot line is out of date (recorded since, or never in it), and
        # how many lines the snapshot on disk holds in `records` order: a compaction
        # copies the other lines as they are (`_paper_lines`).
        self._dirty: set[str] = set()
        self._snapshot_lines_n = 0

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
        """Take an exclusive lock so that two runs cannot share one state file. What this
        creates (the lock file, missing directories) `unmake` removes again."""
        if os.path.isdir(self.path):
            raise StateError(f"state file {self.path} is a directory; give --state a file name")
        parent = os.path.dirname(self.path)
        missing = missing_dirs(parent)
        existing = os.path.dirname(missing[-1]) if missing else parent
        if not os.path.isdir(existing):
            raise StateError(f"state file {self.path}: {existing} is a file, not a directory")
        try:
            os.makedirs(parent, exist_ok=True)
            self._made = [self.lock_path] if not os.path.exists(self.lock_path) else []
            self._made += missing
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            self.unmake()
            raise StateError(f"state file {self.path}: cannot create "
                             f"{self.lock_path if os.path.isdir(parent) else parent} "
                             f"({e.strerror})") from None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            self._lock_fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateError(
                f"state file {self.path} is in use by another papers run; "
                "wait for it to finish or use another --state") from None
        self._lock_fd = fd

    def unmake(self) -> None:
        """Remove what `lock` created: the lock file, then the directories it made (if
        still empty). For a run refused before it began: it leaves nothing behind."""
        for path in getattr(self, "_made", []):
            try:
                (os.rmdir if os.path.isdir(path) else os.unlink)(path)
            except OSError:
                pass
        self._made = []

    def check_writable(self) -> None:
        """StateError now, rather than after the downloads, if the state cannot be written
        (read-only files or folder, files left by a run under sudo)."""
        for path in (self.path, self.journal_path):
            try:
                os.close(os.open(path, os.O_WRONLY))  # opened for writing (never created), nothing written
            except FileNotFoundError:
                pass
            except OSError as e:
                raise StateError(f"state file {path}: cannot be written ({e.strerror}); "
                                 "was it left by a run as another user (sudo)?") from None
        parent = os.path.dirname(self.path)
        if not os.access(parent, os.W_OK | os.X_OK) or not can_create_in(parent):
            raise StateError(f"state file {self.path}: its folder {parent} cannot be written")

    def load(self) -> None:
        """Read the snapshot and replay the journal. Raises StateError if corrupt."""
        self.records = {}
        self._load_snapshot()
        self._replay_journal()

    def _load_snapshot(self) -> None:
        try:
            with open(self.path, "rb") as f:
                if self._load_lines(f):
                    return
                f.seek(0)
                raw = f.read()
        except FileNotFoundError:
            return
        except OSError as e:
            raise StateError(f"state file {self.path}: cannot read ({e.strerror})") from None
        self._old_layout = True
        try:
            data = json.loads(raw)
            del raw
            schema = data.get("schema") if isinstance(data, dict) else None
            if isinstance(schema, int) and schema > SCHEMA:
                raise StateError(f"state file {self.path} was written by a newer papers (schema "
                                 f"{schema}; this one reads up to {SCHEMA}): upgrade papers or "
                                 "use another --state")
            records = upgrade(data)
            self.last_run = data.get("last_run") if isinstance(data.get("last_run"), dict) else {}
            del data
            self.records = dict(zip(records, self._decode_all(list(records.values()))))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise self._corrupt(f"not valid JSON ({e})") from None
        except ValueError as e:
            raise self._corrupt(str(e)) from None

    def _load_lines(self, f: Any) -> bool:
        """Read a snapshot laid out as `compact` writes it, BLOCK bytes of whole lines per
        json call, without a parse tree of the whole file.

        False when the file is laid out otherwise (older, hand-edited, pretty-printed) or
        damaged: the caller then parses it whole, which also reports damage precisely.
        """
        try:
            head = json.loads(f.readline().rstrip(b"\n") + b"}}")
        except ValueError:
            return False
        if not isinstance(head, dict) or head.get("schema") != SCHEMA or head.get("papers") != {}:
            return False
        self.last_run = head.get("last_run") if isinstance(head.get("last_run"), dict) else {}
        records: dict[str, Any] = {}
        closed = False
        try:
            for run in _line_runs(f, self.BLOCK):
                if closed:
                    if run.strip():
                        return False  # something after the closing line
                    continue
                closed = run.endswith(b"\n}}\n") or run == b"}}\n"
                body = (run[:-3] if closed else run).rstrip().rstrip(b",")
                if body:
                    # A run of whole lines is one JSON object once braced.
                    parsed = json.loads(b"{" + body + b"}")
                    records.update(zip(parsed, self._decode_all(list(parsed.values()))))
        except ValueError:
            return False
        self.records = records
        self._snapshot_lines_n = len(records) if closed else 0
        return closed  # no closing line: not a complete snapshot

    def _corrupt(self, why: str) -> StateError:
        hint = (f"; the previous good copy is {self.backup_path}: "
                f"`mv {self.backup_path} {self.path}` to recover it"
                if os.path.exists(self.backup_path) else
                "; move it away to start over")
        return StateError(f"state file {self.path} is corrupt: {why}. It was left untouched{hint}")

    def _replay_journal(self) -> None:
        """Apply the journal, BLOCK bytes of lines at a time (never the whole file at once)."""
        try:
            f = open(self.journal_path, "rb")
        except FileNotFoundError:
            return
        except OSError as e:
            raise StateError(f"state journal {self.journal_path}: cannot read ({e.strerror})") from None
        with f:
            for run in _line_runs(f, self.BLOCK):
                lines = run.split(b"\n")
                if lines[-1]:
                    # A record cut short by kill -9; its paper is simply done again.
                    self._journal_lines += 1
                self._replay(lines[:-1])

    def _replay(self, lines: list[bytes]) -> None:
        first = self._journal_lines + 1
        self._journal_lines += len(lines)
        try:
            entries = json.loads(b"[" + b",".join(x for x in lines if x.strip()) + b"]")
            for run in [e["run"] for e in entries if "run" in e]:
                self.last_run = {} if "started" in run else self.last_run
                self.last_run.update(run)
                self._run_lines += 1
            entries = [e for e in entries if "run" not in e]
            recs = [record_of(LEGACY_FIELDS, e["r"]) if isinstance(e["r"], list) else e["r"]
                    for e in entries]  # arrays: written by papers before schema 4
            keys = [e["k"] for e in entries]
            self.records.update(zip(keys, self._decode_all(recs)))
            self._dirty.update(keys)
        except (ValueError, KeyError, TypeError):
            bad = next((n for n, line in enumerate(lines, first)
                        if line.strip() and not self._line_ok(line)), first)
            raise StateError(f"state journal {self.journal_path} is corrupt at line {bad}; "
                             "it was left untouched: move it away to drop the outcomes "
                             "recorded since the last snapshot") from None

    def _line_ok(self, line: bytes) -> bool:
        try:
            entry = json.loads(line)
            if isinstance(entry.get("run"), dict):
                return True
            rec = entry["r"]
            self._decode_all([record_of(LEGACY_FIELDS, rec) if isinstance(rec, list) else rec])
            return isinstance(entry["k"], str)
        except (ValueError, KeyError, TypeError):
            return False

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
        self._pending.append(json.dumps({"run": fields}, separators=(",", ":")))
        self._run_lines += 1

    def put(self, key: str, record: Any) -> None:
        """Record an outcome; it reaches disk at the next `flush`."""
        self.records[key] = record
        self._dirty.add(key)
        self._pending.append(json.dumps({"k": key, "r": self._encode(record)}, ensure_ascii=False,
                                        separators=(",", ":")))

    def flush(self) -> None:
        """Append pending records to the journal (the OS has them: they survive kill -9)."""
        if not self._pending:
            return
        if self._journal is None:
            self._drop_torn_tail()
            fd = os.open(self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.mode)
            self._journal = os.fdopen(fd, "ab")
        data = ("\n".join(self._pending) + "\n").encode("utf-8")
        self._journal.write(data)
        self._journal.flush()
        self._journal_lines += len(self._pending)
        self._pending.clear()
        self._unsynced = True

    def _drop_torn_tail(self) -> None:
        # A line cut short by a crash would end up in the middle of the journal
        # once we append: cut it off first (its paper is simply done again).
        try:
            f = open(self.journal_path, "r+b")
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

    def sync(self) -> None:
        """Flush and fsync the journal (survives power loss too)."""
        self.flush()
        if self._journal is not None and self._unsynced:
            os.fsync(self._journal.fileno())
            self._unsynced = False

    def compact_due(self) -> bool:
        """Whether the journal's outcomes have grown enough to fold into the snapshot now
        (the few lines that say when runs started and ended do not count)."""
        return self._journal_lines - self._run_lines >= self.journal_limit

    @property
    def journal_limit(self) -> int:
        """The outcomes the journal holds before it is folded into the snapshot."""
        return max(self.MIN_JOURNAL, len(self.records) // 16)

    @property
    def journal_lines(self) -> int:
        """Lines in the journal: the cost of replaying it at the next start."""
        return self._journal_lines

    def compact(self) -> None:
        """Write a full snapshot atomically, then empty the journal."""
        self.flush()
        if os.path.exists(self.path):
            # Keep the last good snapshot for recovery; link+replace is atomic.
            bak_tmp = self.backup_path + ".tmp"
            try:
                if os.path.exists(bak_tmp):
                    os.unlink(bak_tmp)
                os.link(self.path, bak_tmp)
                os.replace(bak_tmp, self.backup_path)
            except OSError:
                pass
        write_atomic(self.path, self._snapshot_lines(), self.mode)
        # Only now may the journal go: the snapshot holds everything it said.
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if os.path.exists(self.journal_path):
            os.unlink(self.journal_path)
        self._journal_lines = self._run_lines = 0
        self._unsynced = False
        self._old_layout = False
        self._dirty.clear()
        self._snapshot_lines_n = len(self.records)

    def adopt(self, records: dict[str, Any]) -> None:
        """Make `records` the whole state (merge-state); it reaches disk at `compact`."""
        self.records = records
        self._snapshot_lines_n = 0

    def _snapshot_lines(self) -> Iterator[bytes]:
        # One paper per line: still one JSON document, but read (and written) a run of
        # lines at a time, without a parse tree of the whole file.
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        head = {"schema": SCHEMA, **({"last_run": self.last_run} if self.last_run else {})}
        yield dumps(head)[:-1].encode() + b"," + _PAPERS + (b"\n" if self.records else b"")
        yield from self._paper_lines(dumps)
        yield b"\n}}\n"

    def _paper_lines(self, dumps: Callable[[Any], str]) -> Iterator[bytes]:
        """The papers' lines in `records` order, separated by ",\n", a run at a time.

        Runs of the old snapshot whose records have not changed since it was written are
        copied as they are; other lines are encoded anew, which costs seconds for a
        million records ("Compaction" in bench/RESULTS.md)."""
        dirty, records, keys = self._dirty, self.records, iter(self.records)
        open_end = True  # what was written so far ends with a separator (or is nothing)
        for run, n in self._old_runs():
            run_keys = list(islice(keys, n))
            if len(run_keys) != n or not _in_step(run, run_keys):
                keys = chain(run_keys, keys)  # out of step with the records: encode the rest
                break
            if not dirty.isdisjoint(run_keys):
                lines = run.split(b"\n")
                for i in [i for i, k in enumerate(run_keys) if k in dirty]:
                    comma = b"," if lines[i].endswith(b",") else b""
                    lines[i] = self._line(dumps, run_keys[i], records[run_keys[i]]) + comma
                run = b"\n".join(lines)
            yield run
            open_end = run.endswith(b"\n")
        for batch in _batches(keys, 4096):
            yield (b"" if open_end else b",\n") + b",\n".join(self._line(dumps, k, records[k]) for k in batch)
            open_end = False

    def _line(self, dumps: Callable[[Any], str], key: str, record: Any) -> bytes:
        return f"{_key_json(key)}:{dumps(self._encode(record))}".encode()

    def _old_runs(self) -> Iterator[tuple[bytes, int]]:
        """The papers' part of the snapshot on disk, in runs of whole lines with their
        separators, and the number of lines in each; nothing if it is not the snapshot
        this store loaded or last wrote."""
        if not self._snapshot_lines_n or self._old_layout:
            return
        with open(self.path, "rb") as f:
            f.readline()  # the head
            end = os.fstat(f.fileno()).st_size - len(b"\n}}\n")
            for run in _line_runs(f, self.BLOCK, end):
                if run:
                    yield run, run.count(b"\n") + (not run.endswith(b"\n"))

    def close(self, compact: bool = True) -> None:
        """Persist everything and release the lock."""
        try:
            self.flush()
            # Only new outcomes make a small state worth rewriting, not the lines of runs.
            small = len(self.records) <= self.SMALL and self._journal_lines > self._run_lines
            if compact and (small or self.compact_due() or self._old_layout
                            or not os.path.exists(self.path)):
                self.compact()
            else:
                self.sync()
        finally:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None
