"""HTTP GETs for downloads: a small HTTP/1.1 client with a connection pool per worker thread.

Why not a library: measured for issue 5 (bench/floor.py: 8 threads, 1500 x 8 KB
from nginx on loopback, to /dev/shm, same run as aria2c), a bare GET-and-write
loop costs 2.9 x aria2c's wall time on urllib3, 1.7 x on http.client (which
parses every header block with the email package) and 0.8 x on plain sockets;
requests costs more than urllib3. A download needs one method and a few
headers, so this module speaks just that much HTTP/1.1 itself:

- framing by Transfer-Encoding: chunked, Content-Length, or the end of the
  connection; 1xx responses skipped; header blocks bounded in size;
- keep-alive connections pooled per thread, and a pooled connection the server
  has closed meanwhile retried once on a new one;
- gzip and deflate (zlib-wrapped or raw) bodies decoded;
- what requests gave for free: proxies from the environment (HTTP_PROXY,
  HTTPS_PROXY, ALL_PROXY, NO_PROXY; https through a CONNECT tunnel), the CA
  bundle from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE (else
  certifi, else the system store), TLS verified with host names checked;
- redirects, followed here: http and https only, at most `max_redirects`
  hops, loops detected.

The end-to-end tests drive all of it against a real server that injects faults.
"""

from __future__ import annotations

import base64
import math
import os
import socket
import threading
import time
import zlib
from collections import OrderedDict
from typing import Any
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit

REDIRECTS = (301, 302, 303, 307, 308)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # already-legal URL characters, kept as they are
MAX_HEADER_LINE = 65536
MAX_HEADERS = 200
MAX_INFORMATIONAL = 20  # 1xx responses before the real one
MAX_POOLS = 16  # origins with idle connections kept, per worker thread


class BrokenResponse(Exception):
    """The server broke the HTTP framing (a bad status line, a cut chunk, bad compression)."""


#: What reading a response body may raise: a socket error or a broken HTTP frame.
READ_ERRORS = (OSError, BrokenResponse)


class _Stale(Exception):
    """A pooled connection turned out closed before any byte of the response."""


class TransportError(Exception):
    """A request could not be made; `permanent` says whether retrying can help."""

    def __init__(self, message: str, permanent: bool = False, timeout: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.timeout = timeout


def ca_bundle() -> str | None:
    """The CA bundle to verify TLS with, as requests would choose it."""
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        value = os.environ.get(var)
        if value:
            return value
    try:
        import certifi
    except ImportError:
        return None  # the system store
    return certifi.where()


def env_proxies(environ: Any) -> dict[str, str]:
    """Proxies from `*_proxy` variables, as urllib and requests read them: lower case
    wins over upper case, an empty value unsets, HTTP_PROXY is ignored under CGI."""
    proxies: dict[str, str] = {}
    for name, value in environ.items():
        if value and name.lower().endswith("_proxy") and not name.islower():
            proxies[name.lower()[:-6]] = value
    if "REQUEST_METHOD" in environ:
        proxies.pop("http", None)  # CVE-2016-1000110: a client can set HTTP_PROXY via a header
    for name, value in environ.items():
        if name.endswith("_proxy") and name.islower():
            if value:
                proxies[name[:-6]] = value
            else:
                proxies.pop(name[:-6], None)
    return proxies


def bypasses_proxy(host: str, no_proxy: str) -> bool:
    """True when NO_PROXY (`*`, or names matching `host` or a parent domain) covers `host`."""
    if not no_proxy:
        return False
    if no_proxy.strip() == "*":
        return True
    host = host.lower()
    for name in no_proxy.split(","):
        name = name.strip().lstrip(".").lower()
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


class Headers(dict):
    """Response headers: names lower-cased, repeated ones joined with ", "."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)


def _read_line(rfile: Any, deadline: float = math.inf) -> bytes:
    # Buffered bytes first; each refill is one socket read, so a server that drips its
    # head a byte at a time meets the deadline between reads, not just the read timeout.
    line = b""
    while True:
        chunk = rfile.peek(1)
        end = chunk.find(b"\n") + 1
        if end:
            line += rfile.read(end)
        elif chunk:
            line += rfile.read(len(chunk))
        if len(line) > MAX_HEADER_LINE:
            raise BrokenResponse("a header line is too long")
        if end or not chunk:
            return line
        if time.monotonic() > deadline:
            raise TimeoutError("the response headers are arriving too slowly")


def _read_head(rfile: Any, deadline: float = math.inf) -> tuple[int, int, str, Headers]:
    """(HTTP minor version, status, reason, headers) of the next final response,
    which must have arrived by `deadline` (time.monotonic)."""
    for informational in range(MAX_INFORMATIONAL + 1):
        line = _read_line(rfile, deadline)
        if not line:
            if informational:
                raise BrokenResponse("the connection closed after an informational response")
            raise _Stale()
        try:
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            status = int(code)
        except ValueError:
            raise BrokenResponse(f"not an HTTP response: {line[:40]!r}") from None
        if not version.startswith("HTTP/1.") or not 100 <= status <= 999:
            raise BrokenResponse(f"not an HTTP/1.x response: {line[:40]!r}")
        headers = Headers()
        name = None
        for _ in range(MAX_HEADERS + 1):
            if time.monotonic() > deadline:
                raise TimeoutError("the response headers are arriving too slowly")
            line = _read_line(rfile, deadline)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise BrokenResponse("the connection closed inside the headers")
            text = line.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and name is not None:  # an obsolete folded line
                headers[name] += " " + text.strip()
                continue
            key, sep, value = text.partition(":")
            if not sep:
                continue  # not a header: ignore it as browsers do
            name, value = key.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        else:
            raise BrokenResponse("too many header lines")
        if status >= 200:
            return (1 if version == "HTTP/1.1" else 0), status, reason.strip(), headers
        # 1xx (100 Continue, 103 Early Hints): informational; the real response follows.
    raise BrokenResponse("too many informational (1xx) responses")


class _Conn:
    """One TCP (or TLS) connection and its buffered reader."""

    __slots__ = ("sock", "rfile", "used")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=1 << 16)
        self.used = False

    def close(self) -> None:
        try:
            self.rfile.close()
        finally:
            self.sock.close()


class Response:
    """A streamed response: status, reason, headers, and the body read piece by piece."""

    def __init__(self, conn: _Conn, status: int, reason: str, headers: Headers, keep_alive: bool,
                 pool: list[_Conn], pool_size: int) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self._conn: _Conn | None = conn
        self._rfile = conn.rfile
        self._pool = pool
        self._pool_size = pool_size
        self._done = False
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self._chunk_left = 0
        self._length: int | None = None
        if status in (204, 304):
            self._length = 0
        elif not self._chunked:
            length = headers.get("content-length")
            if length is not None:
                values = {v.strip() for v in length.split(",")}
                if len(values) != 1 or not next(iter(values)).isdigit():
                    raise BrokenResponse(f"bad Content-Length {length!r}")
                self._length = int(values.pop())
        # Without a length the body runs to the end of the connection.
        self._keep_alive = keep_alive and (self._chunked or self._length is not None)
        if self._length == 0:
            self._done = True
        encoding = headers.get("content-encoding", "").strip().lower()
        self._encoding = encoding if encoding in ("gzip", "x-gzip", "deflate") else None
        self._decoder: Any = None
        if self._encoding:
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in self._encoding else zlib.MAX_WBITS)
        self._first = True

    @property
    def length_remaining(self) -> int | None:
        """Body bytes still to come as the server framed them (None: unknown)."""
        return 0 if self._done else self._length

    def isclosed(self) -> bool:
        """True once the body was read to its end (or the response closed)."""
        return self._done or self._conn is None

    def _raw1(self, n: int) -> bytes:
        if self._done or self._conn is None:
            return b""
        rfile = self._rfile
        if self._chunked:
            if not self._chunk_left:
                line = _read_line(rfile)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise BrokenResponse("a broken chunk in the body") from None
                if size == 0:
                    while _read_line(rfile) not in (b"\r\n", b"\n", b""):
                        pass  # trailer fields: not used
                    self._done = True
                    return b""
                self._chunk_left = size
            data = rfile.read1(min(n, self._chunk_left))
            if not data:
                raise BrokenResponse("the body ended inside a chunk")
            self._chunk_left -= len(data)
            if not self._chunk_left:
                _read_line(rfile)  # the CRLF after the chunk's data
            return data
        if self._length is not None:
            data = rfile.read1(min(n, self._length))
            self._length -= len(data)
            if not data or not self._length:
                # Cut short (the caller sees fewer bytes than announced) or complete.
                self._done = True
                if data:
                    return data
                self._keep_alive = False
            return data
        data = rfile.read1(n)
        if not data:
            self._done = True
        return data

    def read1(self, n: int, decode_content: bool = True) -> bytes:
        """Up to `n` body bytes from at most one socket read (decoded if the server
        compressed them); b"" at the end, including an end cut short by the server."""
        while True:
            data = self._raw1(n)
            if self._decoder is None or not decode_content:
                return data
            if not data:
                return self._decoder.flush()
            try:
                out = self._decoder.decompress(data)
            except zlib.error:
                if not (self._first and self._encoding == "deflate"):
                    raise BrokenResponse("the compressed body is corrupt") from None
                # "deflate" is raw deflate on some servers, zlib-wrapped on others.
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._decoder.decompress(data)
            self._first = False
            if out:
                return out
            # Only a compression header so far: read on, b"" would mean the end.

    def release_conn(self) -> None:
        """Give the connection back for reuse if the body was read, else close it."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep_alive and len(self._pool) < self._pool_size:
            self._pool.append(conn)
        else:
            conn.close()

    def drain_conn(self) -> None:
        """Read and drop the rest of the body, so the connection can be reused."""
        try:
            while self._raw1(1 << 16):
                pass
        except READ_ERRORS:
            self.close()

    def close(self) -> None:
        """Drop the body and the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class Transport:
    """Streams GET responses; thread-safe (pools are per thread)."""

    def __init__(self, timeout: float, headers: dict[str, str], max_redirects: int = 10,
                 pool_size: int = 4) -> None:
        self.timeout = timeout
        self.headers = headers
        self.max_redirects = max_redirects
        self.pool_size = pool_size
        self.proxies = env_proxies(os.environ)  # read once: the environment of this run
        self._ssl: Any = None
        self._ssl_lock = threading.Lock()
        self._local = threading.local()

    def _pool(self, key: tuple[Any, ...]) -> list[_Conn]:
        """This thread's idle connections to one origin; the least recently used of
        more than MAX_POOLS origins is closed (a list of many hosts must not hoard sockets)."""
        pools = getattr(self._local, "pools", None)
        if pools is None:
            pools = self._local.pools = OrderedDict()
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = []
            while len(pools) > MAX_POOLS:
                for conn in pools.popitem(last=False)[1]:
                    conn.close()
        else:
            pools.move_to_end(key)
        return pool

    def _context(self) -> Any:
        with self._ssl_lock:
            if self._ssl is None:
                import ssl  # only a run that meets https pays for it

                # Verification on, host names checked; made once (loading a bundle is slow).
                self._ssl = ssl.create_default_context(cafile=ca_bundle())
            return self._ssl

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy and bypasses_proxy(host, self.proxies.get("no", "")):
            return None
        return proxy

    @staticmethod
    def _proxy_auth(proxy: str) -> dict[str, str]:
        p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        if not p.username:
            return {}
        token = base64.b64encode(f"{unquote(p.username)}:{unquote(p.password or '')}".encode())
        return {"Proxy-Authorization": "Basic " + token.decode()}

    def _open(self, scheme: str, host: str, port: int, proxy: str | None) -> _Conn:
        """A new connection to the origin, or to the proxy for it (through a tunnel for https)."""
        if proxy is not None:
            p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            sock = socket.create_connection((p.hostname or "", p.port or 8080), timeout=self.timeout)
        else:
            sock = socket.create_connection((host, port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if proxy is not None:
                    self._tunnel(sock, host, port, self._proxy_auth(proxy))
                sock = self._context().wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        return _Conn(sock)

    @staticmethod
    def _tunnel(sock: socket.socket, host: str, port: int, auth: dict[str, str]) -> None:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}", *(f"{k}: {v}" for k, v in auth.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        rfile = sock.makefile("rb", buffering=0)
        try:
            # Read byte by byte: what follows the proxy's answer is the TLS handshake.
            raw = b""
            while not raw.endswith(b"\r\n\r\n") and not raw.endswith(b"\n\n"):
                b = rfile.read(1)
                if not b or len(raw) > MAX_HEADER_LINE:
                    raise BrokenResponse("the proxy closed the tunnel")
                raw += b
        finally:
            rfile.close()
        status = raw.split(b" ", 2)[1:2]
        if status != [b"200"]:
            raise BrokenResponse(f"the proxy refused the tunnel: {raw.splitlines()[0][:80]!r}")

    def _request(self, url: str, parts: SplitResult, headers: dict[str, str]) -> Response:
        scheme = parts.scheme.lower()
        host = parts.hostname
        if not host:
            raise TransportError(f"cannot fetch this URL or its redirect: no host in {url[:100]!r}",
                                 permanent=True)
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise TransportError(f"cannot fetch this URL or its redirect: bad port in {url[:100]!r}",
                                 permanent=True) from None
        netloc = parts.netloc.rpartition("@")[2]
        if not netloc.isascii():
            try:  # an internationalised host name goes on the wire as IDNA (xn--...)
                netloc = host.encode("idna").decode("ascii") + (f":{parts.port}" if parts.port else "")
            except UnicodeError:
                raise TransportError(f"cannot fetch this URL or its redirect: bad host name in "
                                     f"{url[:100]!r}", permanent=True) from None
        proxy = self._proxy_for(scheme, host)
        # Spaces and non-ASCII are sent percent-encoded (as browsers and urllib3 do).
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
        lines = [f"GET {target} HTTP/1.1", f"Host: {netloc}"]
        if proxy is not None and scheme == "http":
            # The absolute form, for the proxy, with its credentials on every request.
            lines[0] = f"GET http://{quote(netloc, safe=_URL_SAFE)}{target} HTTP/1.1"
            lines += [f"{k}: {v}" for k, v in self._proxy_auth(proxy).items()]
        for k, v in headers.items():
            if "\r" in v or "\n" in v:
                raise TransportError(f"cannot send header {k}: it contains a line break", permanent=True)
            lines.append(f"{k}: {v}")
        pool = self._pool((scheme, host, port, proxy))
        for _try in range(2):
            conn = pool.pop() if pool else None
            try:
                if conn is None:
                    conn = self._open(scheme, host, port, proxy)
                request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                reused, conn.used = conn.used, True
                try:
                    conn.sock.sendall(request)
                    # The whole head within twice the timeout, however it trickles in.
                    version, status, reason, hdrs = _read_head(conn.rfile, time.monotonic() + 2 * self.timeout)
                except _Stale:
                    conn.close()
                    if reused:
                        continue  # the server closed the idle keep-alive connection: once more
                    raise BrokenResponse("the server closed the connection without a response") from None
                except OSError as e:
                    # A reset, a broken pipe or a TLS close on a pooled connection: the same story.
                    conn.close()
                    if reused and not isinstance(e, TimeoutError):
                        continue
                    raise
                connection = hdrs.get("connection", "").lower()
                keep_alive = "close" not in connection and (version == 1 or "keep-alive" in connection)
                return Response(conn, status, reason, hdrs, keep_alive, pool, self.pool_size)
            except UnicodeEncodeError:
                raise TransportError(f"cannot fetch this URL or its redirect: {url[:100]!r} is not "
                                     "plain ASCII after encoding", permanent=True) from None
            except TimeoutError:
                _close(conn)
                raise TransportError("timed out waiting for the server", timeout=True) from None
            except socket.gaierror:
                _close(conn)
                raise TransportError(f"connection failed: cannot resolve host {host!r} "
                                     "(no network or no DNS?)") from None
            except READ_ERRORS as e:
                _close(conn)
                if _is_tls_error(e):
                    raise TransportError(f"TLS error: {_short(e)}", permanent=True) from None
                raise TransportError(f"connection failed: {_short(e)} ({host})") from None
        raise TransportError(f"connection failed: the server keeps closing connections ({host})")

    def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        """GET `url` following redirects; the response body is not read yet (call release_conn)."""
        seen = {url}
        hdrs = {**self.headers, **(headers or {})}
        for _hop in range(self.max_redirects + 1):
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            if scheme not in ("http", "https"):
                raise TransportError(f"cannot fetch this URL or its redirect: {scheme or 'no'} scheme in "
                                     f"{url[:100]!r} (only http and https)", permanent=True)
            resp = self._request(url, parts, hdrs)
            location = resp.headers.get("Location")
            if resp.status not in REDIRECTS or not location:
                return resp
            if (resp.length_remaining or 0) <= 64 * 1024:
                resp.drain_conn()
                resp.release_conn()
            else:
                resp.close()
            url = urljoin(url, location)
            if url in seen:
                raise TransportError("too many redirects (a loop)", permanent=True)
            seen.add(url)
            # Range and If-Range belong to the first URL's file only if it is the same file;
            # keep them (servers redirect to mirrors of the same file) but drop on a 303.
            if resp.status == 303:
                hdrs = {k: v for k, v in hdrs.items() if k not in ("Range", "If-Range")}
        raise TransportError(f"too many redirects (more than {self.max_redirects})", permanent=True)


def _close(conn: _Conn | None) -> None:
    if conn is not None:
        conn.close()


def _is_tls_error(e: BaseException) -> bool:
    import sys

    ssl = sys.modules.get("ssl")  # loaded only if some URL was https
    return ssl is not None and isinstance(e, ssl.SSLError)


def _short(e: BaseException) -> str:
    """An exception as one short line a person understands (requests and urllib3 nest long reprs)."""
    import re

    text = str(e) or type(e).__name__
    m = re.search(r"Failed to resolve '([^']+)'", text)
    if m:
        return f"cannot resolve host {m.group(1)!r} (no network or no DNS?)"
    for needle, said in (("Connection refused", "connection refused"),
                         ("Connection reset", "connection reset by the server"),
                         ("Network is unreachable", "network is unreachable"),
                         ("timed out", "timed out"),
                         ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")):
        if needle in text:
            host = re.search(r"host='([^']+)'", text)
            return said + (f" ({host.group(1)})" if host else "")
    text = re.sub(r"<urllib3\.[^>]*>:?\s*", "", text)
    text = re.sub(r"HTTPS?ConnectionPool\([^)]*\):\s*", "", text)
    text = re.sub(r"Max retries exceeded with url: \S+\s*", "", text)
    text = " ".join(text.replace("(Caused by", "").split())
    return text.strip("() ")[:200]
