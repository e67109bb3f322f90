"""The real CLI against a real local HTTP server that injects faults."""

import hashlib
import json
import os

from conftest import pdfs_in, read_state
from support.faultserver import Reply, make_pdf


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_downloads_exact_bytes_and_json_lines(server, papers, tmp_path):
    bodies = {f"/p{i}.pdf": make_pdf(20_000 + i * 997, i) for i in range(6)}
    urls = [server.pdf(p, b) for p, b in bodies.items()]
    out = tmp_path / "out"
    r = papers("download", "-o", str(out), "--json", *urls)
    assert r.code == 0, r.stderr
    lines = r.by_id()
    assert set(lines) == set(urls)
    for path, body in bodies.items():
        rec = lines[server.url(path)]
        assert rec["status"] == "downloaded"
        assert rec["url"] == server.url(path)
        assert rec["bytes"] == len(body) and rec["sha256"] == sha(body)
        assert rec["error"] is None
        assert os.path.isabs(rec["path"]) and os.path.dirname(rec["path"]) == str(out)
        assert read(rec["path"]) == body
    assert sorted(pdfs_in(out).values()) == sorted(bodies.values())
    assert not [n for n in os.listdir(out) if n.endswith(".part")]


def test_rerun_skips_without_any_request(server, papers, tmp_path):
    urls = [server.pdf(f"/r{i}.pdf", make_pdf(5000, i)) for i in range(4)]
    out = str(tmp_path / "out")
    assert papers("download", "-o", out, *urls).code == 0
    before = len(server.requests)
    r = papers("download", "-o", out, "--json", *urls)
    assert r.code == 0
    assert [x["status"] for x in r.lines] == ["skipped"] * 4
    assert all(x["sha256"] and x["path"] for x in r.lines)
    assert len(server.requests) == before


def test_deleted_file_is_downloaded_again(server, papers, tmp_path):
    body = make_pdf(7000, 9)
    url = server.pdf("/del.pdf", body)
    out = str(tmp_path / "out")
    first = papers("download", "-o", out, "--json", url).lines[0]
    os.unlink(first["path"])
    r = papers("download", "-o", out, "--json", url)
    assert r.lines[0]["status"] == "downloaded"
    assert read(first["path"]) == body
    assert server.hits("/del.pdf") == 2


def test_same_paper_twice_is_fetched_once(server, papers, tmp_path):
    body = make_pdf(3000, 1)
    url = server.pdf("/dup.pdf", body)
    upper = url.replace("http://127.0.0.1", "HTTP://127.0.0.1")
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url, upper, url)
    assert r.code == 0
    assert len(r.lines) == 1
    assert server.hits("/dup.pdf") == 1


def test_reset_mid_body_is_retried_and_resumed(server, papers, tmp_path):
    body = make_pdf(300_000, 2)
    url = server.route("/reset.pdf", Reply(body=body, reset_after=100_000, etag='"v1"'),
                       Reply(body=body, etag='"v1"'))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    rec = r.lines[0]
    assert rec["status"] == "downloaded" and rec["attempts"] == 2
    assert read(rec["path"]) == body and rec["sha256"] == sha(body)
    second = server.requests_for("/reset.pdf")[1]
    start = int(second.headers["Range"].split("=")[1].rstrip("-"))
    assert 0 < start <= 100_000
    assert second.headers["If-Range"] == '"v1"'


def test_truncated_body_without_validators_restarts(server, papers, tmp_path):
    body = make_pdf(50_000, 3)
    url = server.route("/trunc.pdf", Reply(body=body, truncate_after=20_000), Reply(body=body))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    assert read(r.lines[0]["path"]) == body
    # Without ETag/Last-Modified a resume cannot be checked, so it starts over.
    assert "Range" not in server.requests_for("/trunc.pdf")[1].headers


def test_truncated_every_time_fails_transient_then_retry_on_rerun(server, papers, tmp_path):
    body = make_pdf(50_000, 4)
    url = server.route("/always.pdf", Reply(body=body, truncate_after=10_000))
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", "--max-retries", "2", url)
    assert r.code == 1
    rec = r.lines[0]
    assert rec["status"] == "failed" and rec["attempts"] == 3
    assert "truncated" in rec["error"] or "connection broken" in rec["error"]
    assert "after 3 attempts" in rec["error"] and rec["url"] == url
    assert url not in rec["error"]  # the paper is that URL: the line names it once
    assert pdfs_in(out) == {}
    # Transient: the next run tries again (and now the server behaves).
    server.route("/always.pdf", Reply(body=body))
    r2 = papers("download", "-o", out, "--json", url)
    assert r2.code == 0 and read(r2.lines[0]["path"]) == body


def test_429_and_503_with_retry_after_are_honoured(server, papers, tmp_path):
    body = make_pdf(4000, 5)
    url = server.route("/busy.pdf", Reply(status=429, retry_after="1", body=b"slow down",
                                          content_type="text/plain"),
                       Reply(status=503, retry_after="1", content_type="text/html"),
                       Reply(body=body))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    assert r.lines[0]["attempts"] == 3
    times = [x.at for x in server.requests_for("/busy.pdf")]
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 0.9


def test_retry_after_as_http_date(server, papers, tmp_path):
    from email.utils import formatdate
    import time

    body = make_pdf(4000, 6)
    # Dated 3 s after the moment it is sent (whole seconds: 2-3 s of waiting).
    url = server.route("/date.pdf", Reply(status=503, retry_after=lambda: formatdate(time.time() + 3, usegmt=True)),
                       Reply(body=body))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    t = [x.at for x in server.requests_for("/date.pdf")]
    assert t[1] - t[0] >= 1.9


def test_html_as_200_and_as_application_pdf_rejected_at_once(server, papers, tmp_path):
    login = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>" + b"x" * 3000 + b"</body></html>"
    u1 = server.route("/login1", Reply(body=login, content_type="text/html"))
    u2 = server.route("/login2", Reply(body=login, content_type="application/pdf"))
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", u1, u2)
    assert r.code == 1
    recs = r.by_id()
    for u in (u1, u2):
        assert recs[u]["status"] == "failed"
        # A sign-in page, as HTML or as a "PDF": named as the wall it is, asked once.
        assert recs[u]["blocked"] == "login" and recs[u]["error"].startswith("blocked by a login")
        assert recs[u]["attempts"] == 1
    assert server.hits("/login1") == 1 and server.hits("/login2") == 1
    assert os.listdir(out) and pdfs_in(out) == {}
    assert not [n for n in os.listdir(out) if n.endswith(".part")]


def test_pdf_after_a_little_leading_junk_is_accepted(server, papers, tmp_path):
    body = b"\r\n\xef\xbb\xbf  " + make_pdf(3000, 7)
    url = server.pdf("/junk.pdf", body)
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0 and read(r.lines[0]["path"]) == body


def test_404_is_permanent_and_not_retried_on_rerun(server, papers, tmp_path):
    url = server.url("/missing.pdf")
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", url)
    assert r.code == 1
    assert r.lines[0]["error"] == "HTTP 404 Not Found" and r.lines[0]["id"] == url
    assert server.hits("/missing.pdf") == 1
    r2 = papers("download", "-o", out, "--json", url)
    assert r2.code == 1 and "--retry-failed" in r2.lines[0]["error"]
    assert server.hits("/missing.pdf") == 1
    server.pdf("/missing.pdf", make_pdf(2000, 1))
    r3 = papers("download", "-o", out, "--json", "--retry-failed", url)
    assert r3.code == 0 and r3.lines[0]["status"] == "downloaded"


def test_redirects_are_followed_and_url_reported_as_given(server, papers, tmp_path):
    body = make_pdf(6000, 8)
    server.pdf("/final.pdf", body)
    server.route("/hop2", Reply(status=302, location="/final.pdf"))
    url = server.route("/hop1", Reply(status=301, location=server.url("/hop2")))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0
    assert r.lines[0]["url"] == url
    assert read(r.lines[0]["path"]) == body


def test_redirect_loop_fails_clearly(server, papers, tmp_path):
    server.route("/loopA", Reply(status=302, location="/loopB"))
    url = server.route("/loopB", Reply(status=302, location="/loopA"))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 1 and "too many redirects" in r.lines[0]["error"]


def test_slow_body_within_timeout_completes(server, papers, tmp_path):
    body = make_pdf(8 * 1024, 9)
    url = server.route("/slow.pdf", Reply(body=body, drip=0.1, drip_chunk=1024))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0 and read(r.lines[0]["path"]) == body


def test_stalled_server_times_out(server, papers, tmp_path):
    url = server.route("/stall.pdf", Reply(body=make_pdf(1000, 1), stall=3))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--timeout", "0.5",
               "--max-retries", "1", url)
    assert r.code == 1
    assert "timed out after 0.5s" in r.lines[0]["error"]
    assert server.hits("/stall.pdf") == 2


def test_range_ignored_restarts_cleanly(server, papers, tmp_path):
    body = make_pdf(120_000, 10)
    url = server.route("/norange.pdf", Reply(body=body, reset_after=60_000, etag='"r"', honor_range=False),
                       Reply(body=body, etag='"r"', honor_range=False))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0
    assert server.requests_for("/norange.pdf")[1].headers.get("Range")  # we asked ...
    assert read(r.lines[0]["path"]) == body  # ... got 200, and started over


def test_candidates_fall_through_to_next_url(server, papers, tmp_path):
    body = make_pdf(9000, 11)
    html = server.route("/landing", Reply(body=b"<html>landing</html>", content_type="text/html"))
    gone = server.url("/gone.pdf")
    good = server.pdf("/good.pdf", body)
    rec = {"id": "paper-1", "title": "A Paper", "pdf_urls": [html, gone, good]}
    inp = tmp_path / "in.json"
    inp.write_text(json.dumps([rec]))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 0, r.stderr
    line = r.lines[0]
    assert line["id"] == "paper-1" and line["title"] == "A Paper"
    assert line["url"] == good and read(line["path"]) == body
    assert os.path.basename(line["path"]).startswith("A_Paper_")


def test_all_candidates_failing_lists_each_reason(server, papers, tmp_path):
    html = server.route("/l", Reply(body=b"<html>no</html>", content_type="text/html"))
    gone = server.url("/g.pdf")
    r = papers("download", "-o", str(tmp_path / "o"), "--json",
               "-i", "-", input=json.dumps({"id": "x", "pdf_urls": [html, gone]}) + "\n")
    err = r.lines[0]["error"]
    assert r.code == 1
    assert err.startswith("all 2 candidate URLs failed:")
    assert f"{html}: not a PDF" in err and f"{gone}: HTTP 404" in err


def test_max_size_from_content_length_and_while_streaming(server, papers, tmp_path):
    big = make_pdf(200_000, 12)
    u1 = server.pdf("/big.pdf", big)
    u2 = server.route("/bigchunked.pdf", Reply(body=big, chunked=True))
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", "--max-size", "100KB", u1, u2)
    assert r.code == 1
    for rec in r.lines:
        assert rec["status"] == "failed" and "too large" in rec["error"]
    assert os.listdir(out) and not [n for n in os.listdir(out) if n.endswith((".pdf", ".part"))]


def test_gzip_encoded_and_chunked_bodies(server, papers, tmp_path):
    body = make_pdf(30_000, 13)
    u1 = server.route("/gz.pdf", Reply(body=body, gzip=True))
    u2 = server.route("/chunked.pdf", Reply(body=body, chunked=True))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", u1, u2)
    assert r.code == 0, r.stderr
    for rec in r.lines:
        assert read(rec["path"]) == body and rec["sha256"] == sha(body)


def test_final_file_without_record_is_adopted_not_refetched(server, papers, tmp_path):
    body = make_pdf(5000, 14)
    url = server.pdf("/adopt.pdf", body)
    out = tmp_path / "o"
    first = papers("download", "-o", str(out), "--json", url).lines[0]
    os.unlink(out / ".papers-state.json")  # the state is lost; the file is not
    r = papers("download", "-o", str(out), "--json", url)
    assert r.lines[0]["status"] == "skipped" and r.lines[0]["sha256"] == sha(body)
    assert r.lines[0]["path"] == first["path"]
    assert server.hits("/adopt.pdf") == 1


def test_identifiers_with_every_source_disabled_fail_clearly(papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "10.1234/ABC", "arXiv:2101.00001",
               "PMID:123", "not-a-paper")
    assert r.code == 1
    recs = r.by_id()
    assert "cannot look up doi:10.1234/abc: every source is disabled" in recs["10.1234/abc"]["error"]
    assert "arxiv:2101.00001" in recs["arXiv:2101.00001"]["error"]
    assert "not a URL or a known identifier" in recs["not-a-paper"]["error"]
    assert len(recs) == 4


def test_human_summary_on_stderr_and_nothing_on_stdout(server, papers, tmp_path):
    ok = server.pdf("/s1.pdf", make_pdf(2000, 1))
    bad = server.url("/s404.pdf")
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), ok, bad)
    assert r.code == 1
    assert r.stdout == ""
    assert f"1 downloaded, 0 already there, 1 failed (of 2); files in {out}" in r.stderr
    assert f"failed: {bad}: HTTP 404 Not Found" in r.stderr
    assert "Traceback" not in r.stderr


def test_rate_limit_spaces_requests_to_one_host(server, papers, tmp_path):
    urls = [server.pdf(f"/rl{i}.pdf", make_pdf(1000, i)) for i in range(5)]
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--rate-limit", "5", "-j", "5", *urls)
    assert r.code == 0
    starts = sorted(x.at for x in server.requests if x.path.startswith("/rl"))
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert min(gaps) >= 0.17, gaps  # 1/5 s apart, allowing for clock granularity


def test_max_per_host_caps_concurrency(server, papers, tmp_path):
    urls = [server.route(f"/c{i}.pdf", Reply(body=make_pdf(4096, i), drip=0.1, drip_chunk=1024))
            for i in range(6)]
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-j", "6", "--max-per-host", "2", *urls)
    assert r.code == 0
    starts = sorted(x.at for x in server.requests if x.path.startswith("/c"))
    # Each body takes ~0.4 s; with 2 connections the 6 starts come in 3 waves.
    assert starts[-1] - starts[0] >= 0.6


def test_one_worker_keeps_its_connection_alive(server, papers, tmp_path):
    urls = [server.pdf(f"/ka{i}.pdf", make_pdf(3000, i)) for i in range(5)]
    r = papers("download", "-o", str(tmp_path / "o"), "-j", "1", "--json", *urls)
    assert r.code == 0 and len(pdfs_in(tmp_path / "o")) == 5
    ports = {s.client_port for s in server.requests if s.path.startswith("/ka")}
    assert len(ports) == 1, "each paper opened a new connection"


def test_idle_connection_closed_by_server_is_retried_on_a_new_one(server, papers, tmp_path):
    # The server drops each connection after its response (as a keep-alive timeout
    # does): the next request on the pooled connection fails before any byte and must
    # go out again on a fresh one, not count as a failed attempt.
    bodies = {f"/st{i}.pdf": make_pdf(4000, i) for i in range(4)}
    urls = [server.route(p, Reply(body=b, close_after=True)) for p, b in bodies.items()]
    r = papers("download", "-o", str(tmp_path / "o"), "-j", "1", "--json", *urls)
    assert r.code == 0, r.stderr
    assert [x["status"] for x in r.lines] == ["downloaded"] * 4
    assert all(x["error"] is None for x in r.lines)
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted(bodies.values())
    assert all(server.hits(p) == 1 for p in bodies)
    state = read_state(tmp_path / "o" / ".papers-state.json")
    assert len(state) == 4 and all(rec["attempts"] == 1 for rec in state.values())


def test_deflate_bodies_are_decoded_in_both_flavours(server, papers, tmp_path):
    a, b = make_pdf(30_000, 1), make_pdf(30_000, 2)
    ua = server.route("/dz.pdf", Reply(body=a, deflate="zlib"))
    ub = server.route("/dr.pdf", Reply(body=b, deflate="raw"))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", ua, ub)
    assert r.code == 0, r.stderr
    got = r.by_id()
    assert read(got[ua]["path"]) == a and read(got[ub]["path"]) == b


def test_spaces_and_non_ascii_in_a_url_are_percent_encoded(server, papers, tmp_path):
    body = make_pdf(5000, 5)
    server.pdf("/a%20b/%C3%A9t%C3%A9.pdf", body)
    url = server.url("/a b/été.pdf")
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.code == 0, r.stderr
    assert read(r.lines[0]["path"]) == body
