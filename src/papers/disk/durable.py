"""Writes that survive a crash: atomic replacement, directory fsyncs, and whether a
folder can be written at all."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable


def fsync_dir(path: str) -> None:
    """Make a rename inside directory `path` durable (a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, data: bytes | Iterable[bytes], mode: int = 0o644) -> None:
    """Replace `path` with `data` (bytes, or pieces of it) so that readers see the old
    or the new file, never half. A write that fails (a full disk) leaves no temporary
    file behind. `mode`: the new file's permissions (before the umask)."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as f:
            if isinstance(data, bytes):
                f.write(data)
            else:
                f.writelines(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


def missing_dirs(path: str) -> list[str]:
    """The directories `os.makedirs(path)` would create, deepest first."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return missing


def can_create_in(folder: str) -> bool:
    """Whether a file can be made in `folder` (os.access says yes to root, and to a
    read-only mount or an immutable folder): make one and remove it."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".papers-probe-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(tmp)
    return True
