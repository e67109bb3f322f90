"""How a run meets the process around it: SIGINT, SIGTERM and SIGHUP become a stop
event, a second one leaves at once, and the process leaves without the interpreter's
teardown."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from papers.errors import ExitStatus


@contextmanager
def signals_stop(reporter) -> Iterator[threading.Event]:
    """Route SIGINT, SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) to a
    stop event while the run lasts. A second signal leaves at once (see `leave`)."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set():
            leave(ExitStatus.INTERRUPTED)
        stop.set()
        again = "press Ctrl-C again" if signum == signal.SIGINT else \
            f"a second {signal.Signals(signum).name}"
        reporter.log(f"papers: stopping ({again} to quit at once)...")

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach only the main thread; a caller elsewhere sets `stop` itself
        return
    wanted = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    saved = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield stop
    finally:
        for sig, old in saved.items():
            signal.signal(sig, old)


def quiet_stdout() -> None:
    # The reader is gone: point stdout at /dev/null so the interpreter's final
    # flush does not print a BrokenPipeError traceback.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def leave(code: int) -> None:
    """The one way out of the console script, also taken at once after a second signal:
    flush stdout and stderr, then exit without the interpreter's teardown. The state
    file is valid at every instant, so nothing is lost by skipping it."""
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError, OSError):
        quiet_stdout()
    try:
        sys.stderr.flush()
    finally:
        os._exit(code)
