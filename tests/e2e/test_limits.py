"""Every numeric setting is finite and in range wherever it is given, and a run starts no
more threads than it has work for."""

import threading

import pytest

from support.faultserver import make_pdf
from papers.cli import main
from papers.errors import ExitStatus
from papers.settings import MAX_WORKERS


@pytest.mark.parametrize("flag, value, said", [
    ("--timeout", "nan", "expected a finite number"),
    ("--timeout", "inf", "expected a finite number"),
    ("--timeout", "-inf", "expected a finite number"),
    ("--timeout", "1e308", "at most 86400"),
    ("--rate-limit", "nan", "expected a finite number"),
    ("--rate-limit", "inf", "expected a finite number"),
    ("--max-retries", "100000", "at most 1000"),
    ("--workers", str(MAX_WORKERS + 1), f"at most {MAX_WORKERS}"),
    ("--workers", "100000", f"at most {MAX_WORKERS}"),
    ("--max-per-host", "0", "at least 1"),
    ("--max-size", "nan", "not a size"),
    ("--max-size", "99999999999TB", "too large"),
])
def test_a_number_out_of_range_from_a_flag_is_a_usage_error(home, capsys, flag, value, said):
    code = main(["download", "-c", home, flag, value, "--dry-run", "10.1234/x"])
    _, err = capsys.readouterr()
    assert code == ExitStatus.ERROR == 2
    assert err.startswith("papers: error: ") and said in err and err.count("\n") == 1, err


@pytest.mark.parametrize("var, value", [
    ("PAPERS_TIMEOUT", "nan"), ("PAPERS_RATE_LIMIT", "inf"), ("PAPERS_BACKOFF_MAX", "NaN"),
    ("PAPERS_WORKERS", "100000"), ("PAPERS_MAX_SIZE", "inf")])
def test_a_number_out_of_range_from_the_environment_is_a_usage_error(home, capsys, monkeypatch,
                                                                       var, value):
    monkeypatch.setenv(var, value)
    code = main(["download", "-c", home, "--dry-run", "10.1234/x"])
    _, err = capsys.readouterr()
    assert code == 2 and var in err and err.count("\n") == 1, err


@pytest.mark.parametrize("yaml", [
    "timeout: .nan", "timeout: .inf", "rate_limit: -.inf", "save_interval: .nan",
    "max_size: .inf", "workers: 100000",
    "sources:\n  openalex: {rate_limit: .nan}", "sources:\n  crossref: {rate_limit: .inf}"])
def test_a_number_out_of_range_in_the_config_file_is_a_usage_error(home, tmp_path, capsys, yaml):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml + "\n")
    code = main(["download", "-c", str(config), "--dry-run", "10.1234/x"])
    _, err = capsys.readouterr()
    assert code == 2 and "bad.yaml" in err and err.count("\n") == 1, err


def test_the_most_workers_is_accepted(home, capsys):
    code = main(["download", "-c", home, "-j", str(MAX_WORKERS), "--dry-run", "10.1234/x"])
    assert code == 0, capsys.readouterr().err


def test_a_run_starts_no_more_workers_than_it_has_papers(server, home, tmp_path, capsys,
                                                         monkeypatch):
    urls = [server.pdf(f"/w{i}.pdf", make_pdf(3000, i)) for i in range(3)]
    started = []
    real_start = threading.Thread.start

    def counting_start(self):
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    code = main(["download", "-c", home, "-o", str(tmp_path / "o"), "-j", str(MAX_WORKERS), *urls])
    assert code == 0, capsys.readouterr().err
    workers = [n for n in started if n.startswith("papers-worker")]
    assert 1 <= len(workers) <= len(urls), started
