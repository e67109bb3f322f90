"""Stdout as every command writes it: a write error says that stdout failed."""

from __future__ import annotations

from papers.errors import StdoutClosed, StdoutError


class GuardedStdout:
    """Stdout, whose write errors come out as StdoutClosed (its reader went away) or
    StdoutError (anything else): every command then says that stdout failed, not that
    whatever it was writing did, and click does not take a closed pipe for its own.
    Everything else is the stream's own."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self._guarded(self.stream.write, text)

    def flush(self) -> None:
        self._guarded(self.stream.flush)

    @staticmethod
    def _guarded(call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise StdoutClosed() from None
        except OSError as e:
            raise StdoutError(e.errno, e.strerror) from None

    def __getattr__(self, name: str):
        return getattr(self.stream, name)
