"""File downloads over libcurl (pycurl): one reused handle per worker thread.

libcurl speaks HTTP: keep-alive, redirects (http and https only, at most 10
hops), TLS, proxies of every kind, content decoding, cookies (shared between
workers, with `--cookies` read only) and `.netrc`. This module configures it
from a `NetConfig`; a watchdog thread stops a transfer that overstays (a
deadline for the response head, no data for `timeout` seconds, `min_speed`, the
run stopping); libcurl's error codes become one-line reasons with a class:
transient, unreachable or permanent. The body goes to a `Receiver`, chunk by chunk.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import pycurl

from papers.errors import Cancelled, ErrorKind, TransferError
from papers.net.head import Head, head_complete, parse_head
from papers.net.hosts import hostname
from papers.net.netconf import ACCEPT, NetConfig

MAX_REDIRECTS = 10
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"  # already-legal URL characters, kept as they are
_HTTP = pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS
_E_WEIRD_SERVER_REPLY = 8  # CURLE_WEIRD_SERVER_REPLY, which pycurl does not name


def _phrase(code: int, message: str, host: str, proxy: str | None, timeout: float,
            max_size: int | None) -> tuple[str, ErrorKind] | None:
    t, u, p = ErrorKind.TRANSIENT, ErrorKind.UNREACHABLE, ErrorKind.PERMANENT
    via = f"proxy {proxy}" if proxy else host
    table = {
        pycurl.E_COULDNT_RESOLVE_HOST: (f"cannot resolve host {host} (no network or no DNS?)", u),
        pycurl.E_COULDNT_RESOLVE_PROXY: (f"cannot resolve the proxy's host ({proxy})", u),
        pycurl.E_COULDNT_CONNECT: (f"cannot connect to {via}: connection refused or unreachable", t),
        pycurl.E_OPERATION_TIMEDOUT: (f"timed out after {timeout:g}s connecting to {via}", t),
        pycurl.E_PEER_FAILED_VERIFICATION: (f"TLS error: the certificate of {host} is not trusted "
                                            "(see REQUESTS_CA_BUNDLE)", p),
        pycurl.E_SSL_CONNECT_ERROR: (f"TLS error: the secure connection to {via} failed", t),
        pycurl.E_SSL_CACERT_BADFILE: ("TLS error: cannot read the CA bundle "
                                      "(REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE or SSL_CERT_FILE)", p),
        pycurl.E_GOT_NOTHING: (f"{host} closed the connection without a reply", t),
        pycurl.E_SEND_ERROR: (f"connection to {host} reset while sending", t),
        pycurl.E_RECV_ERROR: (f"connection to {host} reset by the server", t),
        pycurl.E_PARTIAL_FILE: ("the body ended early (truncated)", t),
        pycurl.E_TOO_MANY_REDIRECTS: (f"too many redirects (more than {MAX_REDIRECTS}; a loop?)", p),
        pycurl.E_UNSUPPORTED_PROTOCOL: ("cannot fetch this URL or its redirect: "
                                        "only http and https are allowed", p),
        pycurl.E_URL_MALFORMAT: ("cannot fetch a malformed URL", p),
        _E_WEIRD_SERVER_REPLY: (f"{host} did not answer in HTTP", t),
        pycurl.E_BAD_CONTENT_ENCODING: ("the compressed body is corrupt", t),
        pycurl.E_FILESIZE_EXCEEDED: (f"too large: over --max-size {max_size} bytes", p),
        pycurl.E_LOGIN_DENIED: (f"{host} refused the credentials", p),
    }
    got = table.get(code)
    if code == pycurl.E_OPERATION_TIMEDOUT and "too slow" in message.lower():
        got = (f"timed out: nothing received from {host} for {backstop_seconds(timeout)}s", t)
    if code == pycurl.E_UNSUPPORTED_PROTOCOL and ("HTTP/" in message or "subversion" in message):
        got = (f"{host} did not answer in HTTP", t)  # "Received HTTP/0.9", a bad version
    elif code == pycurl.E_RECV_ERROR and "reset" not in message.lower() and not proxy:
        got = (f"{host} broke the HTTP framing: {' '.join(message.split())[:120]}", t)
    elif code == 100:  # CURLE_TOO_LARGE: a header block beyond libcurl's limit
        got = (f"{host} sent response headers too large to read", t)
    if got is None and code in (16, 92):  # HTTP/2 framing and stream errors
        got = (f"HTTP/2 error talking to {host}", t)
    if got is None and code in (56, 97) and proxy:
        got = (f"the proxy {proxy} refused or failed the connection", t)
    return got


def backstop_seconds(timeout: float) -> int:
    """How long libcurl itself lets a transfer receive nothing (LOW_SPEED_TIME), past
    the watchdog's limits (the head within twice `timeout`): if the watchdog ever
    misses a socket, no transfer still outlives its limits by more than a few seconds."""
    return int(2 * timeout) + 5


def describe(code: int, message: str, url: str, proxy: str | None = None,
             timeout: float = 30.0, max_size: int | None = None) -> tuple[str, ErrorKind]:
    """libcurl's error `code` as a reason a person understands, and its class."""
    from papers.redact import redact

    host = hostname(url) or url[:80]
    shown_proxy = redact(proxy) if proxy else None
    got = _phrase(code, message, host, shown_proxy, timeout, max_size)
    if got is not None:
        return got
    detail = " ".join(message.split())[:160] or f"libcurl error {code}"
    return f"transfer failed: {redact(detail)}", ErrorKind.TRANSIENT




def wire_url(url: str) -> str:
    """`url` as it goes on the wire: spaces and non-ASCII percent-encoded, the host in
    IDNA; what is already legal (`%XX` escapes, a signed query) is kept byte for byte."""
    if url.isascii() and " " not in url:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        netloc = (quote(userinfo, safe=_URL_SAFE) + at if at else "") + \
            host.encode("idna").decode("ascii") + port
    path = quote(parts.path, safe=_URL_SAFE)
    query = quote(parts.query, safe=_URL_SAFE)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def next_hop(url: str, location: bytes) -> str | None:
    """The URL a redirect from `url` leads to, as libcurl resolved its Location
    (`location`, absolute), or None when it is not http or https. User credentials of
    `url` go on only to the same scheme, host and port, as libcurl would send them."""
    target = location.decode("utf-8", "surrogateescape")
    if not target.isascii():  # raw bytes in a Location: percent-encoded, byte for byte
        target = quote(target, safe=_URL_SAFE, errors="surrogateescape")
    try:
        to, came = urlsplit(target), urlsplit(url)
        if to.scheme.lower() not in ("http", "https") or not to.hostname:
            return None
        same = (to.scheme.lower(), to.hostname, to.port) == (came.scheme.lower(), came.hostname,
                                                               came.port)
    except ValueError:
        return None
    if same and "@" in came.netloc and "@" not in to.netloc:
        userinfo = came.netloc.rpartition("@")[0]
        target = urlunsplit((to.scheme, f"{userinfo}@{to.netloc}", to.path, to.query, to.fragment))
    return target


def referer(url: str, to: str | None = None) -> str:
    """`url` as a Referer: without credentials or fragment; to another origin (`to`),
    only its origin, as browsers send it (strict-origin-when-cross-origin): a signed
    query on one host is never handed to the next."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if to is not None:
        there = urlsplit(to)
        if (there.scheme, there.netloc.rpartition("@")[2]) != (parts.scheme, netloc):
            return urlunsplit((parts.scheme, netloc, "/", "", ""))
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class Receiver(Protocol):
    """Takes one response: the head once, then the body chunk by chunk."""

    def head(self, head: Head) -> None:
        """The final response's head arrived (called before the first chunk, or at the end)."""

    def data(self, chunk: bytes) -> bool:
        """A piece of the (decoded) body; False stops the transfer."""


@dataclass(frozen=True, slots=True)
class Limits:
    """What a transfer may take before the watchdog stops it."""

    timeout: float = 30.0            # connect; no data for this long; the head within twice it
    min_speed: int | None = None     # bytes/s over `window`, else stop (drip-feeders)
    window: float = 30.0
    max_size: int | None = None
    buffer_size: int = 256 * 1024


class _Transfer:
    """The callbacks of one transfer (headers, body) and what the watchdog judges it by.

    Header lines are only collected (`list.append`) and parsed once, when the body
    starts: only the last response of a redirect chain matters (bench/AB.md,
    "header lines"; what the parse by http.client costs: "response head by http.client").
    """

    def __init__(self, receiver: Receiver, limits: Limits, monotonic: Callable[[], float]) -> None:
        self.receiver = receiver
        self.limits = limits
        self.lines: list[bytes] = []
        self.head: Head | None = None    # parsed when the body starts, or at the end
        self.received = 0                # body bytes so far (written by the transfer's thread only)
        self.stopped_by_receiver = False
        self.redirect = False            # the head is a 3xx with a Location: the next hop's
        self.error: BaseException | None = None   # raised in a callback, or Cancelled by the watchdog
        self.why: str | None = None      # the watchdog's reason for stopping it
        now = monotonic()
        self.head_deadline = now + 2 * limits.timeout
        self.last_data = self.window_start = now
        self.seen = (0, 0)               # (header lines, body bytes) at the watchdog's last look
        self.window_received = 0         # body bytes when the min_speed window began

    def start(self) -> Head:
        """Parse the head (once) and hand it to the receiver, unless it is a redirect
        to follow, whose body is read and dropped; return it."""
        if self.head is None:
            self.head = parse_head(self.lines)
            status = self.head.status  # a 304 is an answer, not a way on (nor for libcurl)
            self.redirect = (300 <= status < 400 and status != 304
                             and self.head.get("Location") is not None)
            if not self.redirect:
                self.receiver.head(self.head)
        return self.head

    def write(self, chunk: bytes) -> int | None:
        try:
            if self.head is None:
                self.start()
            if self.redirect:
                return None
            self.received += len(chunk)
            if self.receiver.data(chunk):
                return None
            self.stopped_by_receiver = True
        except BaseException as e:  # noqa: BLE001 - re-raised after perform()
            self.error = e
        return 0  # anything but len(chunk) makes libcurl stop

    def overdue(self, now: float) -> str | None:
        """Why this transfer must stop now, or None (the watchdog's look, from its thread)."""
        seen = (len(self.lines), self.received)
        if seen != self.seen:
            self.seen, self.last_data = seen, now
        timeout, min_speed = self.limits.timeout, self.limits.min_speed
        if now > self.head_deadline and self.head is None and not head_complete(self.lines):
            return f"timed out after {2 * timeout:g}s waiting for the response head"
        if now - self.last_data > timeout:
            return f"timed out after {timeout:g}s without data, at {seen[1]} bytes"
        if min_speed and now - self.window_start >= self.limits.window:
            rate = (seen[1] - self.window_received) / (now - self.window_start)
            self.window_start, self.window_received = now, seen[1]
            if rate < min_speed:
                return (f"too slow: {rate:.0f} B/s over {self.limits.window:g}s "
                        f"(minimum {min_speed} B/s), at {seen[1]} bytes")
        return None


class _Watchdog:
    """One thread that looks at every transfer in flight a few times a second and stops
    those that overstay, or all of them when the run stops, by shutting down the sockets
    of their handle: the transfer then fails with the watchdog's reason.

    libcurl's progress callback could judge each transfer from inside it, but it is
    called about nine times per small file, each time taking the GIL from the other
    workers ("Watchdog" in bench/AB.md).
    """

    def __init__(self, limits: Limits, cancel: threading.Event, monotonic: Callable[[], float]) -> None:
        self.cancel = cancel
        self.monotonic = monotonic
        shortest = min(limits.timeout, limits.window if limits.min_speed else limits.timeout)
        self.tick = min(0.25, max(0.02, shortest / 5))
        self.lock = threading.Lock()
        self.sockets: dict[int, set[int]] = {}       # a handle's open sockets, by id(handle)
        self.active: dict[int, _Transfer] = {}       # its transfer in flight
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def opened(self, key: int, fd: int) -> int:
        """libcurl made a socket for handle `key` (its SOCKOPTFUNCTION)."""
        with self.lock:
            self.sockets.setdefault(key, set()).add(fd)
        return 0

    def closing(self, key: int, fd: int) -> int:
        """libcurl is done with a socket (its CLOSESOCKETFUNCTION): forget it, then close
        it, so that a shutdown can never reach a descriptor number used again."""
        with self.lock:
            self.sockets.get(key, set()).discard(fd)
            try:
                os.close(fd)
            except OSError:
                return 1
        return 0

    def watch(self, key: int, t: _Transfer) -> None:
        with self.lock:
            self.active[key] = t
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="papers-watchdog", daemon=True)
                self.thread.start()

    def unwatch(self, key: int) -> None:
        with self.lock:
            self.active.pop(key, None)

    def stop(self) -> None:
        self.stopped.set()
        if self.thread is not None:
            self.thread.join()

    def _run(self) -> None:
        while not self.stopped.wait(self.tick):
            now, cancelled = self.monotonic(), self.cancel.is_set()
            with self.lock:
                for key, t in self.active.items():
                    if t.why is None and t.error is None:
                        if cancelled:
                            t.error = Cancelled()
                        else:
                            t.why = t.overdue(now)
                    # A judged transfer is shut down again at every look until perform()
                    # returns: libcurl retries a request whose reused connection died
                    # before any reply on a fresh connection, which must not outlive it.
                    if t.why is not None or t.error is not None:
                        self._shut(key)

    def _shut(self, key: int) -> None:
        # shutdown(2) acts on the connection, not the descriptor: the stalled read in
        # libcurl returns at once. Call with `lock` held.
        for fd in self.sockets.get(key, ()):
            try:
                with socket.socket(fileno=os.dup(fd)) as s:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class CurlClient:
    """GETs over libcurl. One instance serves all workers; each transfer takes a handle
    from a pool, the one used last first, so that a run with one transfer at a time keeps
    one connection alive however many worker threads it has (a worker checking a PDF
    lends its turn to another: `HostScheduler.lent`).

    Cookies, DNS answers and TLS sessions are shared between the handles.
    """

    def __init__(self, net: NetConfig, limits: Limits, cancel: threading.Event,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.net = net
        self.limits = limits
        self.cancel = cancel
        self.monotonic = monotonic
        self.share = pycurl.CurlShare()
        for data in (pycurl.LOCK_DATA_COOKIE, pycurl.LOCK_DATA_DNS, pycurl.LOCK_DATA_SSL_SESSION):
            self.share.setopt(pycurl.SH_SHARE, data)
        self._idle: list[pycurl.Curl] = []
        self._handles: list[pycurl.Curl] = []
        self._lock = threading.Lock()
        self.watchdog = _Watchdog(limits, cancel, monotonic)

    def _take(self) -> pycurl.Curl:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        c = self._new_handle()
        with self._lock:
            self._handles.append(c)
        return c

    def _give_back(self, c: pycurl.Curl) -> None:
        with self._lock:
            self._idle.append(c)

    def _new_handle(self) -> pycurl.Curl:
        net, limits = self.net, self.limits
        c = pycurl.Curl()
        key = id(c)
        c.setopt(pycurl.SOCKOPTFUNCTION, lambda fd, purpose: self.watchdog.opened(key, fd))
        c.setopt(pycurl.CLOSESOCKETFUNCTION, lambda fd: self.watchdog.closing(key, fd))
        c.setopt(pycurl.SHARE, self.share)
        c.setopt(pycurl.NOSIGNAL, 1)
        c.setopt(pycurl.PROTOCOLS, _HTTP)
        c.setopt(pycurl.REDIR_PROTOCOLS, _HTTP)
        # Redirects are followed by `get`, a request per hop (each hop's own proxy).
        c.setopt(pycurl.FOLLOWLOCATION, 0)
        c.setopt(pycurl.NOPROXY, "")  # NO_PROXY is read by netconf for both clients, not here
        c.setopt(pycurl.USERAGENT, net.user_agent)
        c.setopt(pycurl.ACCEPT_ENCODING, "")  # what this libcurl decodes: gzip, deflate, br ...
        # The cookie engine is on for every run; a cookies.txt is only read (no COOKIEJAR).
        c.setopt(pycurl.COOKIEFILE, net.cookies_file or "")
        c.setopt(pycurl.NETRC, pycurl.NETRC_OPTIONAL if net.netrc else pycurl.NETRC_IGNORED)
        if net.netrc and net.netrc_file:
            c.setopt(pycurl.NETRC_FILE, net.netrc_file)
        if net.ca_bundle:
            c.setopt(pycurl.CAINFO, net.ca_bundle)
            c.setopt(pycurl.PROXY_CAINFO, net.ca_bundle)
        c.setopt(pycurl.CONNECTTIMEOUT_MS, int(limits.timeout * 1000))
        c.setopt(pycurl.LOW_SPEED_LIMIT, 1)
        c.setopt(pycurl.LOW_SPEED_TIME, backstop_seconds(limits.timeout))
        c.setopt(pycurl.BUFFERSIZE, limits.buffer_size)
        c.setopt(pycurl.TCP_KEEPALIVE, 1)
        if limits.max_size:
            c.setopt(pycurl.MAXFILESIZE_LARGE, limits.max_size)
        return c

    def get(self, url: str, headers: dict[str, str], receiver: Receiver) -> Head:
        """GET `url`, following redirects; the body goes to `receiver`.

        Each hop is a request of its own, so that each gets the proxy (or none) that
        its own URL calls for. Returns the final head (with the URL the bytes came
        from). Raises TransferError when no usable response came, Cancelled when the
        run stops, and re-raises what the receiver raised.
        """
        c = self._take()
        try:
            return self._follow(c, url, headers, receiver)
        finally:
            self._give_back(c)

    def _follow(self, c: pycurl.Curl, url: str, headers: dict[str, str],
                receiver: Receiver) -> Head:
        sent = [f"Accept: {ACCEPT}", *(f"{k}: {v}" for k, v in headers.items())]
        c.setopt(pycurl.HTTPHEADER, sent)
        # After a redirect the Referer is the hop before, as a browser sends it.
        sent = [h for h in sent if not h.lower().startswith("referer:")]
        for _ in range(MAX_REDIRECTS + 1):
            t = self._perform(c, url, receiver)
            head = t.start()
            if not t.redirect:
                head.url = c.getinfo(pycurl.EFFECTIVE_URL) or url
                return head
            target = next_hop(url, c.getinfo_raw(pycurl.REDIRECT_URL) or b"")
            if target is None:
                raise TransferError(*describe(pycurl.E_UNSUPPORTED_PROTOCOL, "", url))
            c.setopt(pycurl.HTTPHEADER, [*sent, f"Referer: {referer(url)}"])
            url = target
        raise TransferError(*describe(pycurl.E_TOO_MANY_REDIRECTS, "", url))

    def _perform(self, c: pycurl.Curl, url: str, receiver: Receiver) -> _Transfer:
        """One request of a redirect chain, through the proxy its URL calls for."""
        t = _Transfer(receiver, self.limits, self.monotonic)
        proxy = self.net.proxy_for(url)
        c.setopt(pycurl.URL, wire_url(url))
        c.setopt(pycurl.PROXY, proxy or "")  # "" : no proxy, whatever the environment says
        c.setopt(pycurl.HEADERFUNCTION, t.lines.append)
        c.setopt(pycurl.WRITEFUNCTION, t.write)
        if self.cancel.is_set():
            raise Cancelled()
        self.watchdog.watch(id(c), t)
        try:
            c.perform()
        except pycurl.error as e:
            self._raise_for(t, e, url, proxy)
        finally:
            self.watchdog.unwatch(id(c))
        if t.why is not None or isinstance(t.error, Cancelled):
            # Stopped by the watchdog, which libcurl may take for the end of the body
            # (a connection shut down in an HTTP/1.0 body or in the head).
            raise t.error or TransferError(t.why or "", ErrorKind.TRANSIENT)
        return t

    def _raise_for(self, t: _Transfer, e: pycurl.error, url: str, proxy: str | None) -> None:
        if t.error is not None:
            raise t.error
        if t.why is not None:
            raise TransferError(t.why, ErrorKind.TRANSIENT)
        code, message = e.args[0], (e.args[1] if len(e.args) > 1 else "")
        if t.stopped_by_receiver and code == pycurl.E_WRITE_ERROR:
            return  # the receiver has what it wanted, or knows why it stopped
        raise TransferError(*describe(code, message, url, proxy, self.limits.timeout,
                                    self.limits.max_size))

    def close(self) -> None:
        """Close every handle (their connections) and the share; stop the watchdog."""
        self.watchdog.stop()
        with self._lock:
            for c in self._handles:
                c.close()
            self._handles.clear()
        self.share.close()
