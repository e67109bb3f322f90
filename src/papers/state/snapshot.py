"""The snapshot of a state file: one JSON document with one paper per line (schema 4),

    {"schema":4,"papers":{
    "doi:10.1/x":{"id":"10.1/x","status":"downloaded","path":"...","bytes":123,...},
    "arxiv:1706.03762":{"id":"arXiv:1706.03762","status":"failed","error":"...",...}
    }}

so `jq '.papers["doi:10.1/x"]' state.json` and `grep` both find a paper. It is read
and written a run of lines at a time, without a parse tree of the whole file. Older
layouts (schemas 1 to 3) are read through one path, `upgrade`. A new snapshot replaces
the old one atomically, copying the lines of unchanged papers as they are, and the old
one is kept as `<state>.bak`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice
from typing import Any

from papers.disk.durable import write_atomic
from papers.errors import StateError
from papers.state.journal import Decode, line_runs
from papers.state.layouts import upgrade

_key_json = json.encoder.encode_basestring  # type: ignore[attr-defined]  # as dumps writes a str

SCHEMA = 4
_PAPERS = b'"papers":{'  # the head line ends here; then a paper per line


class Snapshot:
    """Load, upgrade and write the snapshot at `path`. `decode_all` and `encode` turn
    JSON objects into records and back."""

    def __init__(self, path: str, mode: int, decode_all: Decode,
                 encode: Callable[[Any], Any]) -> None:
        self.path, self.mode = path, mode
        self.backup_path = path + ".bak"
        self.decode_all, self.encode = decode_all, encode
        self.in_order = 0         # lines on disk, in the order of the records loaded or written
        self.old_layout = False   # loaded from an older or hand-made layout: rewrite it

    # -- loading -----------------------------------------------------------------
    def load(self, block: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(records, last run's facts) from the file, `block` bytes of lines per json call;
        empty if there is none. StateError if it is corrupt or from a newer papers."""
        try:
            with open(self.path, "rb") as f:
                got = self._load_lines(f, block)
                if got is not None:
                    return got
                f.seek(0)
                raw = f.read()
        except FileNotFoundError:
            return {}, {}
        except OSError as e:
            raise StateError(f"state file {self.path}: cannot read ({e.strerror})") from None
        self.old_layout = True
        try:
            data = json.loads(raw)
            del raw
            schema = data.get("schema") if isinstance(data, dict) else None
            if isinstance(schema, int) and schema > SCHEMA:
                raise StateError(f"state file {self.path} was written by a newer papers (schema "
                                 f"{schema}; this one reads up to {SCHEMA}): upgrade papers or "
                                 "use another --state")
            records = upgrade(data)
            last_run = data.get("last_run") if isinstance(data.get("last_run"), dict) else {}
            del data
            return dict(zip(records, self.decode_all(list(records.values())))), last_run
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise self._corrupt(f"not valid JSON ({e})") from None
        except ValueError as e:
            raise self._corrupt(str(e)) from None

    def _load_lines(self, f: Any, block: int) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Read a snapshot laid out as `write` writes it. None when the file is laid out
        otherwise (older, hand-edited, pretty-printed) or damaged: the caller then parses
        it whole, which also reports damage precisely."""
        try:
            head = json.loads(f.readline().rstrip(b"\n") + b"}}")
        except ValueError:
            return None
        if not isinstance(head, dict) or head.get("schema") != SCHEMA or head.get("papers") != {}:
            return None
        last_run = head.get("last_run") if isinstance(head.get("last_run"), dict) else {}
        records: dict[str, Any] = {}
        closed = False
        try:
            for run in line_runs(f, block):
                if closed:
                    if run.strip():
                        return None  # something after the closing line
                    continue
                closed = run.endswith(b"\n}}\n") or run == b"}}\n"
                body = (run[:-3] if closed else run).rstrip().rstrip(b",")
                if body:
                    # A run of whole lines is one JSON object once braced.
                    parsed = json.loads(b"{" + body + b"}")
                    records.update(zip(parsed, self.decode_all(list(parsed.values()))))
        except ValueError:
            return None
        if not closed:
            return None  # no closing line: not a complete snapshot
        self.in_order = len(records)
        return records, last_run

    def _corrupt(self, why: str) -> StateError:
        hint = (f"; the previous good copy is {self.backup_path}: "
                f"`mv {self.backup_path} {self.path}` to recover it"
                if os.path.exists(self.backup_path) else
                "; move it away to start over")
        return StateError(f"state file {self.path} is corrupt: {why}. It was left untouched{hint}")

    # -- writing -----------------------------------------------------------------
    def write(self, records: dict[str, Any], last_run: dict[str, Any], dirty: set[str],
              block: int) -> None:
        """Replace the snapshot with `records` atomically, keeping the old one as the
        backup. `dirty`: the papers whose lines on disk are out of date."""
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
        write_atomic(self.path, self._lines(records, last_run, dirty, block), self.mode)
        self.in_order = len(records)
        self.old_layout = False

    def _lines(self, records: dict[str, Any], last_run: dict[str, Any], dirty: set[str],
               block: int) -> Iterator[bytes]:
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        head = {"schema": SCHEMA, **({"last_run": last_run} if last_run else {})}
        yield dumps(head)[:-1].encode() + b"," + _PAPERS + (b"\n" if records else b"")
        yield from self._paper_lines(records, dirty, dumps, block)
        yield b"\n}}\n"

    def _paper_lines(self, records: dict[str, Any], dirty: set[str],
                     dumps: Callable[[Any], str], block: int) -> Iterator[bytes]:
        """The papers' lines in `records` order, separated by ",\\n", a run at a time.

        Runs of the old snapshot whose records have not changed since it was written are
        copied as they are; other lines are encoded anew, which costs seconds for a
        million records ("Compaction" in bench/AB.md)."""
        keys: Iterator[str] = iter(records)
        open_end = True  # what was written so far ends with a separator (or is nothing)
        for run, n in self._old_runs(block):
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
        return f"{_key_json(key)}:{dumps(self.encode(record))}".encode()

    def _old_runs(self, block: int) -> Iterator[tuple[bytes, int]]:
        """The papers' part of the snapshot on disk, in runs of whole lines with their
        separators, and the number of lines in each; nothing if it is not the snapshot
        that was loaded or last written."""
        if not self.in_order or self.old_layout:
            return
        with open(self.path, "rb") as f:
            f.readline()  # the head
            end = os.fstat(f.fileno()).st_size - len(b"\n}}\n")
            for run in line_runs(f, block, end):
                if run:
                    yield run, run.count(b"\n") + (not run.endswith(b"\n"))


def _batches(items: Iterable[Any], n: int) -> Iterator[list[Any]]:
    it = iter(items)
    while batch := list(islice(it, n)):
        yield batch


def _in_step(run: bytes, keys: list[str]) -> bool:
    """Whether the first and last lines of a run of snapshot lines are those of the
    first and last of `keys` (lines are only ever replaced or added at the end, so a
    shift shows at the ends)."""
    end = len(run) - run.endswith(b"\n")
    last = run.rfind(b"\n", 0, end) + 1
    return run.startswith(_key_json(keys[0]).encode()) and run.startswith(_key_json(keys[-1]).encode(), last)
