"""A response's head: its status line and headers, parsed by http.client, and the
URL it came from."""

from __future__ import annotations

import codecs
import http.client
import io
from dataclasses import dataclass
from email.message import Message


@dataclass(slots=True)
class Head:
    """The final response's status line and headers, and its URL."""

    status: int = 0
    reason: str = ""
    headers: Message | None = None   # parsed by http.client; None if there were none
    url: str = ""

    def get(self, name: str) -> str | None:
        """A header's value (repeated ones joined by ", "), or None; any case of `name`."""
        values = self.headers.get_all(name) if self.headers is not None else None
        return ", ".join(v.strip() for v in values) if values else None

    def media_type(self) -> str | None:
        """The Content-Type without its parameters, lower-case; None if there is none."""
        params = self.headers.get_params() if self.headers is not None else None
        return params[0][0].lower() if params else None

    def charset(self) -> str | None:
        """The Content-Type's `charset`, if it names one Python knows."""
        name = self.headers.get_content_charset() if self.headers is not None else None
        try:
            return codecs.lookup(name).name if name else None
        except LookupError:
            return None


def parse_head(lines: list[bytes]) -> Head:
    """The last response head in raw header `lines` (a redirect hop or a 1xx is replaced
    by the response after it). The header block goes to http.client's parser."""
    start = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].startswith(b"HTTP/")), None)
    if start is None:
        return Head()
    # "HTTP/1.1 200 OK" or "HTTP/2 200": http.client reads only HTTP/1.x status lines.
    parts = lines[start].decode("latin-1").split(None, 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    head = Head(status, parts[2].strip() if len(parts) > 2 else "")
    try:
        head.headers = http.client.parse_headers(io.BytesIO(b"".join(lines[start + 1:])))
    except http.client.HTTPException:
        # Over http.client's limits (100 header lines, 64 KB a line): judged without
        # headers, which is always safe (no resume, no validators, the bytes sniffed).
        pass
    return head


def head_complete(lines: list[bytes]) -> bool:
    """True when `lines` end with a final (not 1xx) response's blank line."""
    if not lines or lines[-1] not in (b"\r\n", b"\n"):
        return False
    status = next((line for line in reversed(lines) if line.startswith(b"HTTP/")), b"")
    code = status.split(None, 2)[1:2]
    return not (code and code[0].startswith(b"1"))
