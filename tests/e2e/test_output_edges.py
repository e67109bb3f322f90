"""Secrets and output: --dry-run masks, -q still names failures, stdout that fails says
so with its own exit code, `| head` exits 141, and the messages say what is true."""

import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from support.faultserver import Reply, make_pdf
from papers.state.records import PaperRecord
from papers.state.store import StateStore
from papers.disk.durable import write_atomic


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_dry_run_masks_passwords_and_keys(papers, tmp_path, json_flag):
    r = papers("download", "--dry-run", *json_flag, "-o", str(tmp_path / "o"),
               "http://user:hunter2@127.0.0.1:9/a.pdf", "https://x.example/b.pdf?api_key=S3CRET")
    assert r.code == 0, r.stderr
    assert "hunter2" not in r.stdout + r.stderr and "S3CRET" not in r.stdout + r.stderr
    assert "http://***@127.0.0.1:9/a.pdf" in r.stdout and "api_key=***" in r.stdout


def test_quiet_still_names_each_failure_and_the_count(server, papers, tmp_path):
    ok = server.pdf("/ok.pdf", make_pdf(3000, 1))
    gone = [server.route(f"/gone{i}.pdf", Reply(status=404)) for i in range(7)]
    r = papers("download", "-q", "-o", str(tmp_path / "o"), ok, *gone)
    assert r.code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "papers: 7 failed (of 8)"
    assert sum(line.startswith("  failed: ") and "HTTP 404" in line for line in lines) == 7
    assert "downloaded" not in r.stderr  # the counts line stays quiet


@pytest.mark.parametrize("argv", [
    ["--help"], ["download", "--help"], ["config", "show"], ["status", "-o", "{out}"],
    ["download", "--dry-run", "-o", "{out}", "10.1234/a"],
    ["download", "--json", "-c", "{config}", "-o", "{out}", "{url}"],
])
def test_stdout_that_cannot_be_written_is_said_with_its_own_exit_code(server, env, fast_config,
                                                                      tmp_path, argv):
    url = server.pdf("/full.pdf", make_pdf(3000, 2))
    out = tmp_path / "o"
    subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(out),
                    url], env=env, capture_output=True, timeout=60)  # a state for `status`
    args = [a.format(out=out, config=fast_config, url=url) for a in argv]
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-m", "papers", *args], stdout=full,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=60)
    assert p.returncode == 74, p.stderr
    assert p.stderr.strip().splitlines()[-1] == \
        "papers: cannot write to stdout: No space left on device", p.stderr
    assert "Traceback" not in p.stderr and "cannot record results" not in p.stderr


def test_status_failed_into_head_exits_141(env, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    store = StateStore.open(str(out / ".papers-state.json"), PaperRecord)
    for i in range(20_000):
        store.put(f"url:http://h/{i}.pdf", PaperRecord(id=f"http://h/{i}.pdf", status="failed",
                                                       error="HTTP 404 Not Found"))
    store.close()
    p = subprocess.run(f"{sys.executable} -m papers status --failed -o {out} | head -1; "
                       "echo \"${PIPESTATUS[0]}\" >&2", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.stdout.strip() == "http://h/0.pdf"
    assert p.stderr.strip().splitlines()[-1] == "141", p.stderr
    assert "Traceback" not in p.stderr


def test_status_failed_lists_no_input_junk(server, papers, tmp_path):
    gone = server.route("/gone.pdf", Reply(status=404))
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{a, title={No id here}}\n")
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(bib), gone)
    # its place once, and why its title was not matched
    assert (f"  failed: {bib}:1: record has no id, identifier or URL; a reference or a title "
            "is matched through crossref or openalex, and both are disabled\n") in r.stderr
    r = papers("status", "--failed", "-o", str(tmp_path / "o"))
    assert r.stdout.splitlines() == [gone]
    r = papers("status", "-o", str(tmp_path / "o"))
    # grouped by the reason alone, without the entry's place; a DOI's digits stay
    assert "       1  record has no id, identifier or URL" in r.stdout, r.stdout


def test_a_failed_atomic_write_leaves_no_temporary_file(tmp_path):
    target = tmp_path / ".papers-state.json"

    def disk_full():
        yield b"{"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_atomic(str(target), disk_full())
    assert os.listdir(tmp_path) == []


def test_consolidate_output_and_checkpoint_are_private(papers, tmp_path):
    out = tmp_path / "records.json"
    config = tmp_path / "one-source.yaml"
    config.write_text("sources:\n  crossref: {base_url: 'http://127.0.0.1:9'}\n"
                      "use_sources: [crossref]\nmax_retries: 0\n")
    r = papers("consolidate", "-c", str(config), "-o", str(out),
               "http://user:pw@127.0.0.1:9/a.pdf")
    assert r.code in (0, 1), r.stderr
    for path in (out, tmp_path / "records.json.papers-state.json"):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    assert "user:pw@" in out.read_text()  # kept for download, as the README says


def _interrupt(server, env, fast_config, tmp_path, signum):
    urls = [server.pdf(f"/fine{i}.pdf", make_pdf(3000, i)) for i in range(2)]
    urls += [server.route(f"/wait{i}.pdf", Reply(body=make_pdf(3000, 9), stall=20)) for i in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "papers", "download", "-c", fast_config,
                             "-o", str(tmp_path / "o"), "-j", "5", *urls],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(server.hits(f"/wait{i}.pdf") for i in range(3)) < 3:
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=10)
    return proc.returncode, err


def test_the_interrupted_summary_says_how_many_papers_remain(server, env, fast_config, tmp_path):
    code, err = _interrupt(server, env, fast_config, tmp_path, signal.SIGINT)
    assert code == 130
    assert "papers: interrupted with 3 of the 5 papers read so far not finished" in err, err


def test_sigterm_does_not_speak_of_ctrl_c(server, env, fast_config, tmp_path):
    code, err = _interrupt(server, env, fast_config, tmp_path, signal.SIGTERM)
    assert code == 130
    assert "Ctrl-C" not in err and "a second SIGTERM to quit at once" in err, err


def test_the_shard_note_says_no_rate_limit_rather_than_zero(server, papers, tmp_path):
    urls = [server.pdf(f"/sh{i}.pdf", make_pdf(3000, i)) for i in range(8)]
    r = papers("download", "--shard", "0/2", "-o", str(tmp_path / "o"), *urls)
    assert r.code == 0, r.stderr
    assert "no request-rate limit" in r.stderr and "0 requests/s" not in r.stderr
