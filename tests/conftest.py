"""Shared fixtures: the fault-injecting server and a runner for the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from support.faultserver import FaultServer

# Fast, unthrottled settings for a local server; backoff short so retries take ms.
FAST_CONFIG = """\
rate_limit: 0
max_per_host: 16
backoff_base: 0.01
backoff_max: 0.05
retry_after_max: 3
timeout: 5
sources:
  openalex: {enabled: false}
  unpaywall: {enabled: false}
  semantic_scholar: {enabled: false}
  arxiv: {enabled: false}
  crossref: {enabled: false}
  europepmc: {enabled: false}
"""


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def by_id(self) -> dict[str, dict]:
        return {rec["id"]: rec for rec in self.lines}


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")  # never read the developer's own config
    for var in [v for v in e if v.startswith("PAPERS_")]:
        del e[var]  # nor the developer's PAPERS_<KEY> settings
    e["PYTHONUNBUFFERED"] = "1"
    # A safety net: anything not on 127.0.0.1 goes to a dead proxy and fails at once.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        e[var] = "http://127.0.0.1:9"
    e["NO_PROXY"] = e["no_proxy"] = "127.0.0.1,localhost"
    return e


@pytest.fixture
def fast_config(tmp_path):
    path = tmp_path / "fast.yaml"
    path.write_text(FAST_CONFIG)
    return str(path)


@pytest.fixture
def papers(tmp_path, env, fast_config):
    """Run the real `papers` CLI in a subprocess; returns a Result."""

    def run(*args: str, input: str | None = None, fast: bool = True, timeout: float = 60,
            cwd: str | None = None) -> Result:
        cmd = [sys.executable, "-m", "papers", *args]
        if fast and args and args[0] == "download" and "-c" not in args:
            cmd[4:4] = ["-c", fast_config]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, env=env,
                           timeout=timeout, cwd=cwd or str(tmp_path))
        return Result(p.returncode, p.stdout, p.stderr)

    return run


def pdfs_in(directory) -> dict[str, bytes]:
    """Final PDF files in a directory, by name (no .part, no state files)."""
    out = {}
    for name in os.listdir(directory):
        if name.endswith(".pdf"):
            with open(os.path.join(directory, name), "rb") as f:
                out[name] = f.read()
    return out


def read_state(path) -> dict[str, dict]:
    """The snapshot at `path`, parsed as plain JSON: its records, keyed by paper."""
    import json as _json

    with open(path) as f:
        return _json.load(f)["papers"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """For the CLI in-process: no user config, no PAPERS_* settings and no proxies from
    the developer's environment, the cwd in tmp_path; returns a fast config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for var in [v for v in os.environ if v.startswith("PAPERS_")]:
        monkeypatch.delenv(var)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "fast.yaml"
    config.write_text(FAST_CONFIG)
    return str(config)


def start_download(env, config, out, urls, *extra):
    """`papers download --json` in the background: the Popen."""
    cmd = [sys.executable, "-m", "papers", "download", "-c", config, "-o", str(out), "--json",
           *extra, *urls]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def wait_for(pred, timeout=20.0):
    """Poll `pred` until it holds (True) or `timeout` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def fake(server):
    """The six scholarly APIs, faked on `server` (a module may define its own)."""
    from support.fakeapis import FakeScholar

    return FakeScholar(server)


@pytest.fixture
def cfg(fake, tmp_path):
    """Writes a config for `fake` (keywords as `FakeScholar.config`); returns its path."""
    def make(**kw):
        path = tmp_path / f"apis{len(os.listdir(tmp_path))}.yaml"
        path.write_text(fake.config(**kw))
        return str(path)
    return make


def interrupt(proc):
    """Ctrl-C to a running `papers`: (its exit status, its stderr, seconds it took to end)."""
    import signal
    import time

    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=10)
    return code, proc.stderr.read().decode(), time.monotonic() - t0
