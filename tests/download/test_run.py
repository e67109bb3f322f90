"""`run_download`, the library call under `papers download`, called directly: what it
returns (a Summary), what it writes (files, the state, JSON lines on `out`), and how it
ends (complete, interrupted, a bad input, an output that cannot be written)."""

import io
import json
import os
import threading
import time

import pytest

from conftest import read_state
from support.faultserver import Reply, make_pdf
from papers.download.run import run_download
from papers.errors import InputError, OutputError
from papers.inputs.records import paper_from_text
from papers.pipeline.runner import Ending
from papers.settings import Settings, parse_sources


def settings_for(out_dir, **kw) -> Settings:
    """Fast and offline: no scholarly source, no DOI resolver, short waits."""
    off = {name: {"enabled": False} for name in
           ("openalex", "unpaywall", "semantic_scholar", "arxiv", "crossref", "europepmc")}
    return Settings(output_dir=str(out_dir), rate_limit=0, max_per_host=16, backoff_base=0.01,
                    backoff_max=0.05, timeout=5, save_interval=0.1, doi_resolver=None,
                    sources=parse_sources(off), **kw)


@pytest.fixture(autouse=True)
def no_proxies(home):
    """The developer's proxies and config stay out of the run (`home`)."""


def test_it_downloads_records_and_prints_and_says_how_it_ended(server, tmp_path):
    bodies = {f"/p{i}.pdf": make_pdf(5_000 + i, i) for i in range(5)}
    urls = [server.pdf(path, body) for path, body in bodies.items()]
    gone = server.route("/gone.pdf", Reply(status=404, body=b"no"))
    out = io.StringIO()
    summary = run_download(settings_for(tmp_path / "o", json=True),
                           [paper_from_text(u) for u in [*urls, gone]], out=out)
    assert summary.ending is Ending.COMPLETE and summary.reason is None
    assert (summary.stats.downloaded, summary.stats.failed, summary.stats.total) == (5, 1, 6)
    assert [f[0] for f in summary.failures] == [gone] and "HTTP 404" in summary.failures[0][1]
    lines = {line["id"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert set(lines) == {*urls, gone}
    for url, body in zip(urls, bodies.values()):
        with open(lines[url]["path"], "rb") as f:
            assert f.read() == body
    assert lines[gone]["status"] == "failed" and "404" in lines[gone]["error"]
    state = read_state(tmp_path / "o" / ".papers-state.json")
    assert {rec["status"] for key, rec in state.items() if key != f"url:{gone}"} == {"downloaded"}
    assert summary.state_path == str(tmp_path / "o" / ".papers-state.json")


def test_a_second_call_takes_finished_papers_from_the_state_without_a_request(server, tmp_path):
    urls = [server.pdf(f"/r{i}.pdf", make_pdf(4_000, i)) for i in range(3)]
    first = run_download(settings_for(tmp_path / "o"), [paper_from_text(u) for u in urls], out=None)
    assert first.stats.downloaded == 3
    before = len(server.requests)
    again = run_download(settings_for(tmp_path / "o"), [paper_from_text(u) for u in urls], out=None)
    assert (again.stats.downloaded, again.stats.skipped) == (0, 3)
    assert len(server.requests) == before and again.ending is Ending.COMPLETE


def test_cancel_ends_the_call_soon_keeping_the_part(server, tmp_path):
    url = server.route("/slow.pdf", Reply(body=make_pdf(400_000, 1), drip=0.05, drip_chunk=4096,
                                          etag='"v1"'))
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    t0 = time.monotonic()
    summary = run_download(settings_for(tmp_path / "o"), [paper_from_text(url)], out=None,
                           cancel=cancel)
    assert time.monotonic() - t0 < 5
    assert summary.ending is Ending.INTERRUPTED and summary.stats.downloaded == 0
    parts = [n for n in os.listdir(tmp_path / "o") if n.endswith(".pdf.part")]
    assert parts and os.path.getsize(tmp_path / "o" / parts[0]) > 0  # resumable next time


def test_an_input_that_breaks_off_ends_as_bad_input_after_the_papers_before_it(server, tmp_path):
    url = server.pdf("/ok.pdf", make_pdf(3_000, 1))

    def papers():
        yield paper_from_text(url)
        raise InputError("list.txt:2: malformed JSON")

    summary = run_download(settings_for(tmp_path / "o"), papers(), out=None)
    assert summary.ending is Ending.BAD_INPUT and summary.reason == "list.txt:2: malformed JSON"
    assert summary.stats.downloaded == 1


def test_an_output_directory_that_is_a_file_raises_before_anything_is_made(tmp_path):
    target = tmp_path / "taken"
    target.write_text("a file")
    with pytest.raises(OutputError, match="is a file"):
        run_download(settings_for(target), [paper_from_text("http://127.0.0.1:9/x.pdf")], out=None)
    assert target.read_text() == "a file"
    made = [name for _, _, names in os.walk(tmp_path) for name in names]
    assert not [n for n in made if n.startswith(".papers-state")]  # no state, no lock
