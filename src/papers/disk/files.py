"""The one home of a paper's file on disk, as gallery-dl's `PathFormat`: where it goes
(its name), its `.part` and the sidecar that names the part's source, the rename to
its final name, the checks on a finished file, the metadata written beside it, and
the output directory they all go in. The download code touches the disk only here
(and through `disk.durable`)."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import threading
from dataclasses import dataclass
from typing import Any

from papers.disk.durable import can_create_in
from papers.disk.naming import Namer, url_derived, with_hash
from papers.errors import DiskError, OutputError
from papers.model import Paper

log = logging.getLogger("papers")

SNIFF_BYTES = 1024        # the PDF magic must appear within this many bytes
PDF_MAGIC = b"%PDF-"
SIDECAR_AFTER = 256 * 1024  # a body this far along gets its source written beside its .part


@dataclass(frozen=True, slots=True)
class PartSource:
    """Where the bytes of a `.part` came from: what a Range request needs to resume it."""

    url: str
    etag: str | None = None
    last_modified: str | None = None

    @property
    def validator(self) -> str | None:
        """The If-Range value: the ETag, else the Last-Modified date."""
        return self.etag or self.last_modified


class PaperFile:
    """One paper's file: its final `path`, its `.part` and the part's sidecar.

    `PATH.part.json` beside the `.part` names its source once a body has passed
    SIDECAR_AFTER bytes, so a run killed by `kill -9` (no state record for the paper
    yet) resumes it with Range + If-Range instead of starting over. A smaller body
    costs less to fetch again than a sidecar costs every file ("Sidecar" in
    bench/AB.md). `resume` is what the state says the `.part` holds, if anything.
    """

    def __init__(self, path: str, *, final_may_exist: bool = True, part_may_exist: bool = True,
                 resume: PartSource | None = None) -> None:
        self.path = path
        self.part = path + ".part"
        self.sidecar = self.part + ".json"
        self.final_may_exist = final_may_exist
        self.part_may_exist = part_may_exist
        self.sidecar_may_exist = part_may_exist
        self.source = self._source(resume) if part_may_exist else None

    def _source(self, resume: PartSource | None) -> PartSource | None:
        try:
            with open(self.sidecar, "rb") as f:
                saved = json.loads(f.read(1 << 16))
            return PartSource(str(saved["url"]), saved.get("etag"), saved.get("last_modified"))
        except (OSError, ValueError, KeyError, TypeError):
            return resume  # none, or torn by a crash: the state record may still say

    def resumable_bytes(self, url: str) -> int:
        """The size of the `.part` if it holds `url`'s bytes with a validator, else 0."""
        if self.source is None or self.source.url != url or not self.source.validator:
            return 0
        try:
            st = os.lstat(self.part)
        except OSError:
            return 0
        if not stat.S_ISREG(st.st_mode):
            self.drop_part()  # a planted symlink (or anything odd) is never written through
            return 0
        return st.st_size

    def claim_part(self, url: str, etag: str | None, last_modified: str | None) -> None:
        """A new body is going into the `.part`: remember where it comes from."""
        self.part_may_exist = True
        self.source = PartSource(url, etag, last_modified) if etag or last_modified else None
        if self.sidecar_may_exist:
            remove_quietly(self.sidecar)  # an older body's
            self.sidecar_may_exist = False

    def save_source(self) -> None:
        """Write the `.part`'s source to its sidecar (the OS has it: it survives kill -9)."""
        if self.source is None:
            return
        data = json.dumps({"url": self.source.url, "etag": self.source.etag,
                           "last_modified": self.source.last_modified}).encode()
        try:
            fd = os.open(self.sidecar, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _NOFOLLOW, 0o644)
            self.sidecar_may_exist = True
            with os.fdopen(fd, "wb") as f:
                write_all(f, data)
        except OSError as e:
            raise DiskError(e) from e

    def open_part(self, append: bool) -> int:
        """A descriptor to write the body into the `.part`, making a --name template's
        folder if need be."""
        try:
            return open_part(self.part, append, absent=not self.part_may_exist)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(self.part), exist_ok=True)
            return open_part(self.part, append, absent=True)

    def drop_part(self) -> None:
        """Remove the `.part` and its sidecar: their bytes cannot be resumed."""
        if self.part_may_exist:
            remove_quietly(self.part)
        self._drop_sidecar()

    def finish_part(self, final: str) -> None:
        """The `.part` is complete and checked: give it its final name, `final`. The
        directory fsync that makes the rename durable is grouped: the result processor
        does one (`durable.fsync_dir`) before the state records a batch of downloads."""
        os.replace(self.part, final)
        self._drop_sidecar()

    def set_aside(self, final: str, size: int, sha256: str) -> str:
        """The complete `.part` is not the paper asked for: keep it as FINAL.suspect
        (never deleted, never over another file) and return where it went."""
        where = aside_name(final, SUSPECT, size, sha256)
        if os.path.exists(where):  # the same wrong file as an earlier run's: kept once
            self.drop_part()
        else:
            os.replace(self.part, where)
            self._drop_sidecar()
        return where

    def final_path(self, paper: Paper, candidate: str, namer: Namer | None) -> str:
        """Where the file goes when `candidate` delivered it: the planned path, unless the
        name comes from the URL (a name never comes from a candidate that failed)."""
        if namer is None or not paper.urls or candidate == paper.urls[0] \
                or not url_derived(paper, namer.template):
            return self.path
        path = namer.path(paper, candidate)
        return with_hash(path, paper) if path != self.path and os.path.exists(path) else path

    def existing(self) -> tuple[str, int] | None:
        """(SHA-256, size) of a PDF already under the final name, else None. A final-named
        file only ever comes from `finish_part` after every check, so one that exists is
        complete: renamed, but not recorded (a crash, a lost state)."""
        try:
            h, head = hash_file(self.path)
        except OSError:
            return None
        return (h.hexdigest(), os.path.getsize(self.path)) if PDF_MAGIC in head else None

    def _drop_sidecar(self) -> None:
        self.source = None
        if self.sidecar_may_exist:
            remove_quietly(self.sidecar)
            self.sidecar_may_exist = False

    def validators_for(self, url: str) -> tuple[str | None, str | None]:
        """(etag, last_modified) of a kept `.part` of `url`, for the state record."""
        if self.source is not None and self.source.url == url:
            return self.source.etag, self.source.last_modified
        return None, None


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def open_part(part: str, append: bool, absent: bool = False) -> int:
    nofollow = _NOFOLLOW
    if append:
        return os.open(part, os.O_WRONLY | os.O_APPEND | nofollow)
    if not absent:
        try:
            os.unlink(part)
        except FileNotFoundError:
            pass
    # O_EXCL|O_NOFOLLOW: a symlink planted at the .part name cannot redirect the write.
    return os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o644)


def write_all(f: Any, data: bytes) -> None:
    """Write all of `data`: a raw write may take only part of it (a filling disk)."""
    view = memoryview(data)
    while view:
        n = f.write(view)
        if not n:
            raise OSError(errno.ENOSPC, "No space left on device")
        view = view[n:]


SUSPECT = ".suspect"  # NAME.pdf.suspect: a PDF that is another paper (download.identity)


def aside_name(path: str, suffix: str, size: int, sha256: str) -> str:
    """A free name for a file (`size` bytes, `sha256`) kept aside from `path`:
    PATH+suffix, else PATH+suffix.2, ... A name that holds these very bytes already is
    returned as it is (kept aside before); any other file there is never replaced."""
    for n in range(1, 1000):
        where = path + suffix + (f".{n}" if n > 1 else "")
        try:
            if os.path.getsize(where) == size and hash_file(where)[0].hexdigest() == sha256:
                return where
        except FileNotFoundError:
            return where
    raise OSError(f"{path}{suffix}: 999 files are kept aside already")


def remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def hash_file(path: str, h: Any | None = None, limit: int | None = None) -> tuple[Any, bytes]:
    """Hash a file (optionally only its first `limit` bytes); return the hasher and its head."""
    h = h or hashlib.sha256()
    head = b""
    remaining = limit
    with open(path, "rb") as f:
        while True:
            n = 1 << 20 if remaining is None else min(1 << 20, remaining)
            if n == 0:
                break
            block = f.read(n)
            if not block:
                break
            if len(head) < SNIFF_BYTES:
                head += block[:SNIFF_BYTES - len(head)]
            h.update(block)
            if remaining is not None:
                remaining -= len(block)
    return h, head


def write_metadata(pdf: str, record: dict[str, Any], paper_id: str) -> None:
    """NAME.json beside NAME.pdf, replaced whole (a reader never sees half of it)."""
    path = os.path.splitext(pdf)[0] + ".json"
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:  # the PDF is safe; say so rather than fail the paper
        log.warning("%s: cannot write %s (%s)", paper_id, path, e.strerror)
        remove_quietly(tmp)


def pdf_problem(path: str, size: int | None, sha256: str | None) -> str | None:
    """Why the file at `path` is not the PDF recorded (`size` bytes, `sha256`), or None:
    "missing", another size, unreadable, no PDF header, another SHA-256."""
    try:
        have = os.path.getsize(path)
    except OSError:
        return "missing"
    if have != size:
        return f"size {have:,} bytes, {size or 0:,} recorded"
    try:
        h, head = hash_file(path)
    except OSError as e:
        return f"cannot read ({e.strerror})"
    if PDF_MAGIC not in head:
        return "not a PDF (no %PDF- header)"
    if sha256 and h.hexdigest() != sha256:
        return "SHA-256 differs from the one recorded"
    return None


def check_output_dir(path: str) -> str:
    """The output directory's absolute path, checked before anything is created:
    OutputError if it (or the folder it would go in) is a file or cannot be written."""
    output_dir = os.path.abspath(path)
    existing = output_dir
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        what = "is a file" if existing == output_dir else f"cannot be made: {existing} is a file"
        raise OutputError(f"output directory {output_dir} {what}, not a directory"
                          if existing == output_dir else f"output directory {output_dir} {what}")
    if not can_create_in(existing):
        raise OutputError(f"output directory {output_dir}: cannot write in {existing} "
                          "(read-only, or owned by another user)")
    return output_dir


def make_output_dir(output_dir: str) -> set[str] | None:
    """Make the output directory if need be; the names in it now (None if unknown)."""
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"output directory {output_dir}: cannot create ({e.strerror})") from None
    # What is in it now: papers whose files are absent skip those checks.
    try:
        return set(os.listdir(output_dir))  # names are all the planner needs
    except OSError:
        return None
