"""What one request for one URL achieved (`Attempt`, with one `Result`), and the
fetcher's settings."""

from __future__ import annotations

import enum
import errno
from dataclasses import dataclass, field

from papers.disk.files import PaperFile
from papers.disk.naming import Namer
from papers.download.planner import Fetch
from papers.model import Paper
from papers.net.netconf import NetConfig
from papers.net.retry import RetryPolicy


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """What the fetcher needs from the settings."""

    timeout: float = 30.0
    max_size: int | None = None
    chunk_size: int = 256 * 1024
    min_speed: int | None = None      # bytes/s over min_speed_window, else abort (drip-feeders)
    min_speed_window: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    net: NetConfig = field(default_factory=NetConfig)
    doi_resolver: str | None = "https://doi.org"  # the last resort for a paper with a DOI
    namer: Namer | None = None        # names a paper whose name depends on the URL that delivers it
    metadata: bool = False            # write NAME.json beside each PDF
    identity_check: bool = True       # hold each PDF's text against its record (identity.py)


class Result(enum.Enum):
    """How one HTTP request for one URL ended."""

    OK = "ok"                    # the PDF is at its final name
    RETRY = "retry"              # the server's trouble: try again after a delay
    RETRY_NOW = "retry now"      # e.g. a refused resume: restart at once
    PERMANENT = "permanent"      # retrying will not help
    TOO_LARGE = "too large"      # over --max-size: retried by a run with a higher limit
    LANDING = "landing"          # an HTML page that may point at the PDF
    UNREACHABLE = "unreachable"  # not in this run (no DNS): no retries now, but next run
    BLOCKED = "blocked"          # a wall (a challenge, a login, a paywall): not now, next run
    FATAL = "fatal"              # our disk cannot take writes: stop the run


#: Results that end the tries of one URL; those that do not count against its host; those
#: that make a failure permanent (a later run tries it again only if asked, or allowed more).
FINAL_RESULTS = {Result.OK, Result.PERMANENT, Result.TOO_LARGE, Result.LANDING,
                 Result.UNREACHABLE, Result.FATAL, Result.BLOCKED}
NOT_THE_SERVERS_FAULT = {Result.OK, Result.PERMANENT, Result.TOO_LARGE, Result.LANDING,
                         Result.FATAL, Result.BLOCKED}
PERMANENT_RESULTS = (Result.PERMANENT, Result.TOO_LARGE, Result.LANDING)


@dataclass(slots=True)
class Attempt:
    """What one HTTP request for one URL achieved."""

    result: Result = Result.RETRY
    reason: str = ""
    retry_after: float | None = None
    nbytes: int = 0
    sha256: str | None = None
    pdf_url: str | None = None        # where the bytes finally came from (after redirects)
    landing: bytes | None = None      # a landing page (Result.LANDING) ...
    page_url: str | None = None       # ... its final URL, to resolve its links against
    charset: str | None = None
    landing_page: str | None = None   # the last landing page that led to the PDF
    path: str | None = None           # Result.OK: where the file now is
    duplicate_of: str | None = None   # Result.OK: the same file as this paper's (no copy written)
    blocked: str | None = None        # the wall the answer was (download.blocked.KINDS)
    host: str | None = None           # ... and the host that answered with it
    identity: str | None = None       # a PDF's verdict (download.identity.KINDS), if checked
    tail: bytes | None = None         # Result.OK: the body's last bytes, if all came in this answer


def disk_failure(part: str, err: BaseException) -> Attempt:
    """Our side cannot write: the paper stays resumable, nothing is half-renamed."""
    fatal = getattr(err, "errno", None) in _DISK_ERRNOS
    return Attempt(Result.FATAL if fatal else Result.RETRY,
                   f"cannot write {part}: {getattr(err, 'strerror', None) or err}")


# Errors that will hit every other paper too: stop the run instead of failing them all.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM}


class Download:
    """One paper's download, as pip's `_FileDownload`: its file on disk, the candidate
    being tried, and what it has cost so far. Made by `Fetcher.fetch`; one worker thread."""

    def __init__(self, job: Fetch, started: float) -> None:
        self.paper: Paper = job.paper
        self.file = PaperFile(job.path, final_may_exist=job.final_may_exist,
                              part_may_exist=job.part_may_exist, resume=job.resume)
        self.started = started
        self.attempts = 0                 # HTTP requests made
        self.unreported = 0               # bytes received but not yet sent as progress
        self.tried: list[tuple[str, Attempt]] = []
        self.candidate = ""               # the candidate URL being tried
        self.referer: str | None = None   # the landing page that gave the URL being fetched
