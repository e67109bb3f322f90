"""kill -9, SIGINT and a many-workers stress run against the real CLI."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import pdfs_in, read_state, start_download, wait_for
from support.faultserver import Reply, make_pdf
from papers.disk.naming import path_for
from papers.inputs.records import paper_from_text

from papers.state.records import PaperRecord
from papers.state.store import StateStore




@pytest.mark.parametrize("kill_after", [1, 5, 12])
def test_kill_9_at_any_moment_then_resume(server, env, fast_config, tmp_path, kill_after):
    bodies = {f"/k{i}.pdf": make_pdf(16 * 1024 + i, i) for i in range(24)}
    urls = []
    for p, b in bodies.items():
        # Slow bodies, so that the kill lands with downloads in flight.
        urls.append(server.route(p, Reply(body=b, etag=f'"{p}"', drip=0.02, drip_chunk=2048)))
    out = tmp_path / "o"
    proc = start_download(env, fast_config, out, urls, "-j", "4")
    assert wait_for(lambda: out.exists() and len(pdfs_in(out)) >= kill_after), "no progress"
    proc.kill()
    proc.wait()

    # The state parses, and every final-named file is complete and exact.
    state = StateStore(str(out / ".papers-state.json"), PaperRecord)
    state.load()
    finished_at_kill = pdfs_in(out)
    expected = {os.path.basename(path_for(paper_from_text(u), str(out))): bodies[p]
                for p, u in zip(bodies, urls)}
    for name, data in finished_at_kill.items():
        assert data == expected[name], f"{name} is partial"
    recorded = [r for r in state.records.values() if r.status == "downloaded"]
    assert len(recorded) <= len(finished_at_kill)

    r = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out),
                        "--json", *urls], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert pdfs_in(out) == expected
    assert not [n for n in os.listdir(out) if n.endswith(".part")]
    # Nothing that had its final name at the kill was fetched again.
    for p, u in zip(bodies, urls):
        name = os.path.basename(path_for(paper_from_text(u), str(out)))
        if name in finished_at_kill:
            assert server.hits(p) == 1, p


@pytest.mark.parametrize("validator", ["etag", "last-modified"])
def test_kill_9_in_the_middle_of_a_large_body_resumes_with_range(server, env, fast_config, tmp_path,
                                                                 validator):
    # A 3 MB file killed at about 1.6 MB: no state record exists for it yet, only the
    # .part and its sidecar. The next run asks for the rest, and the file ends byte-exact.
    body = make_pdf(3 * 1024 * 1024, 7)
    kw = ({"etag": '"big-v1"'} if validator == "etag"
          else {"headers": {"Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"}})
    url = server.route("/big.pdf", Reply(body=body, drip=0.01, drip_chunk=64 * 1024, **kw))
    out = tmp_path / "o"
    proc = start_download(env, fast_config, out, [url])
    part = out / (os.path.basename(path_for(paper_from_text(url), str(out))) + ".part")
    assert wait_for(lambda: part.exists() and part.stat().st_size >= 1_600_000), "no progress"
    proc.kill()
    proc.wait()
    have = part.stat().st_size
    assert 0 < have < len(body)
    assert not (out / ".papers-state.json").exists() or not read_state(out / ".papers-state.json")

    server.route("/big.pdf", Reply(body=body, **kw))  # fast now
    r = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out),
                        "--json", url], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert list(pdfs_in(out).values()) == [body]
    second = server.requests_for("/big.pdf")[-1].headers
    start_at = int(second["Range"].removeprefix("bytes=").rstrip("-"))
    assert have - 256 * 1024 <= start_at <= have  # what was on disk, give or take the last writes
    assert second["If-Range"] == kw.get("etag", "Wed, 21 Oct 2026 07:28:00 GMT")
    assert sorted(os.listdir(out)) == sorted([*pdfs_in(out), ".papers-state.json",
                                              ".papers-state.json.lock"])  # no .part, no sidecar


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGINT", "SIGTERM", "SIGHUP"])
def test_signal_stops_fast_keeps_part_and_resumes_with_range(server, env, fast_config, tmp_path,
                                                             signum):
    bodies = {f"/s{i}.pdf": make_pdf(64 * 1024, i) for i in range(4)}
    urls = [server.route(p, Reply(body=b, etag=f'"{p}"', drip=0.05, drip_chunk=1024))
            for p, b in bodies.items()]
    out = tmp_path / "o"
    proc = start_download(env, fast_config, out, urls, "-j", "4")
    assert wait_for(lambda: out.exists() and any(
        n.endswith(".part") and os.path.getsize(out / n) > 4096 for n in os.listdir(out)))
    t0 = time.monotonic()
    proc.send_signal(signum)
    code = proc.wait(timeout=10)
    elapsed = time.monotonic() - t0
    err = proc.stderr.read().decode()
    assert code == 130, err
    assert elapsed < 3.5
    assert "interrupted" in err and "Traceback" not in err
    parts = [n for n in os.listdir(out) if n.endswith(".part")]
    assert parts
    state = read_state(out / ".papers-state.json")  # saved, compacted snapshot
    assert any(r.get("etag") for r in state.values())

    for p in bodies:  # serve fast now
        server.route(p, Reply(body=bodies[p], etag=f'"{p}"'))
    r = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out),
                        "--json", *urls], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert sorted(pdfs_in(out).values()) == sorted(bodies.values())
    resumed = [req for p in bodies for req in server.requests_for(p)[1:] if "Range" in req.headers]
    assert resumed, "no download was resumed with Range"


def test_one_sigint_stops_transfers_that_receive_nothing(server, env, fast_config, tmp_path):
    # Servers that accepted the requests and send nothing: no byte arrives to notice the
    # stop by, yet the run must not wait for --timeout.
    urls = [server.route(f"/z{i}.pdf", Reply(body=make_pdf(4096, i), stall=20)) for i in range(3)]
    out = tmp_path / "o"
    proc = start_download(env, fast_config, out, urls, "-j", "3", "--timeout", "30")
    assert wait_for(lambda: len(server.requests) >= 3)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    err = proc.stderr.read().decode()
    assert code == 130, err
    assert time.monotonic() - t0 < 3.0
    assert "interrupted" in err and "Traceback" not in err


def test_second_sigint_exits_at_once_with_valid_state(server, env, fast_config, tmp_path):
    urls = [server.route(f"/d{i}.pdf", Reply(body=make_pdf(64 * 1024, i), stall=20)) for i in range(3)]
    out = tmp_path / "o"
    proc = start_download(env, fast_config, out, urls, "-j", "3", "--timeout", "30")
    assert wait_for(lambda: len(server.requests) >= 3)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5) == 130
    state = StateStore(str(out / ".papers-state.json"), PaperRecord)
    state.load()  # parses (or is absent), never half-written


def test_stress_many_workers_no_update_lost_or_doubled(server, env, fast_config, tmp_path):
    n = 400
    bodies = {f"/m{i}.pdf": make_pdf(2048 + (i % 50) * 31, i) for i in range(n)}
    for p, b in bodies.items():
        server.pdf(p, b)
    inp = tmp_path / "list.txt"
    inp.write_text("\n".join(server.url(p) for p in bodies) + "\n")
    out = tmp_path / "o"
    r = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out),
                        "--json", "-j", "32", "-i", str(inp)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(lines) == n
    assert len({x["id"] for x in lines}) == n
    assert all(x["status"] == "downloaded" for x in lines)
    for p in bodies:
        assert server.hits(p) == 1
    assert sorted(pdfs_in(out).values()) == sorted(bodies.values())
    state = read_state(out / ".papers-state.json")
    assert len(state) == n
    assert all(rec["status"] == "downloaded" for rec in state.values())
    assert sum(rec["bytes"] for rec in state.values()) == sum(map(len, bodies.values()))
