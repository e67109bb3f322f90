"""Downloads over libcurl, against a raw socket server that says exactly the bytes a
test scripts (framing edge cases no well-behaved server sends). Each test checks what
papers does with them: the file on disk and the outcome, not how HTTP is parsed."""

import os
import socket
import threading
import time

import pytest

import pycurl

from support.faultserver import Reply
from papers.net import netconf
from papers.net.curl import describe, wire_url
from papers.net.head import parse_head
from papers.errors import ErrorKind
from papers.download.attempt import FetchConfig
from papers.download.fetch import Fetcher
from papers.net.hosts import HostLimiter
from papers.inputs.records import paper_from_text
from papers.download.planner import Fetch
from papers.net.retry import RetryPolicy


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



def fetch_one(url: str, tmp_path, timeout: float = 5.0, retries: int = 0):
    """Fetch `url` with the real Fetcher; returns the outcome and the final file's bytes."""
    cancel = threading.Event()
    fetcher = Fetcher(FetchConfig(timeout=timeout, policy=RetryPolicy(max_retries=retries,
                                                                       backoff_base=0.01)),
                      HostLimiter(8, 0, cancel), cancel, lambda msg: None)
    path = str(tmp_path / "x.pdf")
    try:
        outcome = fetcher.fetch(Fetch(paper_from_text(url), path, None, None))
    finally:
        fetcher.close()
    data = open(path, "rb").read() if os.path.exists(path) else None
    return outcome, data


PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.mark.parametrize("answer", [
    # Content-Length
    b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n" + PDF,
    # chunked, with a chunk extension and a trailer
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"4;ext=1\r\n%PDF\r\nb\r\n-1.7\n%%EOF\n\r\n0\r\nX-Trailer: y\r\n\r\n",
    # HTTP/1.0 without a length: the body runs to the end of the connection
    b"HTTP/1.0 200 OK\r\nContent-Type: application/pdf\r\n\r\n" + PDF,
    # 1xx responses come first and are skipped
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n" + PDF,
    # bare LF line ends
    b"HTTP/1.1 200 OK\nContent-Length: 15\n\n" + PDF,
    # more header lines than http.client's parser takes (100): the body is still judged
    b"HTTP/1.1 200 OK\r\n" + b"".join(b"Set-Cookie: c%d=1\r\n" % i for i in range(150))
    + b"Content-Length: 15\r\n\r\n" + PDF,
])
def test_every_framing_gives_the_exact_file(answer, tmp_path):
    srv = RawServer(answer)
    outcome, data = fetch_one(srv.url(), tmp_path)
    assert outcome.status == "downloaded", outcome.error
    assert data == PDF and outcome.bytes == len(PDF)


def test_request_percent_encodes_spaces_and_non_ascii_and_drops_the_fragment(tmp_path):
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n" + PDF)
    fetch_one(srv.url("/a b/\u00e9.pdf?q=1 2#frag"), tmp_path)
    head = srv.requests[0].decode("latin-1")
    assert head.startswith("GET /a%20b/%C3%A9.pdf?q=1%202 HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{srv.port}\r\n" in head and "frag" not in head


@pytest.mark.parametrize("answer, message", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "did not answer in HTTP"),
    (b"HTTP/1.1 abc OK\r\n\r\n", "did not answer in HTTP"),
    (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 400_000 + b"\r\n\r\n", "headers too large"),
    (b"", "closed the connection without a reply"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "broke the HTTP framing"),
    (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 8\r\n\r\nnot gzip",
     "compressed body is corrupt"),
])
def test_broken_responses_are_transient_failures_not_hangs(answer, message, tmp_path):
    srv = RawServer(answer)
    t0 = time.monotonic()
    outcome, data = fetch_one(srv.url(), tmp_path)
    assert outcome.status == "failed" and message in outcome.error
    assert not outcome.permanent  # a broken server may be fixed: retried later
    assert data is None and time.monotonic() - t0 < 5


def test_cut_short_body_keeps_the_part_and_the_next_try_uses_a_new_connection(tmp_path):
    body = PDF + b"x" * 85
    srv = RawServer(b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\nETag: \"e\"\r\n\r\n" + body,
                    b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-199/200\r\n"
                    b"Content-Length: 100\r\n\r\n" + b"y" * 100)
    outcome, data = fetch_one(srv.url(), tmp_path, retries=1)
    assert outcome.status == "downloaded", outcome.error
    assert data == body + b"y" * 100
    second = srv.requests[1].decode("latin-1")
    assert "Range: bytes=100-\r\n" in second and 'If-Range: "e"\r\n' in second


def test_a_server_closing_idle_connections_costs_no_error(server, tmp_path):
    url = server.route("/c.pdf", Reply(body=PDF, close_after=True))
    cancel = threading.Event()
    fetcher = Fetcher(FetchConfig(timeout=5), HostLimiter(8, 0, cancel), cancel, lambda m: None)
    for i in range(3):
        out = fetcher.fetch(Fetch(paper_from_text(url), str(tmp_path / f"c{i}.pdf"), None, None))
        assert out.status == "downloaded" and out.attempts == 1, out.error
    fetcher.close()
    assert len({s.client_port for s in server.requests}) == 3


def test_one_handle_keeps_its_connection_alive(server, tmp_path):
    urls = [server.pdf(f"/k{i}.pdf", PDF) for i in range(4)]
    cancel = threading.Event()
    fetcher = Fetcher(FetchConfig(timeout=5), HostLimiter(8, 0, cancel), cancel, lambda m: None)
    for i, url in enumerate(urls):
        assert fetcher.fetch(Fetch(paper_from_text(url), str(tmp_path / f"k{i}.pdf"), None, None)).status == "downloaded"
    fetcher.close()
    assert len({s.client_port for s in server.requests}) == 1


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
def test_env_proxies(environ, expected, monkeypatch):
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    net = netconf.net_config()
    assert {**net.proxies, **({"no": net.no_proxy} if net.no_proxy else {})} == expected


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
    assert netconf.bypasses_proxy(host, no_proxy) is bypass


@pytest.mark.parametrize("url, wire", [
    ("http://example.org/a.pdf", "http://example.org/a.pdf"),
    # a signed query goes out byte for byte: escapes, '+', '=' and '&' untouched
    ("https://cdn.example/x.pdf?Signature=a%2Bb%3D&Expires=1&Key-Pair-Id=K+1",
     "https://cdn.example/x.pdf?Signature=a%2Bb%3D&Expires=1&Key-Pair-Id=K+1"),
    ("http://example.org/a b.pdf", "http://example.org/a%20b.pdf"),
    ("http://b\u00fccher.example:8080/\u00e9.pdf", "http://xn--bcher-kva.example:8080/%C3%A9.pdf"),
    ("http://u:p@b\u00fccher.example/x", "http://u:p@xn--bcher-kva.example/x"),
])
def test_wire_url(url, wire):
    assert wire_url(url) == wire


@pytest.mark.parametrize("lines, status, reason, headers", [
    ([b"HTTP/1.1 200 OK\r\n", b"Content-Type: application/pdf\r\n", b"ETag:  \"e1\" \r\n", b"\r\n"],
     200, "OK", {"content-type": "application/pdf", "ETAG": '"e1"'}),
    # a redirect hop and a 1xx: only the last response counts
    ([b"HTTP/1.1 302 Found\r\n", b"Location: /b\r\n", b"Set-Cookie: a=1\r\n", b"\r\n",
      b"HTTP/1.1 100 Continue\r\n", b"\r\n", b"HTTP/1.1 200 OK\r\n", b"Content-Length: 5\r\n", b"\r\n"],
     200, "OK", {"location": None, "set-cookie": None, "content-length": "5"}),
    # repeats are joined; HTTP/2 lines have lower-case names and no reason phrase
    ([b"HTTP/2 206\r\n", b"content-range: bytes 5-9/10\r\n", b"x-a: 1\r\n", b"X-A: 2\r\n", b"\r\n"],
     206, "", {"Content-Range": "bytes 5-9/10", "x-a": "1, 2"}),
    # more lines than http.client takes: the status stands, the headers are left out
    ([b"HTTP/1.1 200 OK\r\n", *[b"X-N: %d\r\n" % i for i in range(101)], b"\r\n"],
     200, "OK", {"x-n": None}),
    ([], 0, "", {"content-type": None}),
])
def test_the_last_response_head_is_parsed(lines, status, reason, headers):
    head = parse_head(lines)
    assert (head.status, head.reason) == (status, reason)
    assert {name: head.get(name) for name in headers} == headers


@pytest.mark.parametrize("content_type, media_type, charset", [
    ("text/html; charset=UTF-8", "text/html", "utf-8"),
    ('Text/HTML; Charset="ISO-8859-1"', "text/html", "iso8859-1"),
    ("application/pdf", "application/pdf", None),
    ("text/html; charset=no-such-codec", "text/html", None),
    ("pdf", "pdf", None),
    (None, None, None),
])
def test_the_content_type_gives_the_media_type_and_a_known_charset(content_type, media_type, charset):
    lines = [b"HTTP/1.1 200 OK\r\n", *([b"Content-Type: %s\r\n" % content_type.encode()]
                                       if content_type else []), b"\r\n"]
    head = parse_head(lines)
    assert (head.media_type(), head.charset()) == (media_type, charset)


@pytest.mark.parametrize("code, message, reason, kind", [
    (pycurl.E_COULDNT_RESOLVE_HOST, "Could not resolve host: pubs.example",
     "cannot resolve host pubs.example (no network or no DNS?)", ErrorKind.UNREACHABLE),
    (pycurl.E_COULDNT_CONNECT, "Failed to connect", "cannot connect to pubs.example: connection refused",
     ErrorKind.TRANSIENT),
    (pycurl.E_PEER_FAILED_VERIFICATION, "SSL certificate problem: unable to get local issuer certificate",
     "TLS error: the certificate of pubs.example is not trusted", ErrorKind.PERMANENT),
    (pycurl.E_OPERATION_TIMEDOUT, "Connection timed out after 30001 milliseconds",
     "timed out after 30s connecting to pubs.example", ErrorKind.TRANSIENT),
    (pycurl.E_TOO_MANY_REDIRECTS, "Maximum (10) redirects followed", "too many redirects",
     ErrorKind.PERMANENT),
    (pycurl.E_UNSUPPORTED_PROTOCOL, 'Protocol "ftp" is disabled (in redirect)',
     "cannot fetch this URL or its redirect: only http and https", ErrorKind.PERMANENT),
    (pycurl.E_UNSUPPORTED_PROTOCOL, "Received HTTP/0.9 when not allowed",
     "pubs.example did not answer in HTTP", ErrorKind.TRANSIENT),
    (pycurl.E_RECV_ERROR, "Recv failure: Connection reset by peer",
     "connection to pubs.example reset by the server", ErrorKind.TRANSIENT),
    (pycurl.E_GOT_NOTHING, "Empty reply from server", "pubs.example closed the connection without a reply",
     ErrorKind.TRANSIENT),
    (999, "something odd", "transfer failed: something odd", ErrorKind.TRANSIENT),
])
def test_libcurl_errors_read_as_one_line_with_their_class(code, message, reason, kind):
    said, got = describe(code, message, "https://pubs.example/a.pdf")
    assert said.startswith(reason) and got is kind


def test_a_proxy_is_named_in_connection_errors_without_its_password():
    said, kind = describe(pycurl.E_COULDNT_CONNECT, "", "https://pubs.example/a.pdf",
                          proxy="http://user:s3cret@proxy.example:3128")
    assert "proxy http://" in said and "s3cret" not in said and kind is ErrorKind.TRANSIENT


def test_a_server_trickling_its_headers_cannot_hold_a_worker(tmp_path):
    # Each byte comes well within the timeout, but the head never ends.
    srv = RawServer(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-Slow-%d: z\r\n" % i for i in range(400))
                    + b"\r\n", drip=0.01)
    t0 = time.monotonic()
    outcome, data = fetch_one(srv.url(), tmp_path, timeout=0.4)
    assert outcome.status == "failed" and "timed out" in outcome.error and "response head" in outcome.error
    assert time.monotonic() - t0 < 3.0 and data is None


@pytest.mark.parametrize("url, proxies, no_proxy, expected", [
    ("http://a.org/x", {"http": "http://p:1"}, "", "http://p:1"),
    ("https://a.org/x", {"http": "http://p:1"}, "", None),
    ("https://a.org/x", {"all": "socks5h://s:1080"}, "", "socks5h://s:1080"),
    ("https://a.org/x", {"https": "https://tls-proxy:443", "all": "socks5h://s:1"}, "", "https://tls-proxy:443"),
    ("https://pdf.a.org/x", {"all": "socks5h://s:1"}, "a.org", None),
    ("http://127.0.0.1:8080/x", {"http": "http://p:1"}, "localhost,127.0.0.1", None),
])
def test_one_proxy_choice_for_both_clients(url, proxies, no_proxy, expected):
    net = netconf.NetConfig(proxies=proxies, no_proxy=no_proxy)
    assert net.proxy_for(url) == expected
    scheme = url.split(":")[0]
    assert net.requests_proxies(url) == ({scheme: expected} if expected else {})


def test_net_config_reads_the_environment_once(monkeypatch):
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            monkeypatch.delenv(name)
    for name, value in {"HTTPS_PROXY": "http://p:3128", "no_proxy": "intra.example",
                        "NETRC": "/etc/papers-netrc", "SSL_CERT_FILE": "/ca.pem"}.items():
        monkeypatch.setenv(name, value)
    net = netconf.net_config(email="me@uni.example", netrc=True, cookies_file="/c.txt")
    assert net.proxies == {"https": "http://p:3128"} and net.no_proxy == "intra.example"
    assert net.ca_bundle == "/ca.pem" and net.netrc_file == "/etc/papers-netrc"
    assert net.user_agent.startswith("papers/") and net.user_agent.endswith(" mailto:me@uni.example")
    assert netconf.user_agent(None, "MyLab/1.0") == "MyLab/1.0"


@pytest.mark.parametrize("text, shown", [
    ("http://reader:pa55@pub.example/x.pdf", "http://***@pub.example/x.pdf"),
    ("failed: socks5h://u:p@proxy:1080 refused", "failed: socks5h://***@proxy:1080 refused"),
    ("mail me@uni.example", "mail me@uni.example"),  # not a URL: only named secrets go
])
def test_credentials_in_urls_are_redacted(text, shown):
    from papers.redact import redact

    assert redact(text) == shown


@pytest.mark.parametrize("sidecar, prior, expect", [
    ('{"url": "http://h/a.pdf", "etag": "\\"e\\"", "last_modified": null}', None,
     ("http://h/a.pdf", '"e"', None)),
    ('{"url": "http://h/a.pdf", "etag": "\\"e\\"", "last_mo', None, None),         # torn by a crash
    ('{"url": "http://h/a.pdf", "et', ("http://h/b.pdf", None, "Tue"), ("http://h/b.pdf", None, "Tue")),
    (None, ("http://h/b.pdf", '"p"', None), ("http://h/b.pdf", '"p"', None)),     # the state says
    (None, ("http://h/b.pdf", None, None), None),                                # no validator
    ('{"url": "http://h/new.pdf", "etag": "\\"n\\""}', ("http://h/old.pdf", '"o"', None),
     ("http://h/new.pdf", '"n"', None)),                                         # newer than the state
], ids=["sidecar", "torn sidecar", "torn sidecar, state", "state", "no validator", "sidecar first"])
def test_where_a_part_came_from(tmp_path, sidecar, prior, expect):
    from papers.disk.files import PartSource
    from papers.download.attempt import Download
    from papers.download.planner import resume_of
    from papers.state.records import PaperRecord

    path = str(tmp_path / "a.pdf")
    if sidecar is not None:
        (tmp_path / "a.pdf.part.json").write_text(sidecar)
    rec = None if prior is None else PaperRecord("a", "failed", url=prior[0], etag=prior[1],
                                                 last_modified=prior[2])
    dl = Download(Fetch(paper_from_text("http://h/a.pdf"), path, resume_of(rec), "h"), 0.0)
    assert dl.file.source == (PartSource(*expect) if expect else None)
    dl.file.drop_part()
    assert dl.file.source is None and not (tmp_path / "a.pdf.part.json").exists()


@pytest.mark.parametrize("url, to, sent", [
    ("https://u:p@pub.example/a/b?sig=1#x", None, "https://pub.example/a/b?sig=1"),
    ("https://pub.example/a/b?sig=1", "https://pub.example/pdf/1", "https://pub.example/a/b?sig=1"),
    ("https://pub.example/a/b?sig=1", "https://cdn.example/pdf/1", "https://pub.example/"),
    ("https://pub.example/a", "http://pub.example/pdf", "https://pub.example/"),
    ("https://pub.example:8443/a", "https://pub.example/pdf", "https://pub.example:8443/"),
])
def test_referer(url, to, sent):
    from papers.net.curl import referer

    assert referer(url, to) == sent
