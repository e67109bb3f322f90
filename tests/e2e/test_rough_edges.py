"""The rough edges a new user hit (the researcher-UX issue), each pinned by a test."""

import os
import subprocess

import pytest

URL = "http://127.0.0.1:9/x.pdf"


@pytest.fixture
def read_only(request):
    """Make a path read-only for this process, root included (chattr +i on root)."""
    made = []

    def make(path):
        if os.geteuid() == 0:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
                pytest.skip("chattr +i is not supported here")
        else:
            os.chmod(path, 0o555 if os.path.isdir(path) else 0o444)
        made.append(path)
        return path

    yield make
    for path in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], capture_output=True)
        else:
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)


def one_line_exit_2(r, *fragments):
    assert r.code == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    for fragment in fragments:
        assert fragment in r.stderr, r.stderr


def listing(path):
    return sorted(os.listdir(path))


def test_an_output_directory_that_cannot_be_written_is_one_line_exit_2(papers, tmp_path, read_only):
    ro = tmp_path / "ro"
    ro.mkdir()
    read_only(ro)
    one_line_exit_2(papers("download", "-o", str(ro), URL), f"output directory {ro}: cannot write")
    one_line_exit_2(papers("download", "-o", str(ro / "sub"), URL), "cannot write in")
    assert listing(ro) == []


def test_a_state_file_that_cannot_be_written_is_one_line_exit_2(papers, tmp_path, read_only):
    out = tmp_path / "o"
    out.mkdir()
    state = out / ".papers-state.json"
    state.write_text('{"schema":4,"papers":{\n}}\n')
    read_only(state)  # as if left by a run under sudo
    one_line_exit_2(papers("download", "-o", str(out), URL), f"state file {state}: cannot be written")
    assert listing(out) == [".papers-state.json"]  # no lock file left behind


@pytest.mark.parametrize("case", ["state is a directory", "state under a file", "output is a file"])
def test_a_refused_run_creates_nothing(papers, tmp_path, case):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    before = listing(tmp_path)
    args, message = {
        "state is a directory": (["-o", str(tmp_path / "o"), "--state", str(tmp_path / "adir")],
                                 "is a directory; give --state a file name"),
        "state under a file": (["-o", str(tmp_path / "o"), "--state", str(tmp_path / "afile" / "s.json")],
                               f"{tmp_path / 'afile'} is a file, not a directory"),
        "output is a file": (["-o", str(tmp_path / "afile")],
                             f"output directory {tmp_path / 'afile'} is a file, not a directory"),
    }[case]
    one_line_exit_2(papers("download", *args, URL), message)
    assert listing(tmp_path) == before and listing(tmp_path / "adir") == []


def test_a_corrupt_state_given_with_state_leaves_no_folder_or_lock(papers, tmp_path):
    bad = tmp_path / "s.json"
    bad.write_text("garbage")
    before = listing(tmp_path)
    one_line_exit_2(papers("download", "-o", str(tmp_path / "new"), "--state", str(bad), URL), "corrupt")
    assert listing(tmp_path) == before  # no `new` folder, no s.json.lock


def test_a_failure_line_names_the_url_once(server, papers, tmp_path):
    url = server.url("/nothing-here.pdf")
    r = papers("download", "-o", str(tmp_path / "o"), url)
    (line,) = [x for x in r.stderr.splitlines() if "failed:" in x]
    assert line.count(url) == 1 and line.strip() == f"failed: {url}: HTTP 404 Not Found"


def test_a_state_of_a_newer_papers_is_not_called_corrupt(papers, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".papers-state.json").write_text('{"schema": 99, "papers": {}}')
    r = papers("download", "-o", str(out), URL)
    one_line_exit_2(r, "was written by a newer papers (schema 99")
    assert "corrupt" not in r.stderr


def test_no_files_in_dir_when_nothing_was_saved(server, papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), server.url("/nope.pdf"))
    assert r.code == 1 and "0 downloaded" in r.stderr and "files in" not in r.stderr


def test_a_state_copied_to_another_directory_does_not_claim_its_files(server, papers, tmp_path):
    from support.faultserver import make_pdf

    urls = [server.pdf(f"/c{i}.pdf", make_pdf(2000 + i, i)) for i in range(3)]
    a, b = tmp_path / "a", tmp_path / "b"
    assert papers("download", "-o", str(a), *urls).code == 0
    b.mkdir()
    (b / ".papers-state.json").write_bytes((a / ".papers-state.json").read_bytes())
    before = len(server.requests)
    r = papers("download", "-o", str(b), "--json", *urls)
    assert r.code == 0, r.stderr
    assert {x["status"] for x in r.lines} == {"downloaded"} and len(server.requests) - before == 3
    assert sorted(p.name for p in b.glob("*.pdf")) == sorted(p.name for p in a.glob("*.pdf"))


@pytest.mark.parametrize("raised_to", ["100KB", "0"], ids=["a higher limit", "no limit"])
def test_raising_max_size_retries_a_paper_that_was_too_large(server, papers, tmp_path, raised_to):
    from support.faultserver import make_pdf

    body = make_pdf(50_000, 3)
    url = server.pdf("/big.pdf", body)
    out = str(tmp_path / "o")
    r = papers("download", "-o", out, "--json", "--max-size", "10KB", url)
    assert r.code == 1 and r.lines[0]["error"].startswith("too large") and "--max-size 10000" in r.lines[0]["error"]
    r = papers("download", "-o", out, "--json", "--max-size", "10KB", url)  # the same limit: not asked again
    assert server.hits("/big.pdf") == 1 and "--retry-failed" in r.lines[0]["error"]
    r = papers("download", "-o", out, "--json", "--max-size", raised_to, url)
    assert r.code == 0 and r.lines[0]["status"] == "downloaded" and server.hits("/big.pdf") == 2


def test_a_host_that_does_not_resolve_is_not_retried_within_the_run(papers, tmp_path, env):
    # A DNS label longer than 63 bytes: the resolver refuses it at once, without asking
    # any server, so this fails like an offline run does, and touches no network.
    url = f"http://{'a' * 64}.invalid/paper.pdf"
    env["NO_PROXY"] = env["no_proxy"] = "*"
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--max-retries", "3", url)
    line = r.lines[0]
    assert r.code == 1 and line["status"] == "failed" and line["attempts"] == 1
    assert line["error"].startswith("cannot resolve host") and "no network or no DNS" in line["error"]
    r = papers("download", "-o", str(tmp_path / "o"), "--json", url)
    assert r.lines[0]["attempts"] == 1 and "--retry-failed" not in r.lines[0]["error"]  # tried again
