"""A download state's record of one paper (`PaperRecord`), and how an outcome makes one."""

from __future__ import annotations

import time
from itertools import repeat
from typing import Any, NamedTuple

from papers.model import Outcome, Paper, Status
from papers.redact import redacted


class PaperRecord(NamedTuple):
    """One paper's line in a download state file. Immutable: a new outcome makes a new
    record (`record_outcome`)."""

    id: str
    status: str                       # a Status value: downloaded or failed
    path: str | None = None           # the finished file (downloaded)
    bytes: int | None = None
    sha256: str | None = None
    url: str | None = None            # the candidate URL, as given
    attempts: int = 0                 # over every run
    error: str | None = None          # why it failed
    permanent: bool | None = None     # a failure that retrying will not fix
    first_seen: str | None = None     # ISO-8601 UTC times
    updated: str | None = None
    finished: str | None = None
    title: str | None = None
    etag: str | None = None           # validators of a kept .part, for a Range resume
    last_modified: str | None = None
    pdf_url: str | None = None        # where the bytes came from
    size_limit: int | None = None     # failed as too large under this --max-size
    duplicate_of: str | None = None   # downloaded: the same file as this paper's (its id)
    version: str | None = None        # downloaded: publishedVersion | acceptedVersion | submittedVersion
    license: str | None = None        # downloaded: the licence a source named for the file
    looked_up: bool | None = None     # failed: every source was asked too (not only its own URLs)
    match: dict[str, Any] | None = None  # a reference string's: status, score, source, query, ...
    blocked: str | None = None        # failed at a wall: its kind (cloudflare, login, ...) ...
    blocked_at: str | None = None     # ... and the host that put it up
    identity: str | None = None       # doi | title | unchecked | mismatch (download.identity)

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object, without empty fields."""
        return {f: v for f, v in zip(FIELDS, self) if v is not None}

    @classmethod
    def decode_all(cls, objs: list[Any]) -> list["PaperRecord"]:
        """Records from their JSON objects, field by field in C-level passes (a million
        load in seconds, "State loading" in bench/AB.md). Values that repeat across
        records (statuses, times) are shared, not copied. Fields a newer papers added
        are dropped. ValueError if an object is not a record."""
        try:
            columns = [list(map(dict.get, objs, repeat(f), repeat(d))) for f, d in _DEFAULTS]
        except TypeError:
            raise ValueError("a paper record is not an object") from None
        for col in columns[:2]:  # id, status
            if set(map(type, col)) - {str}:
                raise ValueError("not a paper record: it needs an \"id\" and a \"status\"")
        for i in _SHARED:
            col, shared = columns[i], {}
            # Keyed by (type, value) unless all are strings: 1 == True, but a 1 must not
            # come back as True.
            keys = col if set(map(type, col)) <= _STR_OR_NONE else zip(map(type, col), col)
            columns[i] = list(map(shared.setdefault, keys, col))
        columns[_URL] = list(map(_one_of, columns[_URL], columns[0]))  # a URL given as the id
        return list(map(cls._make, zip(*columns)))


FIELDS = PaperRecord._fields


_DEFAULTS = tuple((f, PaperRecord._field_defaults.get(f)) for f in FIELDS)


_SHARED = tuple(FIELDS.index(f) for f in ("status", "first_seen", "updated", "finished"))


_URL = FIELDS.index("url")


_STR_OR_NONE = {str, type(None)}


def _one_of(value: Any, other: Any) -> Any:
    return other if value == other else value


def iso(ts: float | None) -> str | None:
    """A UNIX time as an ISO-8601 UTC string (None stays None)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def record_outcome(paper: Paper, outcome: Outcome, prior: PaperRecord | None,
                   now: float) -> PaperRecord:
    """The record for a paper after `outcome`, carrying history from `prior`."""
    done = outcome.status in (Status.DOWNLOADED, Status.SKIPPED)
    rec = PaperRecord(
        id=redacted(paper.id) or paper.key, status=(Status.DOWNLOADED if done else Status.FAILED).value,
        path=outcome.path, bytes=outcome.bytes, sha256=outcome.sha256, url=redacted(outcome.url),
        attempts=((prior and prior.attempts) or 0) + outcome.attempts, error=redacted(outcome.error),
        first_seen=(prior and prior.first_seen) or iso(outcome.started or now), updated=iso(now),
        title=paper.title or None,
        match=paper.extra.get("match") or (prior.match if prior else None),
        identity=outcome.identity or (prior.identity if prior and outcome.status is Status.SKIPPED
                                      else None))
    if not done:
        return rec._replace(permanent=outcome.permanent, etag=outcome.etag,
                            last_modified=outcome.last_modified, size_limit=outcome.size_limit,
                            looked_up=outcome.looked_up or None, blocked=outcome.blocked,
                            blocked_at=outcome.blocked_at)
    same = outcome.duplicate_of or (prior.duplicate_of if prior and outcome.status is Status.SKIPPED
                                    else None)
    return rec._replace(
        finished=iso(outcome.finished) if outcome.finished else prior and prior.finished,
        pdf_url=redacted(outcome.pdf_url) if outcome.pdf_url else prior and prior.pdf_url,
        duplicate_of=redacted(same),
        version=outcome.version or (prior.version if prior and outcome.status is Status.SKIPPED
                                    else None),
        license=outcome.license or (prior.license if prior and outcome.status is Status.SKIPPED
                                    else None))


def changes_record(outcome: Outcome, prior: PaperRecord | None) -> bool:
    """Whether `outcome` is worth a new record over `prior`."""
    if prior is None:
        return True
    if outcome.status is Status.SKIPPED:
        # A re-run over finished papers must not rewrite a million records.
        return prior.status != Status.DOWNLOADED or prior.path != outcome.path or prior.bytes != outcome.bytes
    if outcome.status is Status.FAILED and outcome.attempts == 0 and prior.status == Status.FAILED:
        return False  # a known permanent failure, reported again without a request
    return True


class PlainRecords:
    """Records kept as the JSON objects they are (consolidate's)."""

    @staticmethod
    def decode_all(objs: list[Any]) -> list[Any]:
        if not all(isinstance(o, dict) for o in objs):
            raise ValueError("a record is not an object")
        return objs

    @staticmethod
    def to_json(record: Any) -> Any:
        return record
