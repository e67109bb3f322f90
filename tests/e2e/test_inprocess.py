"""The CLI called in-process, as httpie's tests call `httpie.core.main`: exit statuses
come back as values, errors are one line on stderr, results on stdout."""

import json
import os

import pytest

from conftest import read_state
from support.faultserver import Reply, make_pdf
from papers.cli import main
from papers.errors import (EXIT_CODES_HELP, ApiError, Cancelled, ConfigError, DiskError, ExitStatus, InputError,
                           OutputError, PaperError, PapersError, StateError, TransferError,
                           UsageError, ErrorKind)


def test_download_in_process_returns_ok_and_prints_json(server, home, tmp_path, capsys):
    body = make_pdf(20_000, 1)
    url = server.pdf("/in.pdf", body)
    code = main(["download", "-c", home, "-o", str(tmp_path / "o"), "--json", url])
    out, err = capsys.readouterr()
    assert code == ExitStatus.OK, err
    line = json.loads(out)
    assert line["status"] == "downloaded" and line["bytes"] == len(body)
    with open(line["path"], "rb") as f:
        assert f.read() == body
    assert read_state(tmp_path / "o" / ".papers-state.json")[f"url:{url}"]["status"] == "downloaded"


def test_failed_paper_is_exit_1_in_process(server, home, tmp_path, capsys):
    url = server.route("/gone.pdf", Reply(status=404, body=b"no"))
    code = main(["download", "-c", home, "-o", str(tmp_path / "o"), url])
    _, err = capsys.readouterr()
    assert code == ExitStatus.FAILED == 1
    assert "HTTP 404" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, status, message", [
    (["download", "-i", "nope.txt"], ExitStatus.ERROR, "papers: error: nope.txt: no such file\n"),
    (["download", "--workers", "many", "x"], ExitStatus.ERROR, "Invalid value for '-j'"),
    (["download", "-c", "missing.yaml", "x"], ExitStatus.ERROR, "missing.yaml"),
    (["frobnicate"], ExitStatus.ERROR, "No such command"),
])
def test_bad_usage_in_process_is_one_error_exit_2(home, capsys, argv, status, message):
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == status
    assert out == ""
    assert message in err and "Traceback" not in err
    assert not os.path.exists("papers")  # nothing created before the inputs were validated


def test_corrupt_state_in_process_is_exit_2_and_untouched(home, tmp_path, capsys):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    state = out_dir / ".papers-state.json"
    state.write_text("{not json")
    code = main(["download", "-c", home, "-o", str(out_dir), "http://127.0.0.1:9/x.pdf"])
    _, err = capsys.readouterr()
    assert code == ExitStatus.ERROR
    assert err.startswith("papers: error:") and len(err.strip().splitlines()) == 1
    assert state.read_text() == "{not json"


def test_version_and_help_return_zero(capsys):
    assert main(["--version"]) == 0
    assert "papers" in capsys.readouterr().out
    assert main(["download", "--help"]) == 0
    assert "Exit codes" in capsys.readouterr().out


def test_help_lists_every_exit_status():
    listed = {int(line.split()[0]) for line in EXIT_CODES_HELP.splitlines()[2:] if line.strip()}
    assert listed == {int(s) for s in ExitStatus}


@pytest.mark.parametrize("error, status", [
    (UsageError("x"), ExitStatus.ERROR),
    (ConfigError("x"), ExitStatus.ERROR),
    (InputError("x"), ExitStatus.ERROR),
    (StateError("x"), ExitStatus.ERROR),
    (OutputError("x"), ExitStatus.ERROR),
    (Cancelled(), ExitStatus.INTERRUPTED),
    (TransferError("reset", ErrorKind.TRANSIENT), ExitStatus.FAILED),
    (DiskError("full"), ExitStatus.FAILED),
    (ApiError("503"), ExitStatus.FAILED),
])
def test_every_error_carries_its_exit_status(error, status):
    assert isinstance(error, PapersError)
    assert error.exit_status == status
    if status == ExitStatus.FAILED:
        assert isinstance(error, PaperError)
