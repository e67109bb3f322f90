"""Walls served by a real server, with their real statuses and headers: each is named in
--json and the state, the summary says each walled host once with its fix, a host that
keeps walling papers off is not asked about the rest, and the next run tries them again."""

import pytest

from conftest import pdfs_in, read_state
from support.faultserver import Reply, make_pdf

from support.walls import CLOUDFLARE, COOKIES, LOGIN, PAYWALL, PERIMETERX, PMC_POW

HTML = "text/html; charset=utf-8"

WALLS = {
    "cloudflare": Reply(status=403, body=CLOUDFLARE, content_type=HTML,
                        headers={"cf-mitigated": "challenge", "Server": "cloudflare"}),
    "captcha": Reply(status=403, body=PERIMETERX, content_type=HTML),
    "pmc_pow": Reply(status=200, body=PMC_POW, content_type=HTML),
    "rate_limit": Reply(status=429, body=b"<html><head><title>Too Many Requests</title></head>"
                        b"</html>", content_type=HTML, headers={"Retry-After": "0"}),
    "cookies": Reply(status=200, body=COOKIES, content_type=HTML),
    "login": Reply(status=200, body=LOGIN, content_type=HTML),
    "paywall": Reply(status=200, body=PAYWALL, content_type=HTML),
}


@pytest.mark.parametrize("kind", sorted(WALLS))
def test_each_wall_is_named_in_json_and_in_the_state(server, papers, tmp_path, kind):
    url = server.route(f"/{kind}.pdf", WALLS[kind])
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", url)
    assert r.code == 1, r.stderr
    (line,) = r.lines
    host = url.split("/")[2]
    assert line["status"] == "failed" and line["error_kind"] == "blocked"
    assert line["blocked"] == kind and line["blocked_at"] == host
    assert line["error"].startswith("blocked by ") and f" at {host}: " in line["error"]
    rec = read_state(out / ".papers-state.json")[f"url:{url}"]
    assert rec["blocked"] == kind and rec["blocked_at"] == host
    assert not rec.get("permanent")  # the next run tries it again
    assert not pdfs_in(out)
    assert "blocked: 1 paper(s) by " in r.stderr and "papers status --blocked" in r.stderr


def test_a_challenge_is_not_retried_but_a_rate_limit_is_until_its_tries_run_out(server, papers,
                                                                               tmp_path):
    challenge = server.route("/c.pdf", WALLS["cloudflare"])
    limited = server.route("/r.pdf", WALLS["rate_limit"])
    papers("download", "-o", str(tmp_path / "o"), challenge, limited)
    assert server.hits("/c.pdf") == 1
    assert server.hits("/r.pdf") > 1


def test_a_host_that_keeps_walling_papers_off_is_not_asked_about_the_rest(server, papers,
                                                                        tmp_path):
    urls = [server.route(f"/w{i}.pdf", WALLS["cloudflare"]) for i in range(12)]
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "--max-per-host", "1", "-j", "4", *urls)
    assert r.code == 1
    asked = sum(server.hits(f"/w{i}.pdf") for i in range(12))
    assert asked == 5  # the breaker's count, then nothing more to that host in this run
    lines = r.lines
    assert len(lines) == 12 and all(x["blocked"] == "cloudflare" for x in lines)
    held = [x for x in lines if "not asked" in x["error"]]
    assert len(held) == 7 and all(x["attempts"] == 0 for x in held)
    state = read_state(out / ".papers-state.json")
    assert all(not rec.get("permanent") for rec in state.values())
    assert "papers were blocked by a Cloudflare challenge; its other papers wait" in r.stderr


def test_a_doi_list_with_one_host_behind_cloudflare_as_a_new_user_would(fake, cfg, papers,
                                                                       tmp_path):
    server = fake.server
    walled, fine = {}, {}
    for i in range(8):
        # One host (named localhost) serves challenges; the other (127.0.0.1) serves PDFs.
        server.route(f"/cf/{i}.pdf", WALLS["cloudflare"])
        walled[f"10.1000/cf.{i}"] = server.url(f"/cf/{i}.pdf", host="localhost")
        fake.add(doi=f"10.1000/cf.{i}", openalex_pdf=walled[f"10.1000/cf.{i}"])
    for i in range(4):
        url, body = fake.pdf(f"ok{i}.pdf", 50 + i)
        fine[f"10.1000/ok.{i}"] = body
        fake.add(doi=f"10.1000/ok.{i}", openalex_pdf=url)
    out = tmp_path / "pdfs"
    text = "\n".join([*walled, *fine]) + "\n"
    path = cfg()
    r = papers("download", "-c", path, "-o", str(out), input=text, fast=False)
    assert r.code == 1
    assert sorted(pdfs_in(out).values()) == sorted(fine.values())
    host = f"localhost:{server.port}"
    # The host, once, with the fix; not a line per paper.
    assert r.stderr.count(f"by a Cloudflare challenge at {host}") == 1, r.stderr
    assert "--cookies FILE" in r.stderr
    assert f"blocked: 8 paper(s) by a Cloudflare challenge at {host}" in r.stderr
    assert not any(line.startswith("  failed: 10.1000/cf.") for line in r.stderr.splitlines())
    listed = papers("status", "--blocked", "-o", str(out))
    lines = listed.stdout.splitlines()
    assert lines[0] == f"{host}: 8 paper(s) blocked by a Cloudflare challenge"
    assert sorted(x.strip() for x in lines[1:]) == sorted(walled)
    as_json = papers("status", "--blocked", "--json", "-o", str(out)).lines[0]
    assert as_json["blocked"][0]["host"] == host and len(as_json["blocked"][0]["papers"]) == 8
    # The wall comes down (the user's cookies passed it): the next run fetches them.
    for i in range(8):
        server.route(f"/cf/{i}.pdf", Reply(body=make_pdf(3000, 90 + i)))
    again = papers("download", "-c", path, "-o", str(out), input=text, fast=False)
    assert again.code == 0, again.stderr
    assert len(pdfs_in(out)) == 12
    assert papers("status", "--blocked", "-o", str(out)).stdout == ""
