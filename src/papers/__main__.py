"""`python -m papers` and the `papers` console script.

A Ctrl-C before a run has begun (while the modules load) or after it has ended leaves
at once with exit 130 and no traceback: the handler goes in before anything else is
imported, and a run puts its own in place while it lasts (`pipeline.signals.signals_stop`).
"""

import os
import signal
import sys


def _leave_now(signum, frame):  # noqa: ARG001 - a signal handler's signature
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(130)


signal.signal(signal.SIGINT, _leave_now)


def main() -> None:
    """The console script: `cli.run`, which leaves with the run's exit status."""
    from papers.cli import run

    run()


if __name__ == "__main__":
    main()
