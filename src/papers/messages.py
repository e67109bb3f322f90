"""Typed messages from the input reader and the workers to the result processor."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from papers.models import Paper


class MessageType(enum.Enum):
    """What a QueueMessage reports."""

    PAPER_QUEUED = "paper_queued"            # `count` more papers (default 1) counted into the total
    TOTAL_ESTIMATE = "total_estimate"        # how many papers the input probably holds
    INPUT_DONE = "input_done"                # the input is exhausted: the total is final
    PROGRESS_UPDATE = "progress_update"      # bytes received since the last update
    DOWNLOAD_COMPLETE = "download_complete"  # a PDF is on disk under its final name
    DOWNLOAD_SKIPPED = "download_skipped"    # already done; nothing was fetched
    DOWNLOAD_FAILED = "download_failed"      # no candidate produced a PDF
    PAPER_CONSOLIDATED = "paper_consolidated"  # consolidate: a paper's merged record
    LOG = "log"                              # a log record from a worker, shown by the processor
    STOP = "stop"                            # no more messages: save and finish


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one paper, as the worker (or the planner) saw it."""

    status: str                       # downloaded | skipped | failed
    path: str | None = None
    bytes: int = 0
    sha256: str | None = None
    url: str | None = None            # the candidate URL, as given
    pdf_url: str | None = None        # where the bytes came from, after redirects and landing pages
    landing_page: str | None = None   # the landing page that pointed to pdf_url, if any
    attempts: int = 0
    error: str | None = None
    permanent: bool = False           # a failure that retrying will not fix
    fatal: bool = False               # the output cannot be written: the run must stop
    started: float | None = None
    finished: float | None = None
    etag: str | None = None           # validators of a kept .part, for a later Range resume
    last_modified: str | None = None
    unreported: int = 0               # bytes received but not yet sent as PROGRESS_UPDATE
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message on the results queue, tagged by its type."""

    type: MessageType
    paper: Paper | None = None
    outcome: Outcome | None = None
    nbytes: int = 0                   # PROGRESS_UPDATE: bytes received since the last one
    count: int = 1                    # PAPER_QUEUED: papers; TOTAL_ESTIMATE: papers expected
    record: Any = None                # LOG: the logging.LogRecord
    result: dict[str, Any] | None = None  # PAPER_CONSOLIDATED: the record
    skipped: bool = False             # PAPER_CONSOLIDATED: taken from the state, nothing asked
    batch: list[tuple[Paper, Any]] | None = None  # DOWNLOAD_SKIPPED: (paper, state record) pairs
