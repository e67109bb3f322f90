"""Typed messages from the planner and the workers to the result processor.

Each kind is a small frozen dataclass that carries only what it needs; its
`type` (a MessageType) is what the processor dispatches on.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from papers.model import Outcome, Paper, Status

if TYPE_CHECKING:  # AlreadyDone carries the state's records
    from papers.state.records import PaperRecord


class MessageType(enum.Enum):
    """What a QueueMessage reports."""

    PAPERS_QUEUED = "papers_queued"          # `count` more papers counted into the total
    PAPER_QUEUED = "paper_queued"            # consolidate: one paper, in input order
    TOTAL_ESTIMATE = "total_estimate"        # how many papers the input probably holds
    INPUT_DONE = "input_done"                # the input is exhausted: the total is final
    PROGRESS_UPDATE = "progress_update"      # bytes received since the last update
    DOWNLOAD_COMPLETE = "download_complete"  # a PDF is on disk under its final name
    DOWNLOAD_SKIPPED = "download_skipped"    # already done; nothing was fetched
    DOWNLOAD_FAILED = "download_failed"      # no candidate produced a PDF
    DOWNLOAD_INTERRUPTED = "download_interrupted"  # the run stopped mid-way; the .part is kept
    ALREADY_DONE = "already_done"            # a batch of papers the state and the disk say are done
    PAPER_CONSOLIDATED = "paper_consolidated"  # consolidate: a paper's merged record
    RUN_MARK = "run_mark"                    # search, references: how far the walk has come
    LOG = "log"                              # a log record from a worker, shown by the processor
    STOP = "stop"                            # no more messages: save and finish


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """A message on the results queue; each subclass fixes its `type`."""

    type: ClassVar[MessageType]


@dataclass(frozen=True, slots=True)
class PapersQueued(QueueMessage):
    type: ClassVar[MessageType] = MessageType.PAPERS_QUEUED
    count: int


@dataclass(frozen=True, slots=True)
class PaperQueued(QueueMessage):
    type: ClassVar[MessageType] = MessageType.PAPER_QUEUED
    paper: Paper


@dataclass(frozen=True, slots=True)
class TotalEstimate(QueueMessage):
    type: ClassVar[MessageType] = MessageType.TOTAL_ESTIMATE
    count: int


@dataclass(frozen=True, slots=True)
class InputDone(QueueMessage):
    type: ClassVar[MessageType] = MessageType.INPUT_DONE


@dataclass(frozen=True, slots=True)
class ProgressUpdate(QueueMessage):
    type: ClassVar[MessageType] = MessageType.PROGRESS_UPDATE
    nbytes: int
    expected: int = 0   # the change in bytes still to come of the large bodies in flight


@dataclass(frozen=True, slots=True)
class PaperResult(QueueMessage):
    """One paper's outcome; `result_message` picks the subclass from its status."""

    type: ClassVar[MessageType]
    paper: Paper
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class DownloadComplete(PaperResult):
    type: ClassVar[MessageType] = MessageType.DOWNLOAD_COMPLETE


@dataclass(frozen=True, slots=True)
class DownloadSkipped(PaperResult):
    type: ClassVar[MessageType] = MessageType.DOWNLOAD_SKIPPED


@dataclass(frozen=True, slots=True)
class DownloadFailed(PaperResult):
    type: ClassVar[MessageType] = MessageType.DOWNLOAD_FAILED


@dataclass(frozen=True, slots=True)
class DownloadInterrupted(PaperResult):
    type: ClassVar[MessageType] = MessageType.DOWNLOAD_INTERRUPTED


_RESULT_KINDS = {Status.DOWNLOADED: DownloadComplete, Status.SKIPPED: DownloadSkipped,
                 Status.FAILED: DownloadFailed, Status.INTERRUPTED: DownloadInterrupted}


def result_message(paper: Paper, outcome: Outcome) -> PaperResult:
    """The message that carries `outcome`, of the kind its status names."""
    return _RESULT_KINDS[outcome.status](paper, outcome)


@dataclass(frozen=True, slots=True)
class AlreadyDone(QueueMessage):
    """Papers whose state record says downloaded, with the file in place: (paper, record)."""

    type: ClassVar[MessageType] = MessageType.ALREADY_DONE
    batch: list[tuple[Paper, PaperRecord]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PaperConsolidated(QueueMessage):
    type: ClassVar[MessageType] = MessageType.PAPER_CONSOLIDATED
    paper: Paper
    record: dict[str, Any]
    skipped: bool = False             # taken from the state; nothing was asked


@dataclass(frozen=True, slots=True)
class RunMark(QueueMessage):
    type: ClassVar[MessageType] = MessageType.RUN_MARK
    progress: dict[str, Any]          # a cursor, the papers done; "done": the walk is complete
    emitted: int                      # works output so far, the checkpointed ones included


@dataclass(frozen=True, slots=True)
class LogMessage(QueueMessage):
    type: ClassVar[MessageType] = MessageType.LOG
    record: logging.LogRecord


@dataclass(frozen=True, slots=True)
class Stop(QueueMessage):
    type: ClassVar[MessageType] = MessageType.STOP
