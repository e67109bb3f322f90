"""`papers status` and `papers verify`: what the state files say, and whether the disk
agrees. Both read state files without taking their lock, so they work while a run
is going; `verify --fix` takes it."""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from papers.disk.files import SUSPECT, aside_name, pdf_problem
from papers.errors import StateError
from papers.model import Status
from papers.state.records import PaperRecord, iso
from papers.state.store import StateStore

EXAMPLES_PER_REASON = 3
_URL = re.compile(r"\bhttps?://[^\s;,()]+")
# A count or a size, not a part of an identifier (the 1234 of 10.1234/x).
_BIG_NUMBER = re.compile(r"(?<![\w./:])\d{4,}(?![\w./])")
_PLACE = re.compile(r"^\S+:\d+: ")  # the file:line of a bad input entry
_STATE_FILE = re.compile(r"(.*/\.papers-state(?:\.\d+-of-\d+)?\.json)(?:\.journal)?")
_NOISE = re.compile(r"\s*\((?:tried URL|after \d+ attempts)\)|\s*\[closest: .*\]$")


def state_files(output_dirs: Iterable[str], states: Iterable[str]) -> list[str]:
    """The state files to read: those given, and every one in each output directory
    (`.papers-state.json`, and a shard's `.papers-state.K-of-N.json`)."""
    paths = [os.path.abspath(p) for p in states]
    for d in output_dirs:
        if not os.path.isdir(d):
            raise StateError(f"{d}: no such directory; name the output directory with -o DIR, "
                             "or a state file with --state FILE")
        # A run's first outcomes are in the journal alone until its first snapshot (and
        # stay so after kill -9): a state is its snapshot, its journal, or both.
        names = glob.glob(os.path.join(glob.escape(d), ".papers-state*.json*"))
        found = sorted({m.group(1) for m in map(_STATE_FILE.fullmatch, names) if m})
        if not found:
            raise StateError(f"{d}: no papers state file here (.papers-state.json); "
                             "was it the output directory of a run?")
        paths += [os.path.abspath(p) for p in found]
    for p in paths:
        if not os.path.exists(p) and not os.path.exists(p + ".journal"):
            raise StateError(f"state file {p}: no such file")
    return list(dict.fromkeys(paths))


def load_records(paths: list[str]) -> tuple[dict[str, PaperRecord], list[dict[str, Any]]]:
    """The records of every state file, merged by paper (a download beats a failure,
    then the latest update wins), and each file's last run."""
    merged: dict[str, PaperRecord] = {}
    runs = []
    for path in paths:
        store = StateStore(path, PaperRecord)
        store.load()
        runs.append({"state": path, **store.last_run})
        for key, rec in store.records.items():
            old = merged.get(key)
            if old is None or _better(rec, old):
                merged[key] = rec
    return merged, runs


def _better(new: PaperRecord, old: PaperRecord) -> bool:
    if (new.status == Status.DOWNLOADED) != (old.status == Status.DOWNLOADED):
        return new.status == Status.DOWNLOADED
    return (new.updated or "") > (old.updated or "")


def reason_of(error: str | None) -> str:
    """A failure's reason without what differs from paper to paper (URLs, sizes), so
    that failures group: `HTTP 404 Not Found (tried https://x/1.pdf)` -> `HTTP 404 Not Found`."""
    text = _URL.sub("URL", _PLACE.sub("", error or "failed"))
    text = _NOISE.sub("", text)
    text = re.sub(r"\bURL:? ", "", text)  # `URL: reason` of one candidate among several
    return _BIG_NUMBER.sub("N", text).strip()


@dataclass(slots=True)
class Report:
    """What `papers status` prints."""

    states: list[str]
    papers: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)  # reason, count, examples
    runs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"states": self.states, "papers": self.papers, "by_status": self.by_status,
                "bytes": self.bytes, "failures": self.failures, "runs": self.runs}


def report(paths: list[str]) -> tuple[Report, dict[str, PaperRecord]]:
    """The report over the state files at `paths`, and their merged records."""
    records, runs = load_records(paths)
    rep = Report(states=paths, papers=len(records), runs=runs)
    rep.by_status = dict(Counter(r.status for r in records.values()))
    rep.bytes = sum(r.bytes or 0 for r in records.values() if r.status == Status.DOWNLOADED)
    groups: dict[str, list[str]] = {}
    for key, r in records.items():
        if r.status == Status.FAILED:
            groups.setdefault(reason_of(r.error), []).append(r.id or key)
    rep.failures = [{"reason": reason, "count": len(ids), "examples": ids[:EXAMPLES_PER_REASON]}
                    for reason, ids in sorted(groups.items(), key=lambda kv: -len(kv[1]))]
    return rep, records


def describe(rep: Report) -> list[str]:
    """The report as lines for a person."""
    from papers.output.display import human_bytes

    counts = ", ".join(f"{n:,} {status}" for status, n in sorted(rep.by_status.items()))
    lines = [f"{rep.papers:,} papers in {', '.join(rep.states)}" + (f": {counts}" if counts else ""),
             f"on disk: {human_bytes(rep.bytes)} in {rep.by_status.get(Status.DOWNLOADED, 0):,} files"]
    for run in rep.runs:
        if run.get("started"):
            ended = run.get("ended") or "did not end cleanly (killed, or still running)"
            where = f" ({run['state']})" if len(rep.runs) > 1 else ""
            lines.append(f"last run{where}: {run.get('command', 'download')} started "
                         f"{run['started']}, ended {ended}")
    if rep.failures:
        lines.append("failures by reason:")
        for f in rep.failures:
            more = f", … {f['count'] - len(f['examples'])} more" if f["count"] > len(f["examples"]) else ""
            lines.append(f"  {f['count']:>6,}  {f['reason']}")
            lines.append(f"          e.g. {', '.join(f['examples'])}{more}")
    return lines


@dataclass(frozen=True, slots=True)
class Problem:
    """A recorded download that the disk does not bear out."""

    key: str
    record: PaperRecord
    what: str


def check(key: str, rec: PaperRecord, identity: bool = False) -> Problem | None:
    """Whether `rec`'s file is there, of its size, with its SHA-256 and a PDF header
    (and, with `identity`, is the paper of the record)."""
    problem = pdf_problem(rec.path or "", rec.bytes, rec.sha256)
    if problem is not None:
        return Problem(key, rec, problem)
    return identity_problem(key, rec) if identity else None


def verify(records: dict[str, PaperRecord], identity: bool = False) -> list[Problem]:
    """Every downloaded record checked against the disk; with `identity`, each file
    that is as recorded is also held against its record's DOI and title."""
    return [p for key, rec in records.items() if rec.status == Status.DOWNLOADED
            for p in [check(key, rec, identity)] if p is not None]


WRONG_PAPER = "wrong paper: "


def identity_problem(key: str, rec: PaperRecord) -> Problem | None:
    """Whether `rec`'s file is another paper (download.identity's rule)."""
    from papers.download.identity import check as check_identity

    doi = key[4:] if key.startswith("doi:") else None
    verdict = check_identity(rec.path or "", doi, rec.title)
    return Problem(key, rec, WRONG_PAPER + verdict.describe()) if verdict.wrong else None


def fix(path: str, problems: list[Problem], now: float) -> None:
    """Mark each problem's paper failed (not permanently) in the state at `path`, so the
    next download fetches it again; a changed file is kept aside as NAME.bad."""
    store = StateStore.open(path, PaperRecord)
    try:
        for p in problems:
            if p.key not in store.records:
                continue
            wrong = p.what.startswith(WRONG_PAPER)
            if p.what != "missing" and p.record.path and os.path.exists(p.record.path):
                _set_aside(p.record, SUSPECT if wrong else ".bad")
            store.put(p.key, p.record._replace(status=Status.FAILED.value, permanent=False,
                                               updated=iso(now), error=f"verify: {p.what}",
                                               identity="mismatch" if wrong else p.record.identity))
    finally:
        store.close()


def _set_aside(rec: PaperRecord, suffix: str) -> None:
    path = rec.path or ""
    if suffix == SUSPECT:  # the file is whole: kept once, beside any earlier one
        os.replace(path, aside_name(path, suffix, rec.bytes or 0, rec.sha256 or ""))
    else:
        os.replace(path, path + suffix)


def merge_states(out: str, paths: list[str]) -> int:
    """Write one state file at `out` from the states at `paths` (and `out`'s own records,
    if it exists): a download beats a failure, then the latest update wins. StateError,
    with nothing written, if two states recorded one paper as downloaded to different
    files or bytes. Returns the number of papers."""
    merged: dict[str, PaperRecord] = {}
    conflicts: list[str] = []
    if os.path.exists(out) and out not in paths:
        paths = [out, *paths]
    for path in paths:
        store = StateStore(path, PaperRecord)
        store.load()
        for key, rec in store.records.items():
            old = merged.get(key)
            if old is not None and old.status == rec.status == Status.DOWNLOADED \
                    and (old.sha256, old.path) != (rec.sha256, rec.path):
                conflicts.append(f"{key} ({old.path} against {rec.path})")
            elif old is None or _better(rec, old):
                merged[key] = rec
    if conflicts:
        raise StateError(f"refusing to merge: {len(conflicts)} paper(s) were downloaded differently "
                         f"in different states, e.g. {'; '.join(conflicts[:3])}")
    target = StateStore.open(out, PaperRecord)
    try:
        target.adopt(merged)
        target.compact()
    finally:
        target.close(compact=False)
    return len(target.records)


def status_lines(paths: list[str], as_json: bool, which: str | None) -> list[str]:
    """`papers status`: the ids of the papers `which` (downloaded or failed) if given, else
    the report as one JSON object (`as_json`) or as lines for a person."""
    import json

    rep, records = report(paths)
    if which == "blocked":
        return blocked_lines(records, as_json)
    if which:
        # A bad input entry's id is its file:line, which no later run can take as a paper.
        return [rec.id or key for key, rec in records.items()
                if rec.status == which and not key.startswith("junk:")]
    return [json.dumps(rep.as_json(), ensure_ascii=False)] if as_json else describe(rep)


def blocked_lines(records: dict[str, PaperRecord], as_json: bool) -> list[str]:
    """`papers status --blocked`: the papers a wall stopped, by host and kind, the hosts
    with most first; for a person, each group's line then its papers' ids."""
    import json

    from papers.download.blocked import what

    groups: dict[tuple[str, str], list[str]] = {}
    for key, rec in records.items():
        if rec.status == Status.FAILED and rec.blocked:
            groups.setdefault((rec.blocked_at or "?", rec.blocked), []).append(rec.id or key)
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    if as_json:
        return [json.dumps({"blocked": [{"host": h, "kind": k, "papers": ids}
                                        for (h, k), ids in ranked]}, ensure_ascii=False)]
    lines = []
    for (host, kind), ids in ranked:
        lines.append(f"{host}: {len(ids)} paper(s) blocked by {what(kind)}")
        lines += [f"  {i}" for i in ids]
    return lines


def verify_paths(paths: list[str], fix_them: bool, now: float,
                 identity: bool = False) -> tuple[list[str], list[str]]:
    """`papers verify`: a line for each file missing or changed (path, what, id), and what
    to say on stderr; with `identity`, each file that is another paper too; with
    `fix_them`, those papers are marked for the next download."""
    records, _ = load_records(paths)
    problems = verify(records, identity)
    found = [f"{p.record.path}\t{p.what}\t{p.record.id or p.key}" for p in problems]
    checked = sum(r.status == Status.DOWNLOADED for r in records.values())
    wrong = sum(p.what.startswith(WRONG_PAPER) for p in problems)
    said = [f"{checked:,} files checked, {len(problems) - wrong:,} missing or changed"
            + (f", {wrong:,} wrong paper{'s' if wrong != 1 else ''}" if identity else "")]
    if problems and fix_them:
        for path in paths:
            fix(path, problems, now)
        said.append(f"marked {len(problems):,} for the next download")
    return found, said
