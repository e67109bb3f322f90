"""The real CLI against a local publisher site: cookies, landing pages, credentials, proxies."""

import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import read_state
from support.faultserver import FaultServer, Reply, make_pdf
from support.publisher import SESSION, SIGNED_QUERY, Publisher


@pytest.fixture
def pub():
    with FaultServer() as srv:
        yield Publisher(srv)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run_one(papers, tmp_path, url, *args):
    r = papers("download", "-o", str(tmp_path / "o"), "--json", *args, url)
    assert len(r.lines) == 1, r.stderr
    return r, r.lines[0]


def refused_at_first(pub, papers, tmp_path, path: str, seed: int, message: str) -> tuple[str, bytes]:
    """Serve a PDF at `/<path>/NAME` and check that a plain run is refused with `message`."""
    name = path.rsplit("/", 1)[-1]
    body = pub.pdf(name, seed)
    url = pub.url(path)
    r, line = run_one(papers, tmp_path, url)
    assert r.code == 1 and message in line["error"], line["error"]
    return url, body


def test_cookie_check_that_redirects_back_is_passed(pub, papers, tmp_path):
    body = pub.pdf("cc.pdf", 1)
    r, line = run_one(papers, tmp_path, pub.url("/cc/cc.pdf"))
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    paths = [s.path for s in pub.srv.requests]
    assert paths == ["/cc/cc.pdf", "/cc/check?back=/cc/cc.pdf", "/cc/cc.pdf"]
    assert pub.srv.requests[-1].headers.get("Cookie") == "idp_check=1"


def test_a_cookie_set_on_one_host_reaches_the_next_host_of_the_domain(pub, papers, tmp_path):
    body = pub.pdf("x.pdf", 2)
    start = pub.url("/xhost/start/x.pdf", host="www.pub.localhost")
    r, line = run_one(papers, tmp_path, start)
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    assert line["url"] == start
    assert line["pdf_url"] == pub.url("/xhost/x.pdf", host="pdf.pub.localhost")
    last = pub.srv.requests[-1]
    assert last.headers["Host"].startswith("pdf.pub.localhost") and last.headers["Cookie"] == "pubsess=ok"


@pytest.mark.parametrize("kind", ["meta", "link", "refresh", "iframe", "embed", "object"])
@pytest.mark.parametrize("how", ["abs", "rel"])
def test_landing_pages_lead_to_the_pdf(pub, papers, tmp_path, kind, how):
    body = pub.pdf(f"{kind}-{how}.pdf", 3)
    page = pub.url(f"/landing/{kind}/{how}/{kind}-{how}.pdf")
    r, line = run_one(papers, tmp_path, page)
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    assert line["url"] == page and line["pdf_url"] == pub.url(f"/files/{kind}-{how}.pdf")
    state = read_state(tmp_path / "o" / ".papers-state.json")
    (rec,) = state.values()
    assert rec["url"] == page and rec["pdf_url"] == line["pdf_url"]


def test_two_landing_hops_are_followed_and_a_login_page_fails_saying_so(pub, papers, tmp_path):
    body = pub.pdf("chain.pdf", 4)
    r, line = run_one(papers, tmp_path, pub.url("/landing/chain/rel/chain.pdf"))
    assert r.code == 0 and read(line["path"]) == body
    r2, line2 = run_one(papers, tmp_path / "b", pub.url("/landing/login/abs/x.pdf"))
    assert r2.code == 1 and line2["status"] == "failed"
    # A page with no link on it, and the signs of a login: named as the wall it is.
    assert line2["blocked"] == "login" and line2["error"].startswith("blocked by a login page at ")
    assert not [n for n in os.listdir(tmp_path / "b" / "o") if n.endswith((".pdf", ".part"))]


def test_email_reaches_the_user_agent_of_downloads(pub, papers, tmp_path):
    url, body = refused_at_first(pub, papers, tmp_path, "/ua/ua.pdf", 5, "HTTP 403")
    cfg = tmp_path / "ua.yaml"
    cfg.write_text("rate_limit: 0\nemail: librarian@uni.example\nsources: {arxiv: {enabled: false}}\n")
    r2 = papers("download", "-c", str(cfg), "-o", str(tmp_path / "o2"), "--json", url)
    assert r2.code == 0 and read(r2.lines[0]["path"]) == body
    ua = pub.srv.requests[-1].headers["User-Agent"]
    assert ua.startswith("papers/") and ua.endswith("mailto:librarian@uni.example")
    assert "librarian@uni.example" not in r2.stdout + r2.stderr  # the address is never printed


def test_raw_utf8_in_location_is_encoded_once(pub, papers, tmp_path):
    body = pub.pdf("u-\u00fcber.pdf", 6)
    r, line = run_one(papers, tmp_path, pub.url("/utf8/u"))
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    assert pub.srv.requests[-1].path == "/files/u-%C3%BCber.pdf"


def test_netrc_and_url_credentials_are_used_and_never_shown(pub, papers, env, tmp_path):
    body = pub.pdf("auth.pdf", 7)
    url = pub.url("/auth/auth.pdf")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login reader password pa55word\n")
    netrc.chmod(0o600)
    env["NETRC"] = str(netrc)
    r, line = run_one(papers, tmp_path, url)
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    off = tmp_path / "nonetrc.yaml"
    off.write_text("rate_limit: 0\nnetrc: false\nsources: {arxiv: {enabled: false}}\n")
    r2 = papers("download", "-c", str(off), "-o", str(tmp_path / "o2"), "--json", url)
    assert r2.code == 1 and "HTTP 401" in r2.lines[0]["error"]
    # user:pass@ in the URL works without netrc, and is masked in output, logs and state.
    del env["NETRC"]
    with_creds = url.replace("http://", "http://reader:pa55word@")
    r3 = papers("download", "-c", str(off), "-o", str(tmp_path / "o3"), "--json", "-v", with_creds)
    assert r3.code == 0, r3.stderr
    state = (tmp_path / "o3" / ".papers-state.json").read_text()
    for text in (r3.stdout, r3.stderr, state):
        assert "pa55word" not in text
    assert r3.lines[0]["url"].startswith("http://***@127.0.0.1:")


def test_a_signed_query_string_goes_out_byte_for_byte(pub, papers, tmp_path):
    body = pub.pdf("signed.pdf", 8)
    url = pub.url(f"/signed/signed.pdf?{SIGNED_QUERY}")
    r, line = run_one(papers, tmp_path, url)
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    assert pub.srv.requests[-1].path == f"/signed/signed.pdf?{SIGNED_QUERY}"


def test_cookies_txt_from_a_browser_is_sent_and_never_written_or_shown(pub, papers, tmp_path):
    url, body = refused_at_first(pub, papers, tmp_path, "/members/members.pdf", 9,
                                 "blocked by a login page")  # the fix it names: --cookies
    jar = tmp_path / "cookies.txt"
    text = ("# Netscape HTTP Cookie File\n"
            f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\t{SESSION}\n"
            "#HttpOnly_.other.example\tTRUE\t/\tTRUE\t0\tother\tx\n")
    jar.write_text(text)
    r2 = papers("download", "-o", str(tmp_path / "o2"), "--json", "-vv", "--cookies", str(jar), url)
    assert r2.code == 0, r2.stderr
    assert read(r2.lines[0]["path"]) == body
    assert jar.read_text() == text  # read only
    state = (tmp_path / "o2" / ".papers-state.json").read_text()
    for out in (r2.stdout, r2.stderr, state):
        assert SESSION not in out


def test_a_missing_cookies_file_is_a_one_line_error(papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), "--cookies", str(tmp_path / "nope.txt"),
               "http://127.0.0.1:9/x.pdf")
    assert r.code == 2 and "Traceback" not in r.stderr
    assert f"--cookies {tmp_path / 'nope.txt'}: cannot read (No such file or directory)" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_doi_alone_reaches_the_pdf_through_the_resolver_and_its_landing_page(pub, papers, tmp_path):
    body = pub.pdf("doi-10.5555_some-doi.pdf", 10)
    cfg = tmp_path / "doi.yaml"
    cfg.write_text(f"rate_limit: 0\ndoi_resolver: {pub.url('/doi')}\n"
                   "sources: {openalex: {enabled: false}, unpaywall: {enabled: false}, "
                   "semantic_scholar: {enabled: false}, arxiv: {enabled: false}, "
                   "crossref: {enabled: false}, europepmc: {enabled: false}}\n")
    r = papers("download", "-c", str(cfg), "-o", str(tmp_path / "o"), "--json", "10.5555/some-doi")
    assert r.code == 0, r.stderr
    line = r.lines[0]
    assert read(line["path"]) == body and line["doi"] == "10.5555/some-doi"
    assert line["url"] == pub.url("/doi/10.5555/some-doi")
    assert line["landing_page"] == pub.url("/landing/meta/rel/doi-10.5555_some-doi.pdf")
    assert line["pdf_url"] == pub.url("/files/doi-10.5555_some-doi.pdf")
    paths = [s.path for s in pub.srv.requests]
    assert paths == ["/doi/10.5555/some-doi", "/landing/meta/rel/doi-10.5555_some-doi.pdf",
                     "/files/doi-10.5555_some-doi.pdf"]


def test_brotli_encoded_bodies_are_decoded(server, papers, tmp_path):
    import brotli

    body = make_pdf(40_000, 11)
    url = server.route("/br.pdf", Reply(body=brotli.compress(body), headers={"Content-Encoding": "br"}))
    r, line = run_one(papers, tmp_path, url)
    assert r.code == 0, line["error"]
    assert read(line["path"]) == body
    assert "br" in server.requests[-1].headers["Accept-Encoding"]
    assert server.requests[-1].headers["Accept"].startswith("application/pdf")


# -- proxies of every kind, for downloads and API calls alike ---------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pproxy(tmp_path):
    """Start pproxy (a real proxy server from PyPI) listening as `scheme`; yields (url, log)."""
    procs = []

    def start(scheme: str, *extra: str):
        port = _free_port()
        log = tmp_path / f"pproxy-{port}.log"
        p = subprocess.Popen([sys.executable, "-m", "pproxy", "-l", f"{scheme}://127.0.0.1:{port}", "-v",
                              *extra], stdout=open(log, "w"), stderr=subprocess.STDOUT)
        procs.append(p)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        return port, log

    yield start
    for p in procs:
        p.terminate()
        p.wait(5)


@pytest.mark.parametrize("scheme", ["socks5h", "socks5", "https"])
def test_downloads_and_api_calls_both_go_through_socks_and_https_proxies(scheme, pproxy, papers, env,
                                                                         server, tmp_path):
    import trustme

    from support.fakeapis import FakeScholar

    extra, listen = (), {"socks5h": "socks5", "socks5": "socks5", "https": "http+ssl"}[scheme]
    if scheme == "https":
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "proxy.pem"))
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        env["REQUESTS_CA_BUNDLE"] = str(tmp_path / "ca.pem")
        extra = ("--ssl", str(tmp_path / "proxy.pem"))
    port, log = pproxy(listen, *extra)
    fake = FakeScholar(server)
    if True:  # noqa: SIM108 - keeps the block shape of the with-less fixture
        url, body = fake.pdf("via-proxy.pdf", 12)
        fake.add(doi="10.1000/proxied", openalex_pdf=url)
        cfg = tmp_path / "apis.yaml"
        cfg.write_text(fake.config())
        for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "NO_PROXY", "no_proxy"):
            env.pop(var, None)
        env["ALL_PROXY"] = f"{scheme}://127.0.0.1:{port}"
        if scheme == "https":
            # The proxy's own certificate is verified too: untrusted, nothing gets through.
            bundle = env.pop("REQUESTS_CA_BUNDLE")
            bad = papers("download", "-c", str(cfg), "-o", str(tmp_path / "bad"), "--json",
                         "10.1000/proxied", fast=False)
            assert bad.code == 1 and "TLS" in bad.lines[0]["error"], bad.lines
            assert fake.server.hits("/files/via-proxy.pdf") == 0
            env["REQUESTS_CA_BUNDLE"] = bundle
        r = papers("download", "-c", str(cfg), "-o", str(tmp_path / "o"), "--json", "10.1000/proxied",
                   fast=False)
        assert r.code == 0, r.stderr
        assert read(r.lines[0]["path"]) == body
        assert "Warning" not in r.stderr, r.stderr
        target = f"-> 127.0.0.1:{fake.server.port}"
        tunnelled = [ln for ln in log.read_text().splitlines() if target in ln]
        # At least one API call (requests) and the file (libcurl) went through the proxy.
        assert len(tunnelled) >= 2, log.read_text()
        assert fake.requests_to("/openalex") and fake.server.hits("/files/via-proxy.pdf") == 1
