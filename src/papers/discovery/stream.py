"""Runs that write the records an API walk finds (`papers search`, `references`,
`citations`): the checkpoint, the one worker that walks, and the processor that prints
and keeps each record.

The walk runs on one worker and hands each work to an `Emitter`, which puts it on the
queue as a `PaperConsolidated`; the processor prints it (JSON Lines) and checkpoints it.
`Emitter.mark` checkpoints how far the walk has come (a cursor, the papers done). A
re-run of the same walk prints the kept records again without a request, then goes on
from the mark.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from papers.discovery.consolidate import ConsolidatePrinter, ConsolidateRecorder, public
from papers.errors import ApiError, Cancelled, StateError
from papers.inputs.records import paper_from_record
from papers.output.display import Reporter
from papers.pipeline.messages import PaperConsolidated, PaperQueued, RunMark, TotalEstimate
from papers.pipeline.processor import ResultProcessor
from papers.pipeline.runner import Pipeline, Summary, ending_of
from papers.settings import Settings
from papers.state.store import StateStore

if TYPE_CHECKING:
    from papers.download.shard import Shard

log = logging.getLogger("papers")

MARK = "~search"  # the checkpoint's record of the walk itself: what it is, how far it came


def record_ident(rec: dict[str, Any]) -> str:
    """What tells two records of one walk apart: an identifier (a DOI first), else the
    source's id of the work."""
    for kind in ("doi", "arxiv", "pmid", "pmcid"):
        if rec.get(kind):
            return f"{kind}:{str(rec[kind]).lower()}"
    return str(rec.get("source_id") or rec.get("id") or "")


class StreamRecorder(ConsolidateRecorder):
    """Consolidate's recorder, and the walk's mark in the checkpoint."""

    def __init__(self, *args: Any, about: dict[str, Any], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.about = about
        self.handlers[RunMark] = self._on_mark

    def _on_mark(self, msg: RunMark) -> None:
        if self.state is not None:
            self.state.put(MARK, {**self.about, **msg.progress, "emitted": msg.emitted})


class Emitter:
    """Where a walk's works go: each once, in this shard, up to the limit."""

    def __init__(self, put: Callable[[Any], None], limit: int, kept: list[dict[str, Any]],
                 shard: "Shard | None", cancel: threading.Event, keep: bool = False) -> None:
        self.put, self.limit, self.shard, self.cancel = put, limit, shard, cancel
        self.seen = {record_ident(r) for r in kept}
        # With `keep`, every record out, the kept ones first (a walk that follows them).
        self.records: list[dict[str, Any]] = list(kept) if keep else []
        self.keep = keep
        self.emitted = len(kept)

    @property
    def full(self) -> bool:
        return self.emitted >= self.limit

    @property
    def stopping(self) -> bool:
        """The walk should end: the limit is reached, or the run is stopping."""
        return self.full or self.cancel.is_set()

    def record(self, rec: dict[str, Any], ident: str | None = None) -> bool:
        """Write `rec` unless it (`ident`, default its identifier) is out already or is
        another shard's; False when full."""
        if self.full:
            return False
        ident = ident or record_ident(rec)
        # Shards split by the source's work id (stable, and the same on every machine).
        owner = str(rec.get("source_id") or ident)
        if ident in self.seen or (self.shard is not None and not self.shard.owns(owner)):
            return True
        self.seen.add(ident)
        if self.keep:
            self.records.append(rec)
        paper = paper_from_record(rec)
        self.put(PaperQueued(paper))
        self.put(PaperConsolidated(paper, rec))
        self.emitted += 1
        return True

    def mark(self, **progress: Any) -> None:
        """Checkpoint how far the walk has come (with what is out so far)."""
        self.put(RunMark(progress, self.emitted))


@dataclass(frozen=True, slots=True)
class Walk:
    """A walk to run: what it is (`about`, compared with the checkpoint's), its command,
    its sources' names, and the function that walks on from a mark."""

    command: str
    about: dict[str, Any]
    sources: tuple[str, ...]
    walk: Callable[[Emitter, dict[str, Any] | None], None]
    follows: bool = False   # the walk reads the records it wrote (`Emitter.records`)


def open_checkpoint(path: str, about: dict[str, Any], refresh: bool) -> tuple[StateStore, Any]:
    """The walk's checkpoint, locked, and its mark (None: a new walk). StateError if it is
    another walk's, unless `refresh` (which empties it)."""
    state = StateStore.open(path)
    prior = None if refresh else state.get(MARK)
    if prior is not None and {k: prior.get(k) for k in about} != about:
        state.close(compact=False)
        what = " ".join(str(prior.get(k)) for k in about if prior.get(k))
        raise StateError(f"checkpoint {state.path} is of another search ({what}); give another "
                         "--state, or --refresh to start over")
    if refresh:
        state.adopt({})
    return state, prior


def run_stream(settings: Settings, walk: Walk, state: StateStore, prior: Any, *, limit: int,
               out: TextIO | None, reporter: Reporter | None = None,
               cancel: threading.Event | None = None, clock: Callable[[], float] = time.time,
               notes: Callable[[], list[str | None]] = list, expected: int | None = None) -> Summary:
    """Write the kept records again, then walk on from `prior` (unless it says done) on
    one worker until `limit` records are out. An API error ends the walk, with the
    mark where it was."""
    reporter = reporter or Reporter()
    cancel = cancel or threading.Event()
    kept = [public(r) for k, r in state.records.items() if k != MARK][:limit]
    output_closed, failed = threading.Event(), []

    def make_processor(q: queue.Queue) -> ResultProcessor:
        def on_output_closed() -> None:
            output_closed.set()
            cancel.set()

        recorder = StreamRecorder(state, clock=clock, save_interval=settings.save_interval,
                                  on_fatal=cancel.set, command=walk.command,
                                  asked_with=walk.sources, about=walk.about)
        printer = ConsolidatePrinter(recorder.stats, reporter, out, True,
                                     on_output_closed=on_output_closed)
        return ResultProcessor(q, recorder, printer)

    def work(emitter: Emitter) -> None:
        try:
            walk.walk(emitter, prior)
        except Cancelled:
            return
        except ApiError as e:
            failed.append(str(e))
            log.error("%s stopped: %s; re-run to go on from where it stopped", walk.command, e)

    pipeline = Pipeline(make_processor, 1, cancel)
    with pipeline:
        pipeline.put(TotalEstimate(expected or limit))
        for rec in kept:
            paper = paper_from_record(rec)
            pipeline.put(PaperQueued(paper))
            pipeline.put(PaperConsolidated(paper, rec, skipped=True))
        emitter = Emitter(pipeline.put, limit, kept, _shard(settings), cancel, walk.follows)
        if not (prior and prior.get("complete")) and not emitter.full:
            pipeline.submit(work, emitter)
    pipeline.processor.printer.raise_stdout_error()
    recorder = pipeline.processor.recorder
    ending, reason = ending_of(cancel.is_set(), output_closed.is_set(), recorder.fatal_error,
                               None, failed[0] if failed else None)
    return Summary(stats=recorder.stats, failures=recorder.failures, ending=ending,
                   reason=reason, output_dir="", state_path=state.path,
                   notes=[n for n in notes() if n])


def _shard(settings: Settings) -> "Shard | None":
    shard = settings.shard
    return shard if shard is not None and not isinstance(shard, str) else None
