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
