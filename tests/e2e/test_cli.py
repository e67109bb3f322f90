"""Usage errors, exit codes and stream discipline of the real CLI."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from conftest import read_state
from support.faultserver import make_pdf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def no_traceback(r):
    assert "Traceback" not in r.stderr and "Error:" not in r.stderr.replace("papers: error:", "")


def test_help_documents_exit_codes(papers):
    r = papers("download", "--help", fast=False)
    assert r.code == 0
    for code in ("0 ", "1 ", "2 ", "130"):
        assert code in r.stdout


def test_missing_input_file(papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(tmp_path / "nope.txt"))
    assert r.code == 2
    assert r.stderr == f"papers: error: {tmp_path / 'nope.txt'}: no such file\n"
    assert not (tmp_path / "o").exists()  # nothing created for a typo
    no_traceback(r)


def test_malformed_input_on_stdin_is_one_line(papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), input='[{"url": 1\n')
    assert r.code == 2
    assert r.stderr == "papers: error: <stdin>:2: malformed JSON: Expecting ',' delimiter\n"


def test_malformed_json_input_names_line(papers, tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('[\n {"url": "http://127.0.0.1:9/a.pdf"},\n {"url": \n]\n')
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(f), "--dry-run")
    assert r.code == 2
    assert f"papers: error: {f}:4: malformed JSON" in r.stderr
    no_traceback(r)


@pytest.mark.parametrize("config, message", [
    ("workers: lots\n", "workers: expected a number"),
    ("wrkers: 3\n", "unknown setting 'wrkers'"),
    ("timeout: [1\n", "config file"),
    ("- a\n- b\n", "expected a mapping"),
    ("max_size: huge\n", "not a size"),
])
def test_bad_config_is_one_line_exit_2(papers, tmp_path, config, message):
    c = tmp_path / "c.yaml"
    c.write_text(config)
    r = papers("download", "-c", str(c), "http://127.0.0.1:9/x.pdf")
    assert r.code == 2
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
    no_traceback(r)


def test_missing_config_file(papers, tmp_path):
    r = papers("download", "-c", str(tmp_path / "none.yaml"), "http://x/y.pdf")
    assert r.code == 2 and "no such file" in r.stderr


def test_bad_flag_value_is_usage_error(papers, tmp_path):
    # The flag as it was typed, and its value.
    r = papers("download", "-j", "0", "http://x/y.pdf")
    assert r.code == 2 and "papers: error: -j 0: must be at least 1" in r.stderr
    r = papers("download", "--workers", "0", "http://x/y.pdf")
    assert r.code == 2 and "papers: error: --workers 0: must be at least 1" in r.stderr
    r = papers("download", "--max-size", "lots", "http://x/y.pdf")
    assert r.code == 2 and "papers: error: --max-size lots: not a size" in r.stderr


def test_no_input_on_a_terminal_is_usage_error(tmp_path, env):
    # stdin is a terminal only under a pty; emulate it.
    import pty

    master, slave = pty.openpty()
    p = subprocess.run([sys.executable, "-m", "papers", "download"], stdin=slave,
                       capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path)
    os.close(master)
    os.close(slave)
    assert p.returncode == 2 and "no papers given" in p.stderr


def test_config_file_sets_defaults_and_flags_win(server, papers, tmp_path):
    url = server.pdf("/cfg.pdf", make_pdf(2000, 1))
    c = tmp_path / "c.yaml"
    c.write_text(f"output_dir: {tmp_path / 'from-config'}\nrate_limit: 0\nmax_per_host: 4\njson: true\n")
    r = papers("download", "-c", str(c), url)
    assert r.code == 0 and r.lines[0]["path"].startswith(str(tmp_path / "from-config"))
    r = papers("download", "-c", str(c), "-o", str(tmp_path / "from-flag"), url)
    assert r.lines[0]["path"].startswith(str(tmp_path / "from-flag"))


def test_example_config_lists_every_setting_with_its_true_default():
    import dataclasses
    import math

    from papers.config import file_layer, resolve
    from papers.settings import SETTING_NAMES, Settings

    root = ROOT
    layer = file_layer(os.path.join(root, "config.example.yaml"))
    assert set(layer.values) == set(SETTING_NAMES)
    example, defaults = resolve([layer])[0], Settings()

    def same(a, b):
        if isinstance(a, float) or isinstance(b, float):
            return math.isclose(a, b, rel_tol=1e-3)  # 0.333 stands for 1/3
        if dataclasses.is_dataclass(a):
            return all(same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
        if isinstance(a, tuple):
            return len(a) == len(b) and all(map(same, a, b))
        return a == b

    for name in SETTING_NAMES:
        assert same(getattr(example, name), getattr(defaults, name)), name
    names = {s.name for s in defaults.sources}
    assert set(layer.values["sources"]) == names
    for src in defaults.sources:  # every key of every source is listed too
        listed = set(layer.values["sources"][src.name])
        expected = {f.name for f in dataclasses.fields(src)} - {"name"}
        if src.name not in ("openalex", "semantic_scholar"):
            expected.discard("api_key")
        if src.name != "arxiv":
            expected.discard("pdf_base_url")
        assert listed == expected, src.name


def test_example_config_names_each_settings_flag():
    """Each setting that has a flag (declared once, in settings.Settings) shows it in its
    comment in config.example.yaml."""
    from papers.settings import SPECS

    root = ROOT
    with open(os.path.join(root, "config.example.yaml"), encoding="utf-8") as f:
        text = f.read()
    blocks = {}  # each top-level key with its lines (a nested block's too)
    for line in text.splitlines():
        if line[:1].isalpha():
            key = line.split(":", 1)[0]
            blocks[key] = line
        elif blocks and line.startswith(" "):
            blocks[key] += "\n" + line
    flagged = {name: spec.flags for name, spec in SPECS.items() if spec.flags}
    assert len(flagged) >= 15
    for name, flags in flagged.items():
        spellings = [f for flag in flags for f in flag.split("/")]
        assert any(re.search(rf"[(, ]{re.escape(f)}\b", blocks[name]) for f in spellings), name


def test_stdin_text_and_jsonl(server, papers, tmp_path):
    a = server.pdf("/in1.pdf", make_pdf(1000, 1))
    b = server.pdf("/in2.pdf", make_pdf(1000, 2))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", input=f"# list\n{a}\n\n{b}\n")
    assert r.code == 0 and {x["id"] for x in r.lines} == {a, b}
    r = papers("download", "-o", str(tmp_path / "o2"), "--json",
               input=json.dumps({"url": a, "title": "T1"}) + "\n" + json.dumps({"pdf_url": b}) + "\n")
    assert r.code == 0 and {x["url"] for x in r.lines} == {a, b}


def test_dry_run_fetches_nothing(server, papers, tmp_path):
    a = server.pdf("/dry.pdf", make_pdf(1000, 1))
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "--dry-run", a, "10.1000/x", "arXiv:2101.00001")
    assert r.code == 1  # the arXiv ID cannot be fetched: every source is off
    recs = r.by_id()
    assert recs[a]["status"] == "would_download" and recs[a]["url"] == a
    # The sources are off, but a DOI still has its resolver as the last resort.
    assert recs["10.1000/x"]["status"] == "would_download"
    assert recs["10.1000/x"]["url"] == "https://doi.org/10.1000/x"
    assert recs["arXiv:2101.00001"]["status"] == "failed"
    assert server.hits("/dry.pdf") == 0
    assert not out.exists() or not os.listdir(out)


def test_second_run_on_same_state_refused(server, papers, tmp_path):
    from papers.state.store import StateStore

    out = tmp_path / "o"
    holder = StateStore(str(out / ".papers-state.json"))
    holder.lock()
    try:
        r = papers("download", "-o", str(out), server.pdf("/lk.pdf", make_pdf(1000, 1)))
    finally:
        holder.close(compact=False)
    assert r.code == 2 and "in use by another papers run" in r.stderr
    assert server.hits("/lk.pdf") == 0


def test_corrupt_state_exit_2_untouched(server, papers, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / ".papers-state.json").write_text("{oops")
    r = papers("download", "-o", str(out), server.pdf("/cs.pdf", make_pdf(1000, 1)))
    assert r.code == 2 and "corrupt" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert (out / ".papers-state.json").read_text() == "{oops"


def test_broken_pipe_ends_quietly(server, tmp_path, env, fast_config):
    urls = [server.pdf(f"/bp{i}.pdf", make_pdf(2000, i)) for i in range(40)]
    cmd = [sys.executable, "-m", "papers", "download", "-c", fast_config, "-o", str(tmp_path / "o"),
           "--json", "-j", "2", *urls]
    p1 = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    first = p1.stdout.readline()
    p1.stdout.close()  # like `| head -1`
    err = p1.stderr.read().decode()
    code = p1.wait(timeout=30)
    assert json.loads(first)["status"] == "downloaded"
    assert code == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
    # The state survived and a re-run picks up the rest.
    state = read_state(tmp_path / "o" / ".papers-state.json")
    outcomes = {(r["status"], r.get("error")) for r in state.values()}
    assert ("downloaded", None) in outcomes and outcomes <= {("downloaded", None), ("failed", "interrupted")}


def test_stdout_only_results_logs_to_stderr(server, papers, tmp_path):
    url = server.pdf("/lg.pdf", make_pdf(1000, 1))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-vv", url)
    assert r.code == 0
    for line in r.stdout.splitlines():
        json.loads(line)
    assert "papers:" in r.stderr  # verbose logs went to stderr


def test_progress_bar_goes_to_stderr_when_forced(server, papers, tmp_path):
    urls = [server.pdf(f"/pg{i}.pdf", make_pdf(1000, i)) for i in range(3)]
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--progress", *urls)
    assert r.code == 0
    assert "3/3" in r.stderr
    assert len(r.lines) == 3


def test_readme_promises_name_real_tests():
    import re

    root = ROOT
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    section = readme.split("## What papers promises", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) >= 20
    defined = set()
    for path in glob.glob(os.path.join(ROOT, "tests", "**", "test_*.py"), recursive=True):
        with open(path, encoding="utf-8") as f:
            defined |= set(re.findall(r"^def (test_\w+)", f.read(), re.M))
    assert named <= defined, named - defined


def test_quiet_prints_only_errors(server, papers, tmp_path):
    ok = server.pdf("/q1.pdf", make_pdf(1000, 1))
    r = papers("download", "-q", "-o", str(tmp_path / "o"), ok, server.url("/q404.pdf"))
    # The failure is an error: named, with the count; nothing of the success, no bar.
    assert r.code == 1 and r.stdout == ""
    assert r.stderr.splitlines() == ["papers: 1 failed (of 2)",
                                     f"  failed: {server.url('/q404.pdf')}: HTTP 404 Not Found"]


@pytest.mark.parametrize("command", [[], ["download"], ["consolidate"], ["status"], ["verify"],
                                     ["merge-state"], ["config"], ["config", "show"]])
def test_every_command_help_ends_with_real_examples(papers, command):
    r = papers(*command, "--help")
    assert r.code == 0
    tail = r.stdout.rstrip().split("Examples:")[-1].strip().splitlines()
    assert "Examples:" in r.stdout and 2 <= len(tail) <= 3
    assert all(line.strip().startswith(("papers ", "PAPERS_")) for line in tail)


def test_short_version_flag(papers):
    assert papers("-V").stdout == papers("--version").stdout != ""


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts_as_the_readme_shows(env, tmp_path, shell):
    env["_PAPERS_COMPLETE"] = f"{shell}_source"
    p = subprocess.run([sys.executable, "-c", "from papers.cli import run; run()"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "_PAPERS_COMPLETE" in p.stdout and "complete" in p.stdout


def test_completion_offers_the_commands(env):
    env.update({"_PAPERS_COMPLETE": "bash_complete", "COMP_WORDS": "papers st", "COMP_CWORD": "1"})
    p = subprocess.run([sys.executable, "-c", "from papers.cli import run; run()"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert "plain,status" in p.stdout.splitlines()


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
@pytest.mark.parametrize("words, kind", [
    ("papers download -i ", "file"), ("papers download -c ", "file"),
    ("papers download -o ", "dir"), ("papers download --state ", "file"),
    ("papers download --cookies ", "file"), ("papers download --bibtex ", "file"),
    ("papers consolidate -i ", "file"), ("papers status -o ", "dir")])
def test_shell_completion_completes_paths(env, shell, words, kind):
    env.update({"_PAPERS_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()))})
    p = subprocess.run([sys.executable, "-m", "papers"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].startswith(kind), p.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion_scripts_are_there(env, shell):
    env["_PAPERS_COMPLETE"] = f"{shell}_source"
    p = subprocess.run([sys.executable, "-m", "papers"], env=env, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0 and "_PAPERS_COMPLETE" in p.stdout
