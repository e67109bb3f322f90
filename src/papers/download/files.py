"""One paper's files on disk while it downloads: the `.part`, its sidecar naming its
source, the checks on a finished file, and the metadata written beside the PDF."""

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

from papers.download.attempt import Attempt
from papers.download.naming import Namer, url_derived, with_hash
from papers.download.planner import Fetch
from papers.errors import DiskError
from papers.model import Outcome, Paper
from papers.redact import redacted
from papers.state.records import PaperRecord, iso

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


class Download:
    """One paper's download, as pip's `_FileDownload`: its files, what its `.part`
    holds, and what it has cost so far. Made by `Fetcher.fetch`; one worker thread.

    `PATH.part.json` beside the `.part` names its source once a body has passed
    SIDECAR_AFTER bytes, so a run killed by `kill -9` (no state record for the paper
    yet) resumes it with Range + If-Range instead of starting over. A smaller body
    costs less to fetch again than a sidecar costs every file ("Sidecar" in
    bench/RESULTS.md).
    """

    def __init__(self, job: Fetch, started: float) -> None:
        self.paper, self.path = job.paper, job.path
        self.part = job.path + ".part"
        self.sidecar = self.part + ".json"
        self.final_may_exist = job.final_may_exist
        self.part_may_exist = job.part_may_exist
        self.started = started
        self.attempts = 0                 # HTTP requests made
        self.unreported = 0               # bytes received but not yet sent as progress
        self.tried: list[tuple[str, Attempt]] = []
        self.candidate = ""               # the candidate URL being tried
        self.sidecar_may_exist = job.part_may_exist
        self.source = self._source(job.prior) if job.part_may_exist else None

    def _source(self, prior: PaperRecord | None) -> PartSource | None:
        try:
            with open(self.sidecar, "rb") as f:
                saved = json.loads(f.read(1 << 16))
            return PartSource(str(saved["url"]), saved.get("etag"), saved.get("last_modified"))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none, or torn by a crash: the state record may still say
        if prior is not None and prior.url and (prior.etag or prior.last_modified):
            return PartSource(prior.url, prior.etag, prior.last_modified)
        return None

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

    def drop_part(self) -> None:
        """Remove the `.part` and its sidecar: their bytes cannot be resumed."""
        if self.part_may_exist:
            remove_quietly(self.part)
        self._drop_sidecar()

    def finish_part(self, final: str) -> None:
        """The `.part` is complete and checked: give it its final name, `final`."""
        os.replace(self.part, final)
        self._drop_sidecar()

    def final_path(self, candidate: str, namer: Namer | None) -> str:
        """Where the file goes when `candidate` delivered it: the planned path, unless the
        name comes from the URL (a name never comes from a candidate that failed)."""
        if namer is None or not self.paper.urls or candidate == self.paper.urls[0] \
                or not url_derived(self.paper, namer.template):
            return self.path
        path = namer.path(self.paper, candidate)
        return with_hash(path, self.paper) if path != self.path and os.path.exists(path) else path

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


def metadata_record(paper: Paper, outcome: Outcome) -> dict[str, Any]:
    """What `--metadata json` writes beside a PDF: the paper's merged record, and where
    and when its bytes came from. Secrets in URLs are masked."""
    rec: dict[str, Any] = {"id": redacted(paper.id), "doi": paper.doi, "arxiv": paper.arxiv,
                           "pmid": paper.pmid, "pmcid": paper.pmcid, "title": paper.title,
                           "authors": list(paper.authors), "year": paper.year}
    rec.update({k: v for k, v in paper.extra.items() if k not in rec and not k.startswith("_")})
    rec.update({"file": os.path.basename(outcome.path or ""), "bytes": outcome.bytes,
                "sha256": outcome.sha256, "url": redacted(outcome.url),
                "pdf_url": redacted(outcome.pdf_url), "landing_page": redacted(outcome.landing_page),
                "downloaded": iso(outcome.finished)})
    return {k: v for k, v in rec.items() if v not in (None, [], "")}


def write_metadata(paper: Paper, outcome: Outcome) -> None:
    """NAME.json beside NAME.pdf, replaced whole (a reader never sees half of it)."""
    path = os.path.splitext(outcome.path or "")[0] + ".json"
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metadata_record(paper, outcome), f, ensure_ascii=False, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:  # the PDF is safe; say so rather than fail the paper
        log.warning("%s: cannot write %s (%s)", paper.id, path, e.strerror)
        remove_quietly(tmp)
