"""The result processor driven synchronously from a filled queue (no threads, no network)."""

import dataclasses
import io
import json
import os
import queue

from papers.pipeline.messages import (AlreadyDone, DownloadComplete, DownloadFailed,
                                      DownloadInterrupted, DownloadSkipped, InputDone,
                                      LogMessage, MessageType, PapersQueued, ProgressUpdate,
                                      QueueMessage, Stop)
from papers.model import Outcome, Status
from papers.inputs.records import paper_from_text
from papers.pipeline.processor import DownloadPrinter, DownloadRecorder, download_processor
from papers.output.display import Reporter
from papers.state.records import PaperRecord
from papers.state.store import StateStore


class RecordingReporter(Reporter):
    def __init__(self):
        self.updates = []
        self.lines = []
        self.closed = None

    def update(self, stats):
        self.updates.append((stats.done, stats.total))

    def log(self, line):
        self.lines.append(line)

    def close(self, stats):
        self.closed = (stats.downloaded, stats.skipped, stats.failed)


def drive(messages, state=None, json_output=True):
    q = queue.Queue()
    for m in messages:
        q.put(m)
    q.put(Stop())
    out = io.StringIO()
    reporter = RecordingReporter()
    proc = download_processor(q, state, reporter, out, json_output, clock=lambda: 1_700_000_000.0)
    proc.run()
    return proc, out.getvalue(), reporter


A = paper_from_text("http://h/a.pdf")
B = paper_from_text("http://h/b.pdf")
C = paper_from_text("http://h/c.pdf")


def done(p, n):
    return DownloadComplete(p, Outcome(
        status=Status.DOWNLOADED, path=f"/o/{n}.pdf", bytes=n, sha256="ab" * 32, url=p.urls[0],
        attempts=1, started=1_699_999_999.0, finished=1_700_000_000.0))


def test_counts_output_and_state(tmp_path):
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    msgs = [
        PapersQueued(2),
        PapersQueued(1),
        InputDone(),
        ProgressUpdate(600),
        ProgressUpdate(400),
        done(A, 1000),
        DownloadFailed(B, Outcome(
            status=Status.FAILED, url=B.urls[0], attempts=4, error="HTTP 503 (after 4 attempts)")),
        DownloadSkipped(C, Outcome(
            status=Status.SKIPPED, path="/o/c.pdf", bytes=7, sha256="cd" * 32, url=C.urls[0])),
    ]
    proc, out, reporter = drive(msgs, state)
    s = proc.recorder.stats
    assert (s.total, s.downloaded, s.failed, s.skipped, s.bytes) == (3, 1, 1, 1, 1000)
    lines = [json.loads(x) for x in out.splitlines()]
    assert [(x["id"], x["status"]) for x in lines] == [
        ("http://h/a.pdf", "downloaded"), ("http://h/b.pdf", "failed"), ("http://h/c.pdf", "skipped")]
    assert lines[0] == {"id": "http://h/a.pdf", "status": "downloaded", "path": "/o/1000.pdf",
                        "bytes": 1000, "sha256": "ab" * 32, "url": "http://h/a.pdf",
                        "pdf_url": None, "error": None, "attempts": 1}
    assert lines[1]["error"] == "HTTP 503 (after 4 attempts)"
    assert reporter.closed == (1, 1, 1)
    assert proc.recorder.failures == [("http://h/b.pdf", "HTTP 503 (after 4 attempts)")]
    # STOP saved a snapshot that a new run reads back.
    again = StateStore(str(tmp_path / "s.json"), PaperRecord)
    again.load()
    ra, rb = again.get(A.key), again.get(B.key)
    assert ra.status == "downloaded" and ra.sha256 == "ab" * 32 and ra.bytes == 1000
    assert ra.first_seen == "2023-11-14T22:13:19Z" and ra.updated == "2023-11-14T22:13:20Z"
    assert rb.status == "failed" and rb.permanent is False and rb.attempts == 4
    assert again.get(C.key).status == "downloaded"


def test_attempts_accumulate_across_runs(tmp_path):
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    fail = DownloadFailed(A, Outcome(
        status=Status.FAILED, url=A.urls[0], attempts=2, error="x"))
    drive([fail], state)
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    drive([done(A, 5)], state)
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    assert state.get(A.key).attempts == 3
    assert state.get(A.key).status == "downloaded"


def test_skipped_papers_do_not_rewrite_state(tmp_path):
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    drive([done(A, 10)], state)
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    skip = DownloadSkipped(A, Outcome(
        status=Status.SKIPPED, path="/o/10.pdf", bytes=10, url=A.urls[0]))
    snapshot = os.stat(tmp_path / "s.json").st_mtime_ns
    proc, _, _ = drive([skip], state)
    # The journal holds only when the run started and ended; the snapshot is untouched.
    with open(tmp_path / "s.json.journal") as f:
        assert [list(json.loads(line)) for line in f] == [["run"], ["run"]]
    assert os.stat(tmp_path / "s.json").st_mtime_ns == snapshot
    assert proc.recorder.stats.skipped == 1


def test_interrupted_outcome_is_remembered_but_not_counted(tmp_path):
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    msg = DownloadInterrupted(A, Outcome(
        status=Status.INTERRUPTED, url=A.urls[0], error="interrupted", etag='"e1"'))
    proc, out, _ = drive([msg], state)
    assert out == ""
    assert proc.recorder.stats.failed == 0
    rec = StateStore(str(tmp_path / "s.json"), PaperRecord)
    rec.load()
    assert rec.get(A.key).etag == '"e1"' and rec.get(A.key).permanent is False


def test_no_json_means_nothing_on_stdout():
    proc, out, reporter = drive([done(A, 1)], json_output=False)
    assert out == ""
    assert proc.recorder.stats.downloaded == 1


class ClosedPipe(io.StringIO):
    def write(self, s):
        raise BrokenPipeError()


def test_broken_stdout_is_reported_once_and_processing_continues():
    q = queue.Queue()
    for m in (done(A, 1), done(B, 2), Stop()):
        q.put(m)
    calls = []
    proc = download_processor(q, None, None, ClosedPipe(), True, on_output_closed=lambda: calls.append(1))
    proc.run()
    assert calls == [1]
    assert proc.printer.output_closed and proc.recorder.stats.downloaded == 2


def test_state_write_failure_stops_the_run_and_keeps_draining(tmp_path):
    class BrokenState(StateStore):
        def flush(self):
            raise OSError(28, "No space left on device", self.journal_path)

    state = BrokenState(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    fatal = []
    q = queue.Queue()
    for m in (done(A, 1), done(B, 2), Stop()):
        q.put(m)
    proc = download_processor(q, state, None, io.StringIO(), True, on_fatal=lambda: fatal.append(1))
    proc.run()
    assert fatal == [1]
    assert "No space left on device" in proc.recorder.fatal_error
    assert proc.stopped and q.empty()


def test_log_records_from_workers_are_shown_by_the_processor():
    import logging

    shown = []

    class Collect(logging.Handler):
        def emit(self, record):
            shown.append(record.getMessage())

    q = queue.Queue()
    record = logging.LogRecord("papers", logging.INFO, __file__, 1, "retrying %s", ("x",), None)
    debug = logging.LogRecord("papers", logging.DEBUG, __file__, 1, "noise", (), None)
    for m in (LogMessage(record), LogMessage(debug), Stop()):
        q.put(m)
    proc = download_processor(q, None)
    handler = Collect(level=logging.INFO)
    proc.printer.log_handlers = [handler]
    proc.run()
    assert shown == ["retrying x"]


def test_batched_skips_count_and_print_each_paper():
    batch = [(p, PaperRecord(p.id, "downloaded", path=f"/o/{i}.pdf", bytes=i, url=p.urls[0]))
             for i, p in enumerate((A, B, C))]
    proc, out, _ = drive([AlreadyDone(batch)])
    assert proc.recorder.stats.skipped == 3
    assert [json.loads(x)["path"] for x in out.splitlines()] == ["/o/0.pdf", "/o/1.pdf", "/o/2.pdf"]


def test_recorder_and_printer_each_do_only_their_part(tmp_path):
    """The recorder counts and writes the state, never stdout; the printer prints from
    the recorder's counts and never touches the state."""
    state = StateStore(str(tmp_path / "s.json"), PaperRecord)
    state.load()
    recorder = DownloadRecorder(state, clock=lambda: 1_700_000_000.0)
    recorder.handle(done(A, 5))
    recorder.handle(Stop())
    assert recorder.stats.downloaded == 1 and state.get(A.key).bytes == 5

    out = io.StringIO()
    printer = DownloadPrinter(recorder.stats, None, out, True)
    printer.handle(done(B, 7))
    assert json.loads(out.getvalue())["bytes"] == 7
    assert recorder.stats.downloaded == 1 and state.get(B.key) is None


def test_every_message_kind_has_a_handler():
    """Each MessageType of a download run is handled by the recorder, the printer or both,
    and each handler is keyed by the one message class of its kind."""
    recorder, printer = DownloadRecorder(None), DownloadPrinter(None)
    download_kinds = set(MessageType) - {MessageType.PAPER_QUEUED, MessageType.PAPER_CONSOLIDATED,
                                         MessageType.RUN_MARK}
    handled = set(recorder.handlers) | set(printer.handlers)
    assert download_kinds <= {cls.type for cls in handled}
    assert all(issubclass(cls, QueueMessage) for cls in handled)


def test_messages_carry_only_their_own_fields():
    fields = {cls.__name__: {f.name for f in dataclasses.fields(cls)} for cls in (
        PapersQueued, ProgressUpdate, DownloadComplete, AlreadyDone, LogMessage, Stop)}
    assert fields == {"PapersQueued": {"count"}, "ProgressUpdate": {"nbytes", "expected"},
                      "DownloadComplete": {"paper", "outcome"}, "AlreadyDone": {"batch"},
                      "LogMessage": {"record"}, "Stop": set()}
    assert isinstance(Stop(), QueueMessage) and Stop().type is MessageType.STOP
