"""A real HTTP/1.1 server on 127.0.0.1 that serves files and injects faults.

Each path has a script of replies; request n gets reply n (the last one
repeats). Fault vocabulary: reset mid-body, truncated body (Content-Length
larger than what is sent), stall before headers, drip-feed, any status with
Retry-After, redirects, HTML served as anything, Range honoured or ignored,
ETag, gzip and deflate Content-Encoding, chunked bodies, keep-alive connections
closed by the server between requests.
"""

from __future__ import annotations

import gzip as gzip_mod
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/pdf"
    headers: dict[str, str] = field(default_factory=dict)
    reset_after: int | None = None      # send this many body bytes, then a TCP reset
    truncate_after: int | None = None   # announce the full length, send this many, close
    stall: float = 0.0                  # sleep before sending headers
    drip: float = 0.0                   # sleep between body chunks of `drip_chunk` bytes
    drip_chunk: int = 1024
    honor_range: bool = True
    etag: str | None = None
    retry_after: str | None = None      # or a callable returning it, evaluated when sent
    location: str | None = None
    gzip: bool = False
    deflate: str | None = None          # "zlib" (RFC 1950 wrapped) or "raw" (bare deflate)
    chunked: bool = False
    close_after: bool = False           # send it all as keep-alive, then close the socket silently


@dataclass
class Seen:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    at: float
    client_port: int = 0  # one per TCP connection: tells reused connections from new ones


class FaultServer:
    """Start with `with FaultServer() as srv:`; `srv.url(path)` gives a URL."""

    def __init__(self, tls=None) -> None:
        self.tls = tls  # an ssl.SSLContext for HTTPS
        self.routes: dict[str, list[Reply]] = {}
        # Called for paths without a scripted route; returns a Reply or None (404).
        self.fallback = None
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                server._handle(self)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.body = self.rfile.read(length) if length else b""
                server._handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "FaultServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def route(self, path: str, *replies: Reply) -> str:
        """Script the replies for `path`; returns its URL."""
        with self._lock:
            self.routes[path] = list(replies)
            self._counts[path] = 0
        return self.url(path)

    def pdf(self, path: str, body: bytes, **kw) -> str:
        return self.route(path, Reply(body=body, **kw))

    def hits(self, path: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.path == path)

    def requests_for(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    # -- serving ---------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        with self._lock:
            self.requests.append(Seen(path, {k: v for k, v in h.headers.items()}, time.time(),
                                      h.client_address[1]))
            script = self.routes.get(path)
            n = self._counts.get(path, 0)
            self._counts[path] = n + 1
        reply = script[min(n, len(script) - 1)] if script else None
        if reply is None and self.fallback is not None:
            reply = self.fallback(h)
        if reply is None:
            self._send(h, 404, b"<html><body>not found</body></html>", {"Content-Type": "text/html"})
            return
        if reply.stall:
            time.sleep(reply.stall)
        headers = {"Content-Type": reply.content_type, **reply.headers}
        if reply.etag:
            headers["ETag"] = reply.etag
        if reply.retry_after is not None:
            ra = reply.retry_after
            headers["Retry-After"] = ra() if callable(ra) else ra
        if reply.location is not None:
            headers["Location"] = reply.location
        body = reply.body
        status = reply.status
        rng = h.headers.get("Range")
        if rng and reply.honor_range and status == 200 and not reply.gzip:
            if_range = h.headers.get("If-Range")
            m = re.match(r"bytes=(\d+)-$", rng)
            if m and (if_range is None or if_range == reply.etag):
                start = int(m.group(1))
                if start >= len(body):
                    self._send(h, 416, b"", {"Content-Range": f"bytes */{len(body)}"})
                    return
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                body = body[start:]
                status = 206
        if reply.gzip:
            body = gzip_mod.compress(body)
            headers["Content-Encoding"] = "gzip"
        if reply.deflate:
            c = zlib.compressobj(wbits=zlib.MAX_WBITS if reply.deflate == "zlib" else -zlib.MAX_WBITS)
            body = c.compress(body) + c.flush()
            headers["Content-Encoding"] = "deflate"
        self._send(h, status, body, headers, reply)

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str],
              reply: Reply | None = None) -> None:
        reply = reply or Reply()
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        if reply.chunked:
            h.send_header("Transfer-Encoding", "chunked")
        else:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            if reply.reset_after is not None:
                h.wfile.write(body[:reply.reset_after])
                h.wfile.flush()
                time.sleep(0.05)
                # SO_LINGER 0 turns close() into a TCP reset.
                h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                h.connection.close()
                h.close_connection = True
                return
            if reply.truncate_after is not None:
                h.wfile.write(body[:reply.truncate_after])
                h.wfile.flush()
                h.close_connection = True
                return
            if reply.chunked:
                step = reply.drip_chunk if reply.drip else 4096
                for i in range(0, len(body), step):
                    piece = body[i:i + step]
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    if reply.drip:
                        h.wfile.flush()
                        time.sleep(reply.drip)
                h.wfile.write(b"0\r\n\r\n")
                return
            if reply.drip:
                for i in range(0, len(body), reply.drip_chunk):
                    h.wfile.write(body[i:i + reply.drip_chunk])
                    h.wfile.flush()
                    time.sleep(reply.drip)
                return
            h.wfile.write(body)
            if reply.close_after:
                # A keep-alive server timing out an idle connection: no Connection: close.
                h.wfile.flush()
                h.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True


def make_pdf(n: int, seed: int = 0) -> bytes:
    """A distinct PDF-looking body of exactly `n` bytes (n >= 16)."""
    head = b"%PDF-1.7\n%" + str(seed).encode() + b"\n"
    rnd = bytearray()
    x = seed * 2654435761 + 1
    while len(rnd) < n - len(head) - 6:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        rnd += x.to_bytes(8, "little")
    return head + bytes(rnd[: n - len(head) - 6]) + b"%%EOF\n"
