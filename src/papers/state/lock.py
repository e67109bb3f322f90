"""The lock of a state file: one run per state, and nothing left behind by a run that
was refused before it began."""

from __future__ import annotations

import os

from papers.disk.durable import can_create_in, missing_dirs
from papers.errors import StateError


class StateLock:
    """An exclusive advisory lock on `<state>.lock`, made with the folders it needs."""

    def __init__(self, state_path: str) -> None:
        self.state_path = state_path
        self.path = state_path + ".lock"
        self._fd: int | None = None
        self._made: list[str] = []

    def take(self) -> None:
        """Take the lock so that two runs cannot share one state file; StateError if
        another run holds it, or it cannot be made. What this creates (the lock file,
        missing directories) `unmake` removes again."""
        state = self.state_path
        if os.path.isdir(state):
            raise StateError(f"state file {state} is a directory; give --state a file name")
        parent = os.path.dirname(state)
        missing = missing_dirs(parent)
        existing = os.path.dirname(missing[-1]) if missing else parent
        if not os.path.isdir(existing):
            raise StateError(f"state file {state}: {existing} is a file, not a directory")
        try:
            os.makedirs(parent, exist_ok=True)
            self._made = [self.path] if not os.path.exists(self.path) else []
            self._made += missing
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            self.unmake()
            raise StateError(f"state file {state}: cannot create "
                             f"{self.path if os.path.isdir(parent) else parent} "
                             f"({e.strerror})") from None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks here
            self._fd = fd
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateError(
                f"state file {state} is in use by another papers run; "
                "wait for it to finish or use another --state") from None
        self._fd = fd

    def release(self) -> None:
        """Let another run have the state."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def unmake(self) -> None:
        """Remove what `take` created: the lock file, then the directories it made (if
        still empty). For a run refused before it began: it leaves nothing behind."""
        for path in self._made:
            try:
                (os.rmdir if os.path.isdir(path) else os.unlink)(path)
            except OSError:
                pass
        self._made = []


def check_writable(*paths: str) -> None:
    """StateError now, rather than after the downloads, if the state's files (`paths`,
    the first is the state) cannot be written: read-only files or folder, files left by
    a run under sudo."""
    for path in paths:
        try:
            os.close(os.open(path, os.O_WRONLY))  # opened for writing (never created), nothing written
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StateError(f"state file {path}: cannot be written ({e.strerror}); "
                             "was it left by a run as another user (sudo)?") from None
    parent = os.path.dirname(paths[0])
    if not os.access(parent, os.W_OK | os.X_OK) or not can_create_in(parent):
        raise StateError(f"state file {paths[0]}: its folder {parent} cannot be written")
