"""The HTTP/1.1 client under the downloads, against a raw socket server that says
exactly the bytes a test scripts (framing edge cases no well-behaved server sends)."""

import socket
import threading
import time

import pytest

from faultserver import Reply
from papers import transport
from papers.transport import Transport, TransportError


class RawServer:
    """Answers each connection with the next scripted byte string, then closes it."""

    def __init__(self, *answers: bytes, drip: float = 0.0) -> None:
        self.answers = list(answers)
        self.drip = drip  # seconds between bytes, for a server that trickles
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for answer in self.answers:
            conn, _ = self.sock.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                self.requests.append(data)
                if not self.drip:
                    conn.sendall(answer)
                    continue
                try:
                    for i in range(len(answer)):
                        conn.sendall(answer[i:i + 1])
                        time.sleep(self.drip)
                except OSError:
                    pass

    def url(self, path: str = "/x.pdf") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def fetch(url: str) -> tuple[int, dict, bytes]:
    t = Transport(5.0, {"User-Agent": "t"})
    r = t.get(url)
    body = b""
    while True:
        piece = r.read1(7)  # small reads cross every frame boundary
        if not piece:
            break
        body += piece
    r.release_conn()
    return r.status, r.headers, body


@pytest.mark.parametrize("answer, body", [
    # Content-Length
    (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n%PDF-1.7\n", b"%PDF-1.7\n"),
    # chunked, with a chunk extension and a trailer
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"4;ext=1\r\n%PDF\r\n5\r\n-1.7\n\r\n0\r\nX-Trailer: y\r\n\r\n", b"%PDF-1.7\n"),
    # HTTP/1.0 without a length: the body runs to the end of the connection
    (b"HTTP/1.0 200 OK\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 to the end", b"%PDF-1.4 to the end"),
    # 1xx responses come first and are skipped
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
     b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n%PDF", b"%PDF"),
    # bare LF line ends, a repeated equal Content-Length
    (b"HTTP/1.1 200 OK\nContent-Length: 4, 4\n\n%PDF", b"%PDF"),
    # 204: no body whatever the headers say
    (b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", b""),
])
def test_framing(answer, body):
    srv = RawServer(answer)
    status, _, got = fetch(srv.url())
    assert got == body and status in (200, 204)


def test_headers_case_folded_repeated_joined_and_folded_lines_kept():
    srv = RawServer(b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nX-Long: one\r\n  two\r\n"
                    b"Content-Length: 0\r\n\r\n")
    _, headers, _ = fetch(srv.url())
    assert headers.get("X-A") == "1, 2" and headers.get("x-long") == "one two"
    assert headers.get("missing", "d") == "d"


def test_request_is_plain_http_1_1_with_host_and_percent_encoding():
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    fetch(srv.url("/a b/é.pdf?q=1 2#frag"))
    head = srv.requests[0].decode("latin-1")
    assert head.startswith("GET /a%20b/%C3%A9.pdf?q=1%202 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{srv.port}\r\n" in head and "frag" not in head


@pytest.mark.parametrize("answer, message", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "not an HTTP"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 4, 5\r\n\r\n%PDF", "bad Content-Length"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70_000 + b"\r\n\r\n", "too long"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n", "too many header lines"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "closed inside the headers"),
    (b"", "closed the connection without a response"),
    (b"HTTP/1.1 100 Continue\r\n\r\n" * 50, "too many informational"),
    (b"HTTP/1.1 103 Early Hints\r\n\r\n", "connection closed after an informational"),
])
def test_broken_responses_are_errors_not_hangs(answer, message):
    srv = RawServer(answer)
    with pytest.raises(TransportError, match=message) as e:
        fetch(srv.url())
    assert not e.value.permanent  # a broken server may be fixed: retried later


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",          # not hex
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n%PDF",      # cut inside a chunk
    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnot gzip",
])
def test_broken_bodies_raise_read_errors(answer):
    srv = RawServer(answer)
    t = Transport(5.0, {})
    r = t.get(srv.url())
    with pytest.raises(transport.READ_ERRORS):
        while r.read1(1 << 16):
            pass
    r.close()


def test_cut_short_body_ends_early_and_the_connection_is_not_reused():
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n%PDF-short",
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n%PDF")
    t = Transport(5.0, {})
    r = t.get(srv.url())
    got = b""
    while piece := r.read1(1 << 16):
        got += piece
    assert got == b"%PDF-short" and r.isclosed()
    r.release_conn()
    # A new connection for the next request: the raw server answers it.
    r2 = t.get(srv.url())
    assert r2.read1(100) == b"%PDF"


def test_header_values_cannot_inject_lines(server):
    t = Transport(5.0, {"If-Range": '"x"\r\nEvil: 1'})
    with pytest.raises(TransportError, match="line break"):
        t.get(server.pdf("/inj.pdf", b"%PDF-1"))


def test_idle_pools_per_thread_are_bounded(server, monkeypatch):
    # More origins than MAX_POOLS: the least recently used one's idle connection closes.
    monkeypatch.setattr(transport, "MAX_POOLS", 1)
    a = server.pdf("/pa.pdf", b"%PDF-a")
    b = server.url("/pb.pdf", host="localhost")
    server.pdf("/pb.pdf", b"%PDF-b")
    t = Transport(5.0, {})
    for url in (a, a, b, a):
        r = t.get(url)
        while r.read1(1 << 16):
            pass
        r.release_conn()
    ports = [s.client_port for s in server.requests]
    assert ports[0] == ports[1]          # a's connection kept alive
    assert ports[3] not in ports[:3]     # then closed when b took the only pool slot


def test_a_server_closing_idle_connections_costs_no_error(server):
    url = server.route("/c.pdf", Reply(body=b"%PDF-c", close_after=True))
    t = Transport(5.0, {})
    for _ in range(3):
        r = t.get(url)
        assert r.read1(100) == b"%PDF-c"
        r.read1(100)
        r.release_conn()
    assert len({s.client_port for s in server.requests}) == 3


@pytest.mark.parametrize("environ, expected", [
    ({}, {}),
    ({"HTTP_PROXY": "http://p:1", "HTTPS_PROXY": "http://q:2"}, {"http": "http://p:1", "https": "http://q:2"}),
    ({"HTTP_PROXY": "http://up:1", "http_proxy": "http://low:1"}, {"http": "http://low:1"}),
    ({"HTTP_PROXY": "http://up:1", "http_proxy": ""}, {}),               # empty lower case unsets
    ({"HTTP_PROXY": "http://up:1", "REQUEST_METHOD": "GET"}, {}),        # CGI: HTTP_PROXY is client-set
    ({"http_proxy": "http://low:1", "REQUEST_METHOD": "GET"}, {"http": "http://low:1"}),
    ({"ALL_PROXY": "socks://s:3", "NO_PROXY": "a.org"}, {"all": "socks://s:3", "no": "a.org"}),
    ({"PATH": "/bin", "HOME": "/root"}, {}),
])
def test_env_proxies(environ, expected):
    assert transport.env_proxies(environ) == expected


@pytest.mark.parametrize("host, no_proxy, bypass", [
    ("example.org", "", False),
    ("example.org", "*", True),
    ("example.org", "example.org", True),
    ("EXAMPLE.org", "example.ORG", True),
    ("cdn.example.org", ".example.org", True),
    ("cdn.example.org", "example.org", True),
    ("badexample.org", "example.org", False),
    ("127.0.0.1", "localhost, 127.0.0.1", True),
    ("10.0.0.1", "localhost,127.0.0.1", False),
])
def test_no_proxy(host, no_proxy, bypass):
    assert transport.bypasses_proxy(host, no_proxy) is bypass


def test_international_host_names_go_out_as_idna():
    # Through an HTTP proxy the request line and Host carry the name, so the raw server sees them.
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    t = Transport(5.0, {})
    t.proxies = {"http": f"http://127.0.0.1:{srv.port}"}
    r = t.get("http://bücher.example:8080/é.pdf")
    r.release_conn()
    head = srv.requests[0].decode("ascii")
    assert head.startswith("GET http://xn--bcher-kva.example:8080/%C3%A9.pdf HTTP/1.1\r\n")
    assert "Host: xn--bcher-kva.example:8080\r\n" in head


def test_a_server_trickling_its_headers_cannot_hold_a_worker():
    # Each byte comes well within the read timeout, but the head never ends.
    srv = RawServer(b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"z" * 1000 + b"\r\n\r\n", drip=0.05)
    t = Transport(0.4, {})
    t0 = time.monotonic()
    with pytest.raises(TransportError, match="timed out") as e:
        t.get(srv.url())
    assert e.value.timeout and time.monotonic() - t0 < 2.0
