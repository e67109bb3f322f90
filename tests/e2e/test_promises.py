"""One test per clause of "What papers promises" (README): resume, crash safety, hostile input."""

import json
import os
import random
import ssl
import subprocess
import sys
import time

import pytest

from conftest import pdfs_in
from support.faultserver import FaultServer, Reply, make_pdf
from papers.inputs.records import paper_from_text
from papers.disk.naming import path_for


def read(path):
    with open(path, "rb") as f:
        return f.read()


# -- resume of partial files -------------------------------------------------------

def test_resume_206_appends_byte_exact(server, papers, tmp_path):
    body = make_pdf(200_000, 1)
    url = server.route("/r.pdf", Reply(body=body, etag='"a"', reset_after=80_000), Reply(body=body, etag='"a"'))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0 and read(r.lines[0]["path"]) == body
    second = server.requests_for("/r.pdf")[1].headers
    assert second["Range"].startswith("bytes=") and second["If-Range"] == '"a"'


def test_resume_gets_200_when_file_changed_and_restarts(server, papers, tmp_path):
    old, new = make_pdf(200_000, 2), make_pdf(150_000, 3)
    url = server.route("/c.pdf", Reply(body=old, etag='"old"', reset_after=80_000), Reply(body=new, etag='"new"'))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0
    assert read(r.lines[0]["path"]) == new  # If-Range did not match: whole new file, not a splice


def test_416_restarts_instead_of_assuming_complete(server, papers, tmp_path):
    body = make_pdf(100_000, 4)
    url = server.route("/416.pdf", Reply(body=body, etag='"e"', reset_after=50_000),
                       Reply(status=416, headers={"Content-Range": "bytes */100000"}, content_type="text/plain"),
                       Reply(body=body, etag='"e"'))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0 and read(r.lines[0]["path"]) == body
    assert "Range" not in server.requests_for("/416.pdf")[2].headers


def test_wrong_content_range_is_not_appended(server, papers, tmp_path):
    body = make_pdf(100_000, 5)
    url = server.route("/cr.pdf", Reply(body=body, etag='"e"', reset_after=50_000),
                       # Claims to start at 0 although we asked for the rest.
                       Reply(status=206, body=body[:60_000], headers={"Content-Range": "bytes 0-59999/100000"}),
                       Reply(body=body, etag='"e"'))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0 and read(r.lines[0]["path"]) == body


def test_interrupted_part_resumes_in_the_next_run(server, papers, tmp_path):
    body = make_pdf(120_000, 6)
    url = server.route("/n.pdf", Reply(body=body, etag='"n"', truncate_after=70_000))
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", "--max-retries", "0", url)
    assert r.code == 1
    part = [n for n in os.listdir(out) if n.endswith(".part")]
    assert part and os.path.getsize(os.path.join(out, part[0])) == 70_000
    server.route("/n.pdf", Reply(body=body, etag='"n"'))
    r2 = papers("download", "-o", out, "--json", url)
    assert r2.code == 0 and read(r2.lines[0]["path"]) == body
    assert server.requests_for("/n.pdf")[-1].headers["Range"] == "bytes=70000-"


# -- crash safety ----------------------------------------------------------------------

def test_corrupt_state_names_the_backup_to_recover(server, papers, tmp_path):
    out = tmp_path / "o"
    url = server.pdf("/b.pdf", make_pdf(1000, 1))
    assert papers("download", "-o", str(out), url).code == 0
    assert papers("download", "-o", str(out), server.pdf("/b2.pdf", make_pdf(1000, 2))).code == 0
    (out / ".papers-state.json").write_text("{broken")
    r = papers("download", "-o", str(out), url)
    assert r.code == 2
    assert "corrupt" in r.stderr and ".papers-state.json.bak" in r.stderr and "mv " in r.stderr
    assert (out / ".papers-state.json").read_text() == "{broken"
    os.replace(out / ".papers-state.json.bak", out / ".papers-state.json")
    assert papers("download", "-o", str(out), url).code == 0


# -- hostile and broken input ------------------------------------------------------------

def test_hostile_title_and_content_disposition_cannot_escape(server, papers, tmp_path):
    body = make_pdf(2000, 7)
    url = server.pdf("/h.pdf", body, headers={"Content-Disposition": 'attachment; filename="../../evil.pdf"'})
    rec = {"url": url, "title": "../../../etc/passwd\x00\nCON", "id": "../../x"}
    out = tmp_path / "deep" / "o"
    r = papers("download", "-o", str(out), "--json", input=json.dumps(rec) + "\n")
    assert r.code == 0
    path = r.lines[0]["path"]
    assert os.path.dirname(path) == str(out) and read(path) == body
    assert not (tmp_path / "evil.pdf").exists() and not (tmp_path / "deep" / "evil.pdf").exists()


def test_planted_symlink_at_part_name_is_not_followed(server, papers, tmp_path):
    body = make_pdf(3000, 8)
    url = server.pdf("/s.pdf", body)
    out = tmp_path / "o"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    final = path_for(paper_from_text(url), str(out))
    os.symlink(victim, final + ".part")
    r = papers("download", "-o", str(out), "--json", url)
    assert r.code == 0 and read(final) == body
    assert victim.read_text() == "precious"


@pytest.mark.parametrize("target, message", [
    ("file:///etc/passwd", "cannot fetch this URL or its redirect"),
    ("ftp://example.org/x.pdf", "cannot fetch this URL or its redirect"),
    ("data:application/pdf;base64,JVBERi0=", "cannot fetch this URL or its redirect"),
])
def test_redirects_to_other_schemes_are_refused(server, papers, tmp_path, target, message):
    url = server.route("/redir", Reply(status=302, location=target))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 1 and message in r.lines[0]["error"]


def test_redirect_hop_limit(server, papers, tmp_path):
    for i in range(12):
        server.route(f"/hop{i}", Reply(status=302, location=f"/hop{i + 1}"))
    server.pdf("/hop12", make_pdf(1000, 1))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", server.url("/hop0"))
    assert r.code == 1 and "too many redirects" in r.lines[0]["error"]


def test_drip_feeding_server_is_abandoned_by_min_speed(server, papers, tmp_path):
    url = server.route("/drip.pdf", Reply(body=make_pdf(50_000, 9), drip=0.05, drip_chunk=50))
    cfg = tmp_path / "slow.yaml"
    cfg.write_text("rate_limit: 0\nmax_per_host: 4\nmin_speed: 10KB\nmin_speed_window: 0.5\n"
                   "max_retries: 0\nsources: {arxiv: {enabled: false}}\n")
    t0 = time.monotonic()
    r = papers("download", "-c", str(cfg), "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 1 and "too slow" in r.lines[0]["error"]
    assert time.monotonic() - t0 < 10  # not the 50 s the drip would take


def test_disk_full_stops_cleanly_and_resumes(server, env, fast_config, tmp_path):
    import resource

    small = {f"/f{i}.pdf": make_pdf(2000, i) for i in range(3)}
    big = make_pdf(400_000, 99)
    urls = [server.pdf(p, b) for p, b in small.items()]
    big_url = server.pdf("/big.pdf", big)
    rest = [server.pdf(f"/g{i}.pdf", make_pdf(2000, 50 + i)) for i in range(5)]
    out = tmp_path / "o"

    def limit():  # files over 200 KB cannot be written: like a disk that fills up
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    cmd = [sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out), "--json", "-j", "1"]
    p = subprocess.run(cmd + urls + [big_url] + rest, capture_output=True, text=True, env=env,
                       preexec_fn=limit, timeout=60)
    assert p.returncode == 1, p.stderr
    assert "papers: stopped: cannot write" in p.stderr and "Traceback" not in p.stderr
    done = pdfs_in(out)
    assert sorted(done.values())[:3] == sorted(small.values())  # what finished is intact
    json.load(open(out / ".papers-state.json"))                 # the state is valid
    r = subprocess.run(cmd + urls + [big_url] + rest, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert big in pdfs_in(out).values()
    for p_ in small:
        assert server.hits(p_) == 1


def test_secrets_in_urls_are_redacted(server, papers, tmp_path):
    url = server.pdf("/k.pdf?api_key=SEKRIT&email=me@example.org", make_pdf(1000, 1))
    bad = server.url("/nope.pdf?token=SEKRIT2")
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "-v", url, bad)
    blob = r.stdout + r.stderr + (out / ".papers-state.json").read_text()
    assert "SEKRIT" not in blob and "me@example.org" not in blob
    assert "api_key=***" in r.stdout
    assert server.hits("/k.pdf?api_key=SEKRIT&email=me@example.org") == 1


def test_secrets_stay_out_of_every_log_line(server, papers, tmp_path):
    # -v logs the retries and each failed candidate, with their URLs.
    body = make_pdf(1000, 2)
    flaky = server.route("/f.pdf?token=SEKRIT3", Reply(status=503), Reply(body=body))
    creds = server.url("/c.pdf").replace("http://", "http://alice:hunter2@")
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "p1", "pdf_urls": [creds, flaky]}) + "\n")
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-v", "--max-retries", "1",
               "-i", str(tmp_path / "in.jsonl"))
    assert r.code == 0, r.stderr
    assert "retrying" in r.stderr and "candidate" in r.stderr  # the lines that name URLs
    assert "SEKRIT3" not in r.stderr + r.stdout and "hunter2" not in r.stderr + r.stdout


@pytest.fixture
def tls_server():
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(ctx)
    with FaultServer(tls=ctx) as srv:
        srv.ca = ca
        yield srv


def test_tls_is_verified_and_requests_ca_bundle_honoured(tls_server, papers, env, tmp_path):
    body = make_pdf(2000, 3)
    url = tls_server.pdf("/t.pdf", body)
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 1 and "TLS error" in r.lines[0]["error"]
    bundle = tmp_path / "ca.pem"
    tls_server.ca.cert_pem.write_to_path(str(bundle))
    env["REQUESTS_CA_BUNDLE"] = str(bundle)
    r2 = papers("download", "-o", str(tmp_path / "o2"), "--json", url)
    assert r2.code == 0 and read(r2.lines[0]["path"]) == body


class ConnectProxy:
    """A forward proxy that only tunnels (CONNECT host:port), as HTTPS proxies do."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.tunnels: list[tuple[str, str | None]] = []  # (target, Proxy-Authorization)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client) -> None:
        import socket
        import threading

        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ")
        auth = next((v.split(":", 1)[1].strip() for v in lines[1:] if v.lower().startswith("proxy-authorization:")), None)
        self.tunnels.append((target, auth))
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pump(a, b):
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)


def test_https_through_a_proxy_tunnel_is_verified_end_to_end(tls_server, papers, env, tmp_path):
    body = make_pdf(30_000, 6)
    url = tls_server.pdf("/tunnel.pdf", body).replace("127.0.0.1", "localhost")
    proxy = ConnectProxy()
    env["HTTPS_PROXY"] = env["https_proxy"] = f"http://u:p@127.0.0.1:{proxy.port}"
    env["NO_PROXY"] = env["no_proxy"] = ""
    bundle = tmp_path / "ca.pem"
    tls_server.ca.cert_pem.write_to_path(str(bundle))
    env["REQUESTS_CA_BUNDLE"] = str(bundle)
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    assert read(r.lines[0]["path"]) == body
    # The proxy saw only a tunnel to the origin (with our credentials), never the request.
    assert proxy.tunnels == [(f"localhost:{tls_server.port}", "Basic dTpw")]
    assert tls_server.hits("/tunnel.pdf") == 1


def test_proxy_variables_are_honoured(server, papers, env, tmp_path):
    body = make_pdf(2000, 4)
    # As a proxy, the server sees the absolute URL as the request path.
    server.pdf("http://papers-proxy-test.invalid/p.pdf", body)
    env["HTTP_PROXY"] = env["http_proxy"] = server.url("")
    env["NO_PROXY"] = env["no_proxy"] = ""
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "http://papers-proxy-test.invalid/p.pdf")
    assert r.code == 0 and read(r.lines[0]["path"]) == body


def test_proxy_credentials_go_with_every_request_on_a_kept_connection(server, papers, env, tmp_path):
    bodies = {f"http://papers-proxy-test.invalid/q{i}.pdf": make_pdf(2000, 10 + i) for i in range(3)}
    for url, body in bodies.items():
        server.pdf(url, body)
    env["HTTP_PROXY"] = env["http_proxy"] = server.url("").replace("http://", "http://ann:s%40cret@")
    env["NO_PROXY"] = env["no_proxy"] = ""
    r = papers("download", "-o", str(tmp_path / "o"), "-j", "1", "--json", *bodies)
    assert r.code == 0, r.stderr
    seen = [s for s in server.requests if s.path in bodies]
    assert len(seen) == 3 and len({s.client_port for s in seen}) == 1
    # "ann:s@cret", base64-encoded, on each request, not just the connection's first.
    assert all(s.headers.get("Proxy-Authorization") == "Basic YW5uOnNAY3JldA==" for s in seen)
    assert all(s.headers.get("Host") == "papers-proxy-test.invalid" for s in seen)


# -- chaos ---------------------------------------------------------------------------------

def test_chaos_random_faults_and_kill_9_until_done(server, env, fast_config, tmp_path):
    rng = random.Random(20261128)
    bodies, urls = {}, []
    for i in range(30):
        body = make_pdf(rng.randint(20_000, 120_000), 1000 + i)
        path = f"/chaos{i}.pdf"
        etag = f'"c{i}"'
        faults = []
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["reset", "truncate", "503", "429", "drip", "stall"])
            if kind == "reset":
                faults.append(Reply(body=body, etag=etag, reset_after=rng.randint(1, len(body) - 1)))
            elif kind == "truncate":
                faults.append(Reply(body=body, etag=etag, truncate_after=rng.randint(1, len(body) - 1)))
            elif kind in ("503", "429"):
                faults.append(Reply(status=int(kind), retry_after="0", content_type="text/plain"))
            elif kind == "drip":
                faults.append(Reply(body=body, etag=etag, drip=0.01, drip_chunk=8192))
            else:
                faults.append(Reply(body=body, etag=etag, stall=0.3))
        server.route(path, *faults, Reply(body=body, etag=etag))
        urls.append(server.url(path))
        bodies[path] = body
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out), "-j", "6",
           "--max-retries", "5", *urls]
    names = {os.path.basename(path_for(paper_from_text(u), str(out))): p for u, p in zip(urls, bodies)}
    finished_before: dict[str, int] = {}
    deadline = time.monotonic() + 90
    for _ in range(6):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(0.2, 1.0))
        proc.kill()
        proc.wait()
        for name, data in pdfs_in(out).items():
            assert data == bodies[names[name]], f"{name} is not exact after kill -9"
            finished_before.setdefault(names[name], server.hits(names[name]))
    while time.monotonic() < deadline:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=90)
        if p.returncode == 0:
            break
    assert p.returncode == 0, p.stderr[-2000:]
    final = pdfs_in(out)
    assert {names[n]: d for n, d in final.items()} == bodies
    assert not [n for n in os.listdir(out) if n.endswith(".part")]
    for path, hits in finished_before.items():
        assert server.hits(path) == hits, f"{path} was fetched again after it was finished"
