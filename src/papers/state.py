"""The JSON state file: every paper's outcome, safe against crashes.

Layout (schema 3): `<state>` is one JSON document

    {"schema": 3, "fields": ["id", "status", ...], "blocks": [
    {"keys": [k1, k2, ...], "columns": [[id1, id2, ...], [status1, status2, ...], ...]},
    ...
    ]}

written one block of up to BLOCK_RECORDS records per line, each block column by
column in `fields` order: parsed a block at a time, a million records load in
about a second and a half and take a few hundred MB (repeated values are
shared). Schema 2 (`"papers": {key: [values...]}`, a record per line) and
schema 1 (records as objects) still load. `<state>.journal` holds one JSON line
per outcome recorded since the snapshot: recording an outcome appends one line
(O(1), no rewrite of the whole file); the snapshot is rewritten atomically
(temp file, fsync, os.replace) when the journal grows and at the end of a run.
Loading replays the journal over the snapshot, ignoring a torn last line left
by `kill -9`. The previous snapshot is kept as `<state>.bak`.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Iterable
from itertools import islice
from typing import Any

from papers.errors import StateError

SCHEMA = 3
BLOCK_RECORDS = 4096  # records per line of the snapshot


class Record(tuple):
    """A compact state record: a tuple of values in its class's FIELDS order.

    Reads like a mapping (`rec.get("status")`, `rec["url"]`) so callers need
    not know the layout; a million of them cost a fraction of dicts.
    """

    __slots__ = ()
    FIELDS: tuple[str, ...] = ()
    INDEX: dict[str, int] = {}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Record":
        return cls(d.get(f) for f in cls.FIELDS)

    INTERN: tuple[int, ...] = ()
    SAME: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_list(cls, values: list[Any]) -> "Record":
        n = len(cls.FIELDS)
        if len(values) != n:
            values = values[:n] if len(values) > n else [*values, *([None] * (n - len(values)))]
        for i in cls.INTERN:
            # Statuses and timestamps repeat across a million records: share them.
            v = values[i]
            if type(v) is str:
                values[i] = sys.intern(v)
        return cls(values)

    def get(self, name: str, default: Any = None) -> Any:
        i = self.INDEX.get(name)
        v = tuple.__getitem__(self, i) if i is not None else None
        return default if v is None else v

    def __getitem__(self, name):  # type: ignore[override]
        if isinstance(name, str):
            i = self.INDEX.get(name)
            if i is None:
                raise KeyError(name)
            return tuple.__getitem__(self, i)
        return tuple.__getitem__(self, name)

    def as_dict(self) -> dict[str, Any]:
        return {f: v for f, v in zip(self.FIELDS, self) if v is not None}


_SHARED_VALUES = {"status", "first_seen", "updated", "finished"}  # strings that repeat
_OFTEN_EQUAL = (("url", "id"),)  # (field, field whose equal value it may share)


def record_type(fields: tuple[str, ...]) -> type[Record]:
    """A Record class for `fields`."""
    return type("Record", (Record,), {
        "__slots__": (), "FIELDS": tuple(fields), "INDEX": {f: i for i, f in enumerate(fields)},
        "INTERN": tuple(i for i, f in enumerate(fields) if f in _SHARED_VALUES),
        "SAME": tuple((fields.index(a), fields.index(b)) for a, b in _OFTEN_EQUAL
                      if a in fields and b in fields)})


_STR_OR_NONE = {str, type(None)}


def _one_of(value: Any, other: Any) -> Any:
    return other if value == other else value


def fsync_dir(path: str) -> None:
    """Make a rename inside directory `path` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes | Iterable[bytes]) -> None:
    """Replace `path` with `data` (bytes, or pieces of it) so that readers see the old
    or the new file, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        if isinstance(data, bytes):
            f.write(data)
        else:
            f.writelines(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(directory)


class StateStore:
    """Load, update and persist per-paper records. Used by one thread only."""

    BLOCK = 1 << 22  # snapshot bytes parsed per json call when loading

    def __init__(self, path: str, fields: tuple[str, ...] | None = None) -> None:
        """`fields`: keep records as compact Records with these fields (None: plain dicts)."""
        self.path = os.path.abspath(path)
        self.rtype = record_type(fields) if fields else None
        self.journal_path = self.path + ".journal"
        self.lock_path = self.path + ".lock"
        self.backup_path = self.path + ".bak"
        self.records: dict[str, dict[str, Any]] = {}
        self._pending: list[str] = []
        self._journal_lines = 0
        self._journal = None
        self._lock_fd: int | None = None
        self._unsynced = False
        self._old_layout = False  # loaded from an older or hand-made layout: rewrite at close

    # -- opening -----------------------------------------------------------
    @classmethod
    def open(cls, path: str, fields: tuple[str, ...] | None = None) -> "StateStore":
        """Lock and load the state at `path`; StateError (lock released) if unusable."""
        store = cls(path, fields)
        store.lock()
        try:
            store.load()
        except StateError:
            store.close(compact=False)
            raise
        return store

    def lock(self) -> None:
        """Take an exclusive lock so that two runs cannot share one state file."""
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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

    def load(self) -> None:
        """Read the snapshot and replay the journal. Raises StateError if corrupt."""
        # A million new containers would set off the cyclic GC again and again, each pass
        # walking everything loaded so far: 6.4 s -> 4.2 s for a 1M-record state.
        enabled = gc.isenabled()
        gc.disable()
        try:
            self._load()
        finally:
            if enabled:
                gc.enable()

    def _load(self) -> None:
        self.records = {}
        try:
            with open(self.path, "rb", buffering=1 << 22) as f:  # whole block lines in one buffer
                # Record by record when the layout allows: no whole-file parse tree.
                raw = None if self.rtype is not None and self._load_lines(f) else (f.seek(0), f.read())[1]
        except FileNotFoundError:
            raw = None
        except OSError as e:
            raise StateError(f"state file {self.path}: cannot read ({e.strerror})") from None
        if raw is not None:
            self._old_layout = self.rtype is not None  # dict stores have no other layout
            try:
                data = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise self._corrupt(f"not valid JSON ({e})") from None
            if not isinstance(data, dict) or not (isinstance(data.get("papers"), dict)
                                                  or isinstance(data.get("blocks"), list)):
                raise self._corrupt('expected {"schema": 3, "fields": [...], "blocks": [...]}')
            schema = data.get("schema")
            if not isinstance(schema, int) or schema > SCHEMA:
                raise StateError(f"state file {self.path} has schema {schema!r}; this papers "
                                 f"understands schema {SCHEMA}: upgrade papers or use another --state")
            fields = data.get("fields") if isinstance(data.get("fields"), list) else None
            if isinstance(data.get("blocks"), list):
                self.records = self._from_blocks(data["blocks"], fields)
            else:
                self.records = data["papers"]
                if self.rtype is not None:
                    self.records = {k: self._convert(v, fields) for k, v in self.records.items()}
            del data, raw
        self._replay_journal()

    def _load_lines(self, f: Any) -> bool:
        """Read a snapshot laid out as `compact` writes it (a block per line; schema 2:
        a record per line), without a parse tree of the whole file.

        False when the file is laid out otherwise (hand-edited, pretty-printed) or
        damaged: the caller then parses it whole, which also reports damage precisely.
        """
        assert self.rtype is not None
        first = f.readline().rstrip(b"\n")
        if not first.startswith(b'{"schema":'):
            return False
        if first.endswith(b'"blocks":['):
            tail = b"]}"
        elif first.endswith(b'"papers":{'):
            tail = b"}}"
        else:
            return False
        try:
            head = json.loads(first + tail)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
        schema, fields = head.get("schema"), head.get("fields")
        if not isinstance(schema, int) or schema > SCHEMA or not isinstance(fields, list):
            return False
        records: dict[str, Record] = {}
        shared: dict[int, dict[Any, Any]] = {i: {} for i in self.rtype.INTERN}
        try:
            if tail == b"]}":
                for line in f:
                    line = line.rstrip()
                    if line == b"]}":
                        break
                    # One json call per block of records, one C-level pass per column.
                    if not self._add_columns(records, json.loads(line.rstrip(b",")), fields, shared):
                        return False
                else:
                    return False  # no closing line: not a complete snapshot
                rest = b""
            else:
                ok, rest = self._load_rows(f, records, fields, shared)
                if not ok:
                    return False
                self._old_layout = True
            if (rest + f.read(1 << 10)).strip():
                return False  # something after the closing line
        except (ValueError, TypeError, IndexError):
            return False
        self.records = records
        return True

    def _load_rows(self, f: Any, records: dict[str, Record], fields: list[str],
                   shared: dict[int, dict[Any, Any]]) -> tuple[bool, bytes]:
        """Schema 2, a record per line ("key":[...],), parsed BLOCK bytes at a time.
        Returns (complete, what was read past the closing line)."""
        rest = b""
        while True:
            chunk = f.read(self.BLOCK)
            if not chunk:
                return False, b""  # no closing line: not a complete snapshot
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            chunk, rest = chunk[:cut], chunk[cut:]
            closed = chunk.endswith(b"\n}}\n") or chunk == b"}}\n"
            body = (chunk[:-3] if closed else chunk).rstrip().rstrip(b",")
            if body:
                # A run of whole lines is one JSON object once braced.
                parsed = json.loads(b"{" + body + b"}")
                if type(parsed) is not dict:
                    return False, b""
                rows = list(parsed.values())
                if set(map(type, rows)) == {list} and set(map(len, rows)) == {len(fields)}:
                    block = {"keys": list(parsed), "columns": [list(c) for c in zip(*rows)]}
                    if not self._add_columns(records, block, fields, shared):
                        return False, b""
                else:
                    for key, values in parsed.items():  # ragged rows: record by record
                        records[key] = self._convert(values, fields)
            if closed:
                return True, rest

    def _add_columns(self, records: dict[str, Record], block: Any, fields: list[str],
                     shared: dict[int, dict[Any, Any]]) -> bool:
        """Add one block {"keys": [...], "columns": [[...], ...]} as Records, with C-level
        loops only; False if the block is malformed."""
        assert self.rtype is not None
        if type(block) is not dict:
            return False
        keys, columns = block.get("keys"), block.get("columns")
        if type(keys) is not list or type(columns) is not list or len(columns) != len(fields):
            return False
        if any(type(c) is not list or len(c) != len(keys) for c in columns):
            return False
        rtype = self.rtype
        if tuple(fields) != rtype.FIELDS:
            # Written by a papers with other fields: match them by name.
            index = {f: i for i, f in enumerate(fields)}
            none = [None] * len(keys)
            columns = [columns[index[f]] if f in index else none for f in rtype.FIELDS]
        for i in rtype.INTERN:
            col = columns[i]
            # Repeated values (statuses, timestamps) shared across a million records.
            if set(map(type, col)) <= _STR_OR_NONE:
                columns[i] = list(map(shared[i].setdefault, col, col))
            else:  # keyed by (type, value): 1 == True, but a 1 must not come back as True
                columns[i] = list(map(shared[i].setdefault, zip(map(type, col), col), col))
        for i, j in rtype.SAME:
            # A paper given by URL has that URL as id and url: keep one string, not two.
            columns[i] = list(map(_one_of, columns[i], columns[j]))
        records.update(zip(keys, map(rtype, zip(*columns))))
        return True

    def _from_blocks(self, blocks: list[Any], fields: list[str] | None) -> dict[str, Any]:
        """Records from a wholly parsed schema 3 document; StateError if malformed."""
        if fields is None:
            raise self._corrupt('a "blocks" snapshot needs its "fields"')
        records: dict[str, Any] = {}
        shared: dict[int, dict[Any, Any]] = {i: {} for i in (self.rtype.INTERN if self.rtype else ())}
        for n, block in enumerate(blocks, 1):
            if self.rtype is not None:
                ok = self._add_columns(records, block, fields, shared)
            else:
                ok = (type(block) is dict and isinstance(block.get("keys"), list)
                      and isinstance(block.get("columns"), list))
                if ok:
                    for key, row in zip(block["keys"], zip(*block["columns"])):
                        records[key] = {f: v for f, v in zip(fields, row) if v is not None}
            if not ok:
                raise self._corrupt(f'block {n} is not {{"keys": [...], "columns": [...]}} '
                                    "with one column per field")
        return records

    def _corrupt(self, why: str) -> StateError:
        hint = (f"; the previous good copy is {self.backup_path}: "
                f"`mv {self.backup_path} {self.path}` to recover it"
                if os.path.exists(self.backup_path) else
                "; move it away to start over")
        return StateError(f"state file {self.path} is corrupt: {why}. It was left untouched{hint}")

    def _replay_journal(self) -> None:
        try:
            with open(self.journal_path, "rb") as f:
                lines = f.read().split(b"\n")
        except FileNotFoundError:
            return
        except OSError as e:
            raise StateError(f"state journal {self.journal_path}: cannot read ({e.strerror})") from None
        # The last element is b"" after a complete final line, or a torn line after kill -9.
        complete, torn = lines[:-1], lines[-1]
        for n, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                rec = entry["r"]
                self.records[entry["k"]] = self._convert(rec, None) if self.rtype is not None else rec
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                raise StateError(f"state journal {self.journal_path} is corrupt at line {n}; "
                                 "it was left untouched: move it away to drop the outcomes "
                                 "recorded since the last snapshot") from None
            self._journal_lines += 1
        if torn.strip():
            # A record cut short by a crash; its paper is simply done again.
            self._journal_lines += 1

    # -- updating ----------------------------------------------------------
    def get(self, key: str) -> dict[str, Any] | None:
        """The record for `key`, or None."""
        return self.records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Record an outcome; it reaches disk at the next `flush`."""
        if self.rtype is not None:
            record = self.rtype.from_dict(record)  # type: ignore[assignment]
        self.records[key] = record
        self._pending.append(json.dumps({"k": key, "r": record}, ensure_ascii=False,
                                        separators=(",", ":")))

    def _convert(self, value: Any, fields: list[str] | None) -> Record:
        assert self.rtype is not None
        if isinstance(value, dict):
            return self.rtype.from_dict(value)  # schema 1
        if fields is None or tuple(fields) == self.rtype.FIELDS:
            return self.rtype.from_list(value)
        return self.rtype.from_dict(dict(zip(fields, value)))

    def flush(self) -> None:
        """Append pending records to the journal (the OS has them: they survive kill -9)."""
        if not self._pending:
            return
        if self._journal is None:
            self._drop_torn_tail()
            self._journal = open(self.journal_path, "ab")
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

    @property
    def journal_lines(self) -> int:
        """Lines in the journal: the cost of replaying it at the next start."""
        return self._journal_lines

    def compact(self) -> None:
        """Write a full snapshot atomically, then empty the journal."""
        self.flush()
        if self.rtype is not None:
            data: Any = self._snapshot_lines()
        else:  # plain dict records: an object per key
            data = json.dumps({"schema": SCHEMA, "papers": self.records}, ensure_ascii=False,
                              separators=(",", ":")).encode("utf-8")
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
        write_atomic(self.path, data)
        # Only now may the journal go: the snapshot holds everything it said.
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if os.path.exists(self.journal_path):
            os.unlink(self.journal_path)
        self._journal_lines = 0
        self._unsynced = False

    def _snapshot_lines(self) -> Iterable[bytes]:
        # A block of records per line, column by column: still one JSON document, but
        # read (and written) a block at a time, without a parse tree of the whole file.
        assert self.rtype is not None
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        yield (dumps({"schema": SCHEMA, "fields": list(self.rtype.FIELDS)})[:-1] + ',"blocks":[\n').encode()
        items = iter(self.records.items())
        sep = ""
        while True:
            block = list(islice(items, BLOCK_RECORDS))
            if not block:
                break
            keys = [k for k, _ in block]
            columns = [list(c) for c in zip(*(v for _, v in block))]
            yield (sep + dumps({"keys": keys, "columns": columns})).encode("utf-8")
            sep = ",\n"
        yield b"\n]}\n"

    def close(self, compact: bool = True) -> None:
        """Persist everything and release the lock."""
        try:
            if compact and (self._journal_lines or self._pending or self._old_layout
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
