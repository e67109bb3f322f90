"""HTTP GETs for downloads on the standard library's http.client: one small
connection pool per worker thread.

Measured for issue 5 (8 threads, 1500 x 8 KB on loopback, bench/floor.py): a
bare GET-and-write loop costs 2.9 x aria2c's wall time on urllib3 and 1.8 x on
http.client; requests costs more still. A download needs none of what those
layers add, so this module keeps only what requests gave for free: proxies from
the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY; https through a
CONNECT tunnel), the CA bundle from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE /
SSL_CERT_FILE (else certifi, else the system store), TLS verification with
host names checked, gzip/deflate bodies decoded, stale keep-alive connections
retried once, and redirects, which we follow ourselves: http and https only, at
most `max_redirects` hops, loops detected.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import threading
import urllib.request
import zlib
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

REDIRECTS = (301, 302, 303, 307, 308)
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # already-legal URL characters, kept as they are

#: What reading a response body may raise: a socket error or a broken HTTP frame.
READ_ERRORS = (OSError, http.client.HTTPException)

# A reused keep-alive connection the server has closed fails like this before any
# byte of the response arrives: the request is simply sent again on a new one.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          ConnectionAbortedError)


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


class Response:
    """A streamed response: status, reason, headers, and the body read piece by piece."""

    def __init__(self, raw: http.client.HTTPResponse, conn: http.client.HTTPConnection,
                 pool: list[http.client.HTTPConnection], pool_size: int) -> None:
        self.raw = raw
        self.status = raw.status
        self.reason = raw.reason
        self.headers = raw.headers
        self._conn: http.client.HTTPConnection | None = conn
        self._pool = pool
        self._pool_size = pool_size
        encoding = (raw.headers.get("Content-Encoding") or "").strip().lower()
        self._encoding = encoding if encoding in ("gzip", "x-gzip", "deflate") else None
        self._decoder: Any = None
        if self._encoding:
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in self._encoding else zlib.MAX_WBITS)
        self._first = True

    @property
    def length_remaining(self) -> int | None:
        """Body bytes still to come as the server framed them (None: unknown)."""
        return self.raw.length

    def isclosed(self) -> bool:
        """True once the body was read to its end (or the response closed)."""
        return self.raw.isclosed()

    def read1(self, n: int, decode_content: bool = True) -> bytes:
        """Up to `n` body bytes from at most one socket read (decoded if the server
        compressed them); b"" at the end, including an end cut short by the server."""
        while True:
            data = self.raw.read1(n)
            if self._decoder is None or not decode_content:
                return data
            if not data:
                return self._decoder.flush()
            try:
                out = self._decoder.decompress(data)
            except zlib.error:
                if not (self._first and self._encoding == "deflate"):
                    raise http.client.HTTPException("the compressed body is corrupt") from None
                # "deflate" is raw deflate on some servers, zlib-wrapped on others.
                self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._decoder.decompress(data)
            self._first = False
            if out:
                return out
            # Only a compression header so far: read on, b"" would mean the end.

    def release_conn(self) -> None:
        """Give the connection back for reuse (the body must have been read)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        done = self.raw.isclosed() or self.raw.length == 0
        self.raw.close()  # http.client sends no new request while a response is open
        if not done or conn.sock is None or len(self._pool) >= self._pool_size:
            conn.close()
        else:
            self._pool.append(conn)

    def drain_conn(self) -> None:
        """Read and drop the rest of the body, so the connection can be reused."""
        try:
            self.raw.read()
        except READ_ERRORS:
            self.close()

    def close(self) -> None:
        """Drop the body and the connection."""
        self.raw.close()
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
        self.ca = ca_bundle()
        self.proxies = urllib.request.getproxies()  # read once: the environment of this run
        self._ssl: ssl.SSLContext | None = None
        self._ssl_lock = threading.Lock()
        self._local = threading.local()

    def _context(self) -> ssl.SSLContext:
        with self._ssl_lock:
            if self._ssl is None:
                # Verification on, host names checked; made once (loading a bundle is slow).
                self._ssl = ssl.create_default_context(cafile=self.ca)
            return self._ssl

    def _proxy_for(self, scheme: str, host: str) -> str | None:
        proxy = self.proxies.get(scheme) or self.proxies.get("all")
        if proxy and urllib.request.proxy_bypass(host):
            return None
        return proxy

    def _connect(self, scheme: str, host: str, port: int) -> tuple[tuple[Any, ...], http.client.HTTPConnection, bool]:
        """A connection for one origin from this thread's pool, or a new one; and
        whether requests go to a proxy in absolute form."""
        proxy = self._proxy_for(scheme, host)
        key = (scheme, host, port, proxy)
        pools = getattr(self._local, "pools", None)
        if pools is None:
            pools = self._local.pools = {}
        pool = pools.setdefault(key, [])
        if pool:
            return key, pool.pop(), proxy is not None and scheme == "http"
        if proxy is None:
            if scheme == "https":
                return key, http.client.HTTPSConnection(host, port, timeout=self.timeout,
                                                        context=self._context()), False
            return key, http.client.HTTPConnection(host, port, timeout=self.timeout), False
        p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        auth = {}
        if p.username:
            token = base64.b64encode(f"{unquote(p.username)}:{unquote(p.password or '')}".encode()).decode()
            auth["Proxy-Authorization"] = "Basic " + token
        if scheme == "https":
            conn = http.client.HTTPSConnection(p.hostname or "", p.port or 8080, timeout=self.timeout,
                                               context=self._context())
            conn.set_tunnel(host, port, headers=auth)
            return key, conn, False
        conn = http.client.HTTPConnection(p.hostname or "", p.port or 8080, timeout=self.timeout)
        conn._papers_proxy_headers = auth  # type: ignore[attr-defined]
        return key, conn, True

    def _request(self, url: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(url)
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
        # Spaces and non-ASCII are sent percent-encoded (as browsers and urllib3 do).
        target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
        for fresh in (False, True):
            key, conn, absolute = self._connect(scheme, host, port)
            reused = conn.sock is not None
            hdrs = headers
            if absolute:
                hdrs = {**headers, "Host": parts.netloc.rpartition("@")[2],
                        **getattr(conn, "_papers_proxy_headers", {})}
            try:
                conn.request("GET", quote(url.split("#", 1)[0], safe=_URL_SAFE) if absolute else target,
                             headers=hdrs)
                raw = conn.getresponse()
            except _STALE as e:
                conn.close()
                if reused and not fresh:
                    continue  # the server closed the idle keep-alive connection: once more
                raise TransportError(f"connection failed: {_short(e)}") from None
            except ssl.SSLError as e:
                conn.close()
                raise TransportError(f"TLS error: {_short(e)}", permanent=True) from None
            except TimeoutError:
                conn.close()
                raise TransportError("timed out waiting for the server", timeout=True) from None
            except socket.gaierror:
                conn.close()
                raise TransportError(f"connection failed: cannot resolve host {host!r} "
                                     "(no network or no DNS?)") from None
            except http.client.InvalidURL as e:
                conn.close()
                raise TransportError(f"cannot fetch this URL or its redirect: {_short(e)}",
                                     permanent=True) from None
            except READ_ERRORS as e:
                conn.close()
                raise TransportError(f"connection failed: {_short(e)} ({host})") from None
            return Response(raw, conn, self._local.pools[key], self.pool_size)
        raise AssertionError("unreachable")

    def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        """GET `url` following redirects; the response body is not read yet (call release_conn)."""
        seen = {url}
        hdrs = {**self.headers, **(headers or {})}
        for _hop in range(self.max_redirects + 1):
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https"):
                raise TransportError(f"cannot fetch this URL or its redirect: {scheme or 'no'} scheme in "
                                     f"{url[:100]!r} (only http and https)", permanent=True)
            resp = self._request(url, hdrs)
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
