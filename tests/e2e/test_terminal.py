"""What a person sees in a terminal: the bar on stderr (a pseudo-terminal here), and the
closing summary whatever stdout is."""

import json
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest
from support.faultserver import Reply, make_pdf


def run_in_pty(cmd, env, stdout, columns=120, cwd=None):
    """Run `cmd` in `cwd` with stderr on a pseudo-terminal `columns` wide (0: a pty that
    reports no size); return (exit code, all it wrote there)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    p = subprocess.Popen(cmd, stdout=stdout, stderr=slave, stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 1)
        if not ready:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child has gone and closed its end
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return p.wait(timeout=30), out.decode("utf-8", "replace")


@pytest.mark.parametrize("columns", [120, 0], ids=["a terminal", "a pty with no size"])
def test_bar_renders_updates_shows_time_left_and_leaves_a_clean_line(server, env, fast_config, tmp_path,
                                                                     columns):
    urls = [server.route(f"/t{i}.pdf", Reply(body=make_pdf(20_000, i), drip=0.05, drip_chunk=4096))
            for i in range(6)]
    with open(tmp_path / "out.jsonl", "w") as stdout:
        code, err = run_in_pty([sys.executable, "-m", "papers", "download", "-c", fast_config, "-j", "2",
                                "-o", str(tmp_path / "o"), "--json", *urls], env, stdout, columns)
    assert code == 0, err
    frames = [f for f in re.split(r"[\r\n]", err) if f.startswith("papers: ") and "|" in f]
    assert len({f for f in frames}) >= 3, err          # drawn, then redrawn as papers finish
    assert any(re.search(r"\d/6 \|", f) for f in frames)
    assert any(re.search(r"<\d\d:\d\d", f) for f in frames), frames  # time remaining
    assert frames[-1].startswith("papers: 6/6 |")
    # The last frame ends its line; the summary is a line of its own after it.
    lines = err.replace("\r\n", "\n").split("\n")
    (summary,) = [x for x in lines if x.startswith("papers: 6 downloaded")]
    assert "\r" not in summary and lines[lines.index(summary) - 1].rstrip().endswith("]") \
        or lines[lines.index(summary) - 1].split("\r")[-1].startswith("papers: 6/6")
    # stdout (a file) got the results, and only them.
    assert [json.loads(x)["status"] for x in (tmp_path / "out.jsonl").read_text().splitlines()] == \
        ["downloaded"] * 6


def test_summary_on_stderr_whatever_stdout_is(server, papers, tmp_path):
    url = server.pdf("/s.pdf", make_pdf(1000, 1))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)  # stdout is a pipe
    assert json.loads(r.stdout)["status"] == "downloaded"
    assert "papers: 1 downloaded, 0 already there (of 1)" in r.stderr
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-q", url)
    assert r.stderr == ""                                             # -q silences it


def test_consolidate_summary_and_bar_speak_of_papers_not_bytes(papers, tmp_path, env):
    env["PAPERS_USE_SOURCES"] = "arxiv"
    env["PAPERS_SOURCES"] = "{arxiv: {base_url: 'http://127.0.0.1:9'}}"
    r = papers("consolidate", "junk-input-line")
    assert "papers: 0 with PDF candidates, 0 without, 0 from the checkpoint, 1 failed (of 1)" in r.stderr
    code, err = run_in_pty([sys.executable, "-m", "papers", "consolidate", "junk-input-line"], env,
                           subprocess.DEVNULL, cwd=tmp_path)  # its state goes to the current folder
    bar = [f for f in re.split(r"[\r\n]", err) if f.startswith("papers: ") and "|" in f]
    assert bar and "with PDF 0, without 0, failed 1" in bar[-1] and " B/s" not in err


def test_the_summary_says_when_a_per_host_limit_set_the_pace(server, papers, tmp_path):
    urls = [server.pdf(f"/p{i}.pdf", make_pdf(1000, i)) for i in range(8)]
    r = papers("download", "-o", str(tmp_path / "a"), "--rate-limit", "10", "--max-per-host", "8", *urls)
    assert "held to 10 requests/s per host by --rate-limit; see --rate-limit/--max-per-host" in r.stderr
    slow = [server.route(f"/q{i}.pdf", Reply(body=make_pdf(8000, i), drip=0.05, drip_chunk=2000))
            for i in range(6)]
    r = papers("download", "-o", str(tmp_path / "b"), "--rate-limit", "0", "--max-per-host", "1", *slow)
    assert "held to 1 connection per host by --max-per-host" in r.stderr
    r = papers("download", "-o", str(tmp_path / "c"), "--rate-limit", "0", "--max-per-host", "8",
               *[server.pdf(f"/r{i}.pdf", make_pdf(1000, i)) for i in range(8)])
    assert "held to" not in r.stderr
    # No server answered (nothing listens there): no request was held back by anything.
    r = papers("download", "-o", str(tmp_path / "d"), "--rate-limit", "10", "--max-per-host", "1",
               "--max-retries", "0", *[f"http://127.0.0.1:9/none{i}.pdf" for i in range(4)])
    assert r.code == 1 and "held to" not in r.stderr


@pytest.mark.parametrize("done, total, nbytes, pending, elapsed, left", [
    (0, 10, 0, 0, 5.0, None),              # nothing done, nothing sized: unknown
    (5, 10, 0, 0, 5.0, 5.0),               # papers at 1/s, five to go
    (9, 10, 900_000, 20_000_000, 9.0, 200.0),   # one paper left, but 20 MB of it at 100 KB/s
    (9, 10, 900_000, 50_000, 9.0, 1.0),    # little data left: the papers' pace wins
    (0, 1, 100_000, 1_000_000, 1.0, 10.0),  # no paper done yet: the bytes say
])
def test_time_left_counts_the_bytes_of_large_downloads_too(done, total, nbytes, pending, elapsed,
                                                          left):
    from papers.output.display import Stats, time_left

    stats = Stats(total=total, downloaded=done, bytes=nbytes, pending_bytes=pending)
    assert time_left(stats, elapsed) == (None if left is None else pytest.approx(left))


def test_a_large_download_is_counted_in_the_bytes_to_come_until_it_ends(server, tmp_path):
    import threading

    from papers.inputs.records import paper_from_text
    from papers.download.run import run_download
    from papers.output.display import Reporter
    from papers.settings import Settings

    url = server.route("/big.pdf", Reply(body=make_pdf(3_000_000, 1), drip=0.01, drip_chunk=65536))
    seen = []

    class Watch(Reporter):
        def update(self, stats):
            seen.append(stats.pending_bytes)

    settings = Settings(output_dir=str(tmp_path / "o"), rate_limit=0, save_interval=0.1)
    summary = run_download(settings, [paper_from_text(url)], out=None, reporter=Watch(),
                           cancel=threading.Event())
    assert summary.stats.downloaded == 1
    assert max(seen) > 1_000_000  # announced while it came
    assert seen[-1] == 0 and summary.stats.pending_bytes == 0  # nothing left once it ended
