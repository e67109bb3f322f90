"""`papers status` and `papers verify` against the state of real runs."""

import json
import os

from conftest import pdfs_in
from support.faultserver import Reply, make_pdf

from papers.state.inspect import reason_of


def test_reason_of_groups_failures_that_differ_only_by_url_and_size():
    cases = {
        "HTTP 404 Not Found (tried http://127.0.0.1:5/a.pdf)": "HTTP 404 Not Found",
        "HTTP 404 Not Found (after 4 attempts) (tried https://x.org/b?id=1)": "HTTP 404 Not Found",
        "truncated body: got 1200 of 50000 bytes (tried http://h/c.pdf)": "truncated body: got N of N bytes",
        "all 2 candidate URLs failed: http://a/1.pdf: HTTP 500; http://b/2.pdf: HTTP 404":
            "all 2 candidate URLs failed: HTTP 500; HTTP 404",
        "ambiguous: 2 works score within 0.05 of the best [closest: 10.1/a (2017) 1.00; "
        "10.1002/(sici)1097-0258 (2012) 0.99]": "ambiguous: 2 works score within 0.05 of the best",
        None: "failed",
    }
    for error, reason in cases.items():
        assert reason_of(error) == reason, error


def run_four(server, papers, tmp_path):
    """Two papers downloaded, two failed (a 404 and a login page); returns the URLs."""
    ok = [server.pdf(f"/ok{i}.pdf", make_pdf(3000 + i, i)) for i in range(2)]
    missing = server.route("/gone.pdf", Reply(status=404))
    login = server.route("/login.pdf", Reply(body=b"<html><body>Sign in</body></html>",
                                             content_type="text/html"))
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), *ok, missing, login)
    assert r.code == 1, r.stderr
    return out, ok, missing, login


def test_status_counts_groups_and_lists(server, papers, tmp_path):
    out, ok, missing, login = run_four(server, papers, tmp_path)
    r = papers("status", "-o", str(out))
    assert r.code == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("4 papers in ") and lines[0].endswith(": 2 downloaded, 2 failed")
    assert lines[1] == f"on disk: {6001 / 1000:.1f} KB in 2 files"
    assert lines[2].startswith("last run: download started 20") and ", ended 20" in lines[2]
    assert "failures by reason:" in lines
    assert any("HTTP 404" in x for x in lines) and any(missing in x for x in lines)
    assert any("HTML page" in x for x in lines) and any(login in x for x in lines)

    j = json.loads(papers("status", "-o", str(out), "--json").stdout)
    assert j["papers"] == 4 and j["by_status"] == {"downloaded": 2, "failed": 2}
    assert j["bytes"] == 6001 and j["runs"][0]["ended"] >= j["runs"][0]["started"]
    assert sorted(f["count"] for f in j["failures"]) == [1, 1]

    assert sorted(papers("status", "-o", str(out), "--failed").stdout.split()) == sorted([missing, login])
    assert sorted(papers("status", "-o", str(out), "--downloaded").stdout.split()) == sorted(ok)


def test_status_failed_feeds_a_retry(server, papers, tmp_path):
    out, ok, missing, login = run_four(server, papers, tmp_path)
    server.route("/gone.pdf", Reply(body=make_pdf(2000, 9)))   # the server mends its ways
    server.route("/login.pdf", Reply(body=make_pdf(2000, 8)))
    failed = papers("status", "--failed", "-o", str(out)).stdout
    r = papers("download", "-o", str(out), "--retry-failed", input=failed)
    assert r.code == 0, r.stderr
    assert json.loads(papers("status", "-o", str(out), "--json").stdout)["by_status"] == {"downloaded": 4}


def test_status_reads_several_states_as_one(server, papers, tmp_path):
    a, b = server.pdf("/s1.pdf", make_pdf(1000, 1)), server.pdf("/s2.pdf", make_pdf(1000, 2))
    assert papers("download", "-o", str(tmp_path / "x"), a).code == 0
    assert papers("download", "-o", str(tmp_path / "y"), a, b).code == 0
    j = json.loads(papers("status", "--json", "-o", str(tmp_path / "x"),
                          "--state", str(tmp_path / "y" / ".papers-state.json")).stdout)
    assert j["papers"] == 2 and len(j["states"]) == 2 and len(j["runs"]) == 2


def test_status_without_a_state_is_one_line_exit_2(papers, tmp_path):
    (tmp_path / "empty").mkdir()
    for args in (["-o", str(tmp_path / "nowhere")], ["-o", str(tmp_path / "empty")],
                 ["--state", str(tmp_path / "none.json")]):
        r = papers("status", *args)
        assert r.code == 2 and len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr


def test_verify_finds_missing_and_changed_files_and_fix_refetches_them(server, papers, tmp_path):
    bodies = {f"/v{i}.pdf": make_pdf(4000 + i, i) for i in range(5)}
    urls = [server.pdf(p, b) for p, b in bodies.items()]
    out = tmp_path / "o"
    assert papers("download", "-o", str(out), *urls).code == 0
    assert papers("verify", "-o", str(out)).code == 0
    names = sorted(pdfs_in(out))
    os.unlink(out / names[0])                                   # deleted
    data = (out / names[1]).read_bytes()
    (out / names[1]).write_bytes(data[:-1] + b"X")              # same size, other bytes
    size2 = (out / names[2]).stat().st_size
    (out / names[2]).write_bytes(data[:100])                    # truncated
    (out / names[3]).write_bytes(b"<html>" + b" " * (len((out / names[3]).read_bytes()) - 6))
    r = papers("verify", "-o", str(out))
    assert r.code == 1
    found = {os.path.basename(line.split("\t")[0]): line.split("\t")[1] for line in r.stdout.splitlines()}
    assert found == {names[0]: "missing", names[1]: "SHA-256 differs from the one recorded",
                     names[2]: f"size 100 bytes, {size2:,} recorded",
                     names[3]: "not a PDF (no %PDF- header)"}
    assert "5 files checked, 4 missing or changed" in r.stderr

    assert papers("verify", "-o", str(out), "--fix").code == 1
    assert (out / (names[1] + ".bad")).read_bytes() == data[:-1] + b"X"  # kept aside, not lost
    before = len(server.requests)
    r = papers("download", "-o", str(out), *urls)
    assert r.code == 0, r.stderr
    assert len(server.requests) - before == 4                   # the four, and only them
    assert sorted(pdfs_in(out).values()) == sorted(bodies.values())
    assert papers("verify", "-o", str(out)).code == 0


def _first_run_in_flight(server, env, fast_config, out):
    """A first run that has finished three papers (journal only, no snapshot yet) and
    waits on a fourth; returns the process."""
    import subprocess
    import sys
    import time

    urls = [server.pdf(f"/j{i}.pdf", make_pdf(3000 + i, i)) for i in range(3)]
    urls.append(server.route("/waits.pdf", Reply(body=make_pdf(3000, 9), stall=30)))
    proc = subprocess.Popen([sys.executable, "-m", "papers", "download", "-c", fast_config,
                             "-o", str(out), "--timeout", "60", *urls],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(pdfs_in(out) if out.exists() else {}) < 3:
        time.sleep(0.05)
    time.sleep(0.3)  # the processor records the third
    assert not (out / ".papers-state.json").exists()  # only the journal so far
    assert (out / ".papers-state.json.journal").exists()
    return proc


def test_status_and_verify_work_during_a_first_run_and_after_kill_9(server, papers, env,
                                                                   fast_config, tmp_path):
    out = tmp_path / "o"
    proc = _first_run_in_flight(server, env, fast_config, out)
    try:
        for moment in ("during the run", "after kill -9"):
            r = papers("status", "-o", str(out))
            assert r.code == 0, (moment, r.stderr)
            assert "3 papers" in r.stdout and "3 downloaded" in r.stdout, (moment, r.stdout)
            r = papers("status", "--state", str(out / ".papers-state.json"))
            assert r.code == 0 and "3 downloaded" in r.stdout, (moment, r.stderr)
            v = papers("verify", "-o", str(out))
            assert v.code == 0 and "3 files checked" in v.stderr, (moment, v.stderr)
            proc.kill()
            proc.wait()
    finally:
        proc.kill()
