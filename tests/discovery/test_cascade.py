"""`papers download`'s lookup stage against the fake APIs: batches, a cascade that stops at
the first source with a working PDF, a record's own URLs first, the OpenAlex allowance."""

import json
import os
import threading

import pytest

from conftest import pdfs_in, read_state, wait_for

ASKED_ABOUT_EVERY_PAPER = ("unpaywall", "semantic_scholar", "crossref", "europepmc")


def download(papers, cfg_path, out, *args, input=None):
    return papers("download", "-c", cfg_path, "-o", str(out), "--json", *args, input=input,
                  fast=False)


def api_calls(fake, api=None):
    return sum(n for (a, _), n in fake.calls.items() if api is None or a == api)


def test_cascade_stops_at_the_first_source_with_a_working_pdf(fake, cfg, papers, tmp_path):
    bodies = {}
    for i in range(60):
        url, body = fake.pdf(f"c{i}.pdf", 100 + i)
        fake.add(doi=f"10.1000/c.{i}", openalex_pdf=url, unpaywall_pdf=url, s2_pdf=url)
        bodies[f"10.1000/c.{i}"] = body
    dois = "\n".join(bodies) + "\n"
    r = download(papers, cfg(), tmp_path / "o", "-i", "-", input=dois)
    assert r.code == 0, r.stderr
    recs = r.by_id()
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted(bodies.values())
    assert all(recs[d]["status"] == "downloaded" for d in bodies)
    # 60 papers in OpenAlex batches of at most 50, and nobody else asked.
    assert fake.calls["openalex", "list"] == 2 and fake.calls["openalex", "single"] == 0
    assert api_calls(fake) / 60 <= 0.05
    for api in ASKED_ABOUT_EVERY_PAPER:
        assert api_calls(fake, api) == 0, api
    # The version OpenAlex named for the file, in --json and in the state.
    assert {x["version"] for x in recs.values()} == {"publishedVersion"}
    state = read_state(tmp_path / "o" / ".papers-state.json")
    assert {x["version"] for x in state.values()} == {"publishedVersion"}


def test_a_paper_whose_candidate_fails_gets_the_next_source_in_the_same_run(fake, cfg, papers,
                                                                          tmp_path):
    login = fake.html("login.pdf")
    s2_url, s2_body = fake.pdf("s2copy.pdf", 7)
    ok_url, ok_body = fake.pdf("fine.pdf", 8)
    fake.add(doi="10.1000/login", openalex_pdf=login, s2_pdf=s2_url, unpaywall_pdf=login)
    fake.add(doi="10.1000/fine", openalex_pdf=ok_url, s2_pdf=ok_url)
    r = download(papers, cfg(), tmp_path / "o", "10.1000/login", "10.1000/fine")
    assert r.code == 0, r.stderr
    recs = r.by_id()
    assert recs["10.1000/login"]["status"] == "downloaded" and recs["10.1000/login"]["url"] == s2_url
    assert recs["10.1000/fine"]["url"] == ok_url
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted([s2_body, ok_body])
    # Semantic Scholar was asked once, about the paper whose OpenAlex copy was a login page only.
    s2 = fake.requests_to("/s2/graph/v1/paper")
    assert len(s2) == 1 and "10.1000/login" in s2[0].path.replace("%2F", "/")
    # The cascade stopped there: Unpaywall (next in line) was never asked.
    assert api_calls(fake, "unpaywall") == 0 and api_calls(fake, "crossref") == 0


def test_every_candidate_of_every_source_failing_lists_them_all(fake, cfg, papers, tmp_path):
    login = fake.html("l.pdf")
    gone = fake.server.url("/files/gone.pdf")
    fake.add(doi="10.1000/bad", openalex_pdf=gone, unpaywall_pdf=login)
    r = download(papers, cfg(), tmp_path / "o", "10.1000/bad")
    assert r.code == 1
    err = r.lines[0]["error"]
    # OpenAlex's copy, then Unpaywall's, then the DOI's own landing page, each said once.
    assert err.startswith("all 3 candidate URLs failed:")
    assert f"{gone}: HTTP 404" in err and "not a PDF" in err
    assert err.count(gone) == 1 and err.count(login) == 1
    assert f"{fake.server.url('/doi/10.1000/bad')}: HTTP 404" in err
    state = read_state(tmp_path / "o" / ".papers-state.json")["doi:10.1000/bad"]
    assert state["permanent"] is True and state["looked_up"] is True


def _bib(entries):
    return "\n".join("@article{k%d,\n  title = {Paper %d},\n  author = {Lovelace, Ada},\n"
                     "  year = {2020},\n  doi = {%s},\n  url = {%s},\n}\n" % (i, i, doi, url)
                     for i, (doi, url) in enumerate(entries))


def _behind_a_login(fake, tmp_path, doi, name):
    """A .bib whose one entry's `url` is a login page; OpenAlex knows an open copy.
    Returns (login URL, open URL, its bytes, the .bib)."""
    login = fake.html(f"{name}-login.pdf")
    good, body = fake.pdf(f"{name}-oa.pdf", len(name))
    fake.add(doi=doi, openalex_pdf=good)
    bib = tmp_path / f"{name}.bib"
    bib.write_text(_bib([(doi, login)]))
    return login, good, body, bib


def test_a_login_page_at_the_records_own_url_leads_to_the_openalex_copy(fake, cfg, papers,
                                                                       tmp_path):
    login, good, body, bib = _behind_a_login(fake, tmp_path, "10.1000/own", "publisher")
    r = download(papers, cfg(), tmp_path / "o", "-i", str(bib))
    assert r.code == 0, r.stderr
    rec = r.lines[0]
    assert rec["status"] == "downloaded" and rec["url"] == good
    assert list(pdfs_in(tmp_path / "o").values()) == [body]
    # Its own URL was tried first, once; then one OpenAlex call.
    assert fake.server.hits("/files/publisher-login.pdf") == 1 and login.endswith("login.pdf")
    assert api_calls(fake) == 1


def test_a_permanent_failure_of_the_own_url_before_lookups_existed_is_looked_up(fake, cfg, papers,
                                                                              tmp_path):
    login, good, body, bib = _behind_a_login(fake, tmp_path, "10.1000/wall", "wall")
    # A state from a run that tried the record's own URL only, which failed for good.
    os.makedirs(tmp_path / "o")
    (tmp_path / "o" / ".papers-state.json").write_text(json.dumps({"schema": 4, "papers": {
        "doi:10.1000/wall": {"id": "10.1000/wall", "status": "failed", "url": login, "attempts": 1,
                             "error": "not a PDF (an HTML page)", "permanent": True}}}))
    r = download(papers, cfg(), tmp_path / "o", "-i", str(bib))
    assert r.code == 0, r.stderr
    assert r.lines[0]["status"] == "downloaded" and r.lines[0]["url"] == good
    assert list(pdfs_in(tmp_path / "o").values()) == [body]
    # Once every source was asked too, "permanent" holds: the next run asks nobody.
    fake.works.clear()
    os.unlink(r.lines[0]["path"])
    r2 = download(papers, cfg(), tmp_path / "o", "-i", str(bib))
    assert r2.code == 1
    before = api_calls(fake)
    r3 = download(papers, cfg(), tmp_path / "o", "-i", str(bib))
    assert r3.code == 1 and "failed permanently before" in r3.lines[0]["error"]
    assert api_calls(fake) == before


@pytest.mark.parametrize("allowance", [0, 1])
def test_a_keyless_run_that_uses_up_the_openalex_allowance_goes_on_with_singletons(
        fake, cfg, papers, tmp_path, allowance):
    """0: the day's list calls were spent before the run (a 429 with its JSON message);
    1: the run spends the last one (`X-RateLimit-Remaining: 0` says so, before a 429)."""
    fake.openalex_list_allowance = allowance
    for i in range(120):
        url, _ = fake.pdf(f"k{i}.pdf", 300 + i)
        fake.add(doi=f"10.1000/k.{i}", openalex_pdf=url)
    dois = "".join(f"10.1000/k.{i}\n" for i in range(120))
    r = download(papers, cfg(), tmp_path / "o", "-i", "-", input=dois)
    assert r.code == 0, r.stderr
    assert len(pdfs_in(tmp_path / "o")) == 120
    assert all(x["status"] == "downloaded" for x in r.lines)
    # A refused list call is never retried as if it were transient (three batches: at most
    # one call each, refused only while others were already on their way); singletons do
    # the rest.
    lists, refused = fake.calls["openalex", "list"], fake.refused["openalex", "list"]
    assert lists <= 3 and lists - refused == allowance
    assert fake.calls["openalex", "single"] == (120 if allowance == 0 else 70) or \
        (allowance == 1 and fake.calls["openalex", "single"] == 100)  # the 20 had the last call
    for api in ASKED_ABOUT_EVERY_PAPER:
        assert api_calls(fake, api) == 0, api
    # Said once, in the summary, naming the key that lifts it.
    assert r.stderr.count("sources.openalex.api_key") == 1
    assert "list calls refused" in r.stderr


def test_a_zotero_library_of_200_entries_at_the_apis_default_limits(fake, cfg, papers, tmp_path):
    """As a new user: a .bib whose `url` fields are publisher pages, half of them login
    walls, against fakes that refuse whatever passes the APIs' published limits."""
    fake.enforce_limits = True
    entries, bodies = [], []
    for i in range(200):
        doi = f"10.1000/z.{i}"
        oa_url, body = fake.pdf(f"z{i}.pdf", 500 + i)
        if i % 2:
            entries.append((doi, fake.html(f"zlogin{i}.pdf")))
            fake.add(doi=doi, openalex_pdf=oa_url)
        else:
            entries.append((doi, oa_url))
            fake.add(doi=doi)
        bodies.append(body)
    bib = tmp_path / "My Library.bib"
    bib.write_text(_bib(entries))
    r = download(papers, cfg(default_limits=True), tmp_path / "o", "-i", str(bib))
    assert r.code == 0, r.stderr
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted(bodies)
    # The 100 login walls were looked up in OpenAlex batches as they came back from the
    # workers (one call a paper, at Semantic Scholar's 1/s, would take minutes), within
    # every limit.
    assert fake.calls["openalex", "list"] <= 10 and fake.calls["openalex", "single"] == 0
    for api in ASKED_ABOUT_EVERY_PAPER:
        assert api_calls(fake, api) == 0, api
    assert not fake.refused


# -- pure parts, table-driven ------------------------------------------------------
from papers.net.api import allowance_wait, announced_limits  # noqa: E402
from papers.discovery.cascade import CASCADE_ORDER, cascade_order  # noqa: E402
from papers.net.hosts import HostLimiter  # noqa: E402


@pytest.mark.parametrize("headers, expected", [
    ({"x-rate-limit-limit": "5", "x-rate-limit-interval": "1s", "x-concurrency-limit": "1"}, (5.0, 1)),
    ({"x-rate-limit-limit": "50", "x-rate-limit-interval": "10s"}, (5.0, None)),
    ({"x-concurrency-limit": "3"}, (None, 3)),
    ({"x-rate-limit-limit": "junk", "x-rate-limit-interval": "1s", "x-concurrency-limit": "x"},
     (None, None)),
    ({"x-rate-limit-limit": "0", "x-rate-limit-interval": "1s"}, (None, None)),
    ({}, (None, None)),
])
def test_announced_limits(headers, expected):
    assert announced_limits(headers) == expected


@pytest.mark.parametrize("status, headers, expected", [
    (429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "43200"}, 43200.0),
    (429, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}, 3.0),
    (429, {"X-RateLimit-Remaining": "0"}, float("inf")),       # used up, no word on when
    (429, {"X-RateLimit-Remaining": "12"}, None),               # a rate limit: transient
    (429, {}, None),                                            # Semantic Scholar's shared pool
    (503, {"X-RateLimit-Remaining": "0"}, None),
])
def test_allowance_wait(status, headers, expected):
    assert allowance_wait(status, headers) == expected


def test_tighten_only_lowers_limits():
    limiter = HostLimiter(4, 10.0, threading.Event())
    limiter.configure("api:x", 3, 10.0)
    assert limiter.tighten("api:x", 1, 5.0)
    assert limiter.limits("api:x") == (1, pytest.approx(0.2))
    assert not limiter.tighten("api:x", 3, 50.0)                 # never raised
    limiter.configure("api:y", 2, 0)                              # unlimited: any rate tightens
    assert limiter.tighten("api:y", None, 2.0) and limiter.limits("api:y") == (2, 0.5)


def test_cascade_order_puts_batch_sources_first_and_unpaywall_late():
    class S:
        def __init__(self, name):
            self.name = name
    names = [s.name for s in cascade_order([S(n) for n in
                                            ("crossref", "unpaywall", "arxiv", "openalex")])]
    assert names == ["openalex", "arxiv", "unpaywall", "crossref"]
    assert CASCADE_ORDER[0] == "openalex"


def test_each_source_of_the_cascade_asks_in_batches_with_unknown_and_duplicate_ids(
        fake, cfg, papers, tmp_path):
    s2, s2_body = fake.pdf("only-s2.pdf", 61)
    epmc, epmc_body = fake.pdf("only-epmc.pdf", 62)
    cr, cr_body = fake.pdf("only-crossref.pdf", 63)
    fake.add(doi="10.1000/s2.only", s2_pdf=s2, in_apis=("semantic_scholar",))
    fake.add(doi="10.1000/epmc.only", pmcid="PMC7000001", europepmc_pdf=epmc, in_apis=("europepmc",))
    fake.add(doi="10.1000/cr.only", crossref_pdf=cr, in_apis=("crossref",))
    given = ["10.1000/s2.only", "10.1000/epmc.only", "10.1000/cr.only", "10.1000/nobody",
             "doi:10.1000/S2.ONLY", "https://doi.org/10.1000/nobody"]
    r = download(papers, cfg(), tmp_path / "o", *given)
    assert r.code == 1, r.stderr
    recs = r.by_id()
    assert len(r.lines) == 4  # the duplicate spellings are one paper each
    assert recs["10.1000/s2.only"]["url"] == s2
    assert recs["10.1000/epmc.only"]["url"] == epmc
    assert recs["10.1000/cr.only"]["url"] == cr
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted([s2_body, epmc_body, cr_body])
    assert recs["10.1000/nobody"]["status"] == "failed"
    assert recs["10.1000/nobody"]["error"].startswith(
        "no open-access PDF found (asked: openalex, unpaywall, semantic_scholar, crossref, europepmc)")
    # One list call per batch source, each for the papers still without a candidate.
    assert fake.calls == {("openalex", "list"): 1, ("semantic_scholar", "list"): 1,
                          ("europepmc", "list"): 1, ("unpaywall", "single"): 2,
                          ("crossref", "list"): 1}
    (oa,) = fake.requests_to("/openalex")
    assert oa.path.count("10.1000") == 4
    (epmc_call,) = fake.requests_to("/europepmc")
    assert "s2.only" not in epmc_call.path and epmc_call.path.count("10.1000") == 3


def test_consolidate_batches_openalex_s2_and_arxiv_with_unknown_and_duplicate_ids(fake, cfg,
                                                                                 papers):
    fake.add(doi="10.1000/oa.a", title="OA A", arxiv="2401.00001")
    fake.add(doi="10.1000/oa.b", title="OA B", arxiv="2401.00002")
    fake.add(arxiv="2401.00003", title="AX C", in_apis=("arxiv", "semantic_scholar"))
    given = ["10.1000/oa.a", "doi:10.1000/OA.A", "10.1000/oa.b", "10.1000/oa.unknown",
             "arXiv:2401.00003", "https://arxiv.org/abs/2401.00003", "arXiv:2401.99999"]
    r = consolidate_cli(papers, cfg(), "--sources", "openalex,semantic_scholar,arxiv", "-j", "1",
                        *given)
    assert r.code == 0, r.stderr
    recs = r.by_id()
    assert len(r.lines) == 5  # the other spellings of A and of C are one paper each
    assert recs["arXiv:2401.00003"]["title"] == "AX C"
    assert recs["10.1000/oa.a"]["title"] == "OA A" and recs["10.1000/oa.a"]["arxiv"] == "2401.00001"
    assert recs["10.1000/oa.unknown"]["status"] == "not_found"
    assert recs["arXiv:2401.99999"]["status"] == "not_found"
    assert fake.calls["openalex", "list"] == 1 and fake.calls["semantic_scholar", "list"] == 1
    assert fake.calls["arxiv", "list"] == 1
    assert fake.calls["openalex", "single"] == fake.calls["semantic_scholar", "single"] == 0


def consolidate_cli(papers, cfg_path, *args):
    return papers("consolidate", "-c", cfg_path, *args, fast=False)


def test_ctrl_c_while_the_lookup_stage_waits_on_an_api_exits_130_within_2s(fake, cfg, env,
                                                                         tmp_path):
    import time

    from conftest import interrupt, start_download

    fake.slow["openalex"] = 60
    for i in range(5):
        fake.add(doi=f"10.1000/slow.{i}")
    state = tmp_path / "o" / ".papers-state.json"
    proc = start_download(env, cfg(), tmp_path / "o", [f"10.1000/slow.{i}" for i in range(5)],
                          "--timeout", "30")
    assert wait_for(lambda: fake.calls["openalex", "list"] >= 1)
    time.sleep(0.3)  # the batch is out and waiting
    code, err, took = interrupt(proc)
    assert code == 130, err
    assert took < 2.0
    assert "interrupted" in err and "Traceback" not in err
    assert state.exists()


# -- the stage in-process, with sources that answer from a table ---------------------
from papers.discovery.cascade import Cascade  # noqa: E402
from papers.errors import ApiError  # noqa: E402
from papers.model import Outcome, Status  # noqa: E402
from papers.inputs.records import paper_from_text  # noqa: E402
from papers.download.planner import Fetch  # noqa: E402
from papers.settings import DEFAULT_SOURCES, SourceSettings  # noqa: E402
from papers.discovery.sources.base import Found, Source  # noqa: E402


class TableSource(Source):
    """Answers from `pdfs` (DOI -> PDF URL); records each batch it is asked."""

    def __init__(self, name, batch_size, pdfs, fail=False):
        super().__init__(SourceSettings(name, "http://unused", 0, 2), client=None)
        self.name, self.batch_size, self.pdfs, self.fail = name, batch_size, pdfs, fail
        self.batches = []

    def query(self, ids):
        return ids.doi

    def lookup(self, batch):
        self.batches.append([ids.doi for ids in batch])
        if self.fail:
            raise ApiError("HTTP 503 Service Unavailable")
        out = []
        for ids in batch:
            url = self.pdfs.get(ids.doi)
            f = Found(self.name) if url else None
            if f:
                f.add(url, version="publishedVersion", license="cc-by")
            out.append(f)
        return out


class Workers:
    """The stage's two outlets: jobs sent to workers (with `finish`, each is done at
    once, as if downloaded), and reported failures."""

    def __init__(self, finish):
        self.sent, self.reported, self.lock = [], [], threading.Lock()
        self.finish, self.stage = finish, None

    def send(self, job):
        with self.lock:
            self.sent.append(job)
        if self.finish:
            self.stage.done(job)
        return True

    def report(self, paper, outcome):
        with self.lock:
            self.reported.append((paper, outcome))


def _stage(sources, doi_resolver=None, finish=False, still=True):
    """A stage; `still`: its clock stands still, so a partial batch goes only when
    nothing else can join it, and the batches do not depend on the machine's speed."""
    import time

    w = Workers(finish)
    w.stage = Cascade(sources, w.send, w.report, threading.Event(), doi_resolver,
                      clock=(lambda: 0.0) if still else time.monotonic)
    return w.stage, w


def _job(doi):
    paper = paper_from_text(doi)
    return Fetch(paper, f"/tmp/{doi.replace('/', '_')}.pdf", None, None)


def test_the_stage_batches_by_source_and_sends_found_papers_on_at_once():
    first = TableSource("openalex", 3, {f"10.1000/{i}": f"https://a/{i}.pdf" for i in range(0, 7, 2)})
    second = TableSource("semantic_scholar", 10, {"10.1000/1": "https://b/1.pdf"})
    stage, w = _stage([second, first], finish=True)  # asked in the cascade's order
    for i in range(7):
        assert stage.start(_job(f"10.1000/{i}"))
    stage.close_input()  # returns once every paper is sent or reported
    assert len(w.sent) + len(w.reported) == 7
    assert [len(b) for b in first.batches] == [3, 3, 1]
    assert sorted(sum(second.batches, [])) == ["10.1000/1", "10.1000/3", "10.1000/5"]
    sent = {j.paper.doi: j for j in w.sent}
    assert sent["10.1000/0"].paper.urls == ("https://a/0.pdf",)
    assert sent["10.1000/0"].versions == {"https://a/0.pdf": "publishedVersion"}
    assert sent["10.1000/1"].paper.urls == ("https://b/1.pdf",) and not sent["10.1000/1"].doi_fallback
    (paper, outcome), *_ = [r for r in w.reported if r[0].doi == "10.1000/3"]
    assert outcome.status is Status.FAILED and outcome.permanent and outcome.looked_up
    assert outcome.error.startswith("no open-access PDF found (asked: semantic_scholar, openalex)")
    assert not any(t.is_alive() for t in stage.threads)


def test_a_failed_candidate_goes_to_the_next_source_then_to_the_doi_page():
    first = TableSource("openalex", 5, {"10.1000/x": "https://a/x.pdf"})
    second = TableSource("unpaywall", 1, {"10.1000/x": "https://b/x.pdf"})
    down = TableSource("crossref", 5, {}, fail=True)
    stage, w = _stage([first, second, down], doi_resolver="https://doi.org", still=False)
    assert stage.start(_job("10.1000/x"))
    assert wait_for(lambda: len(w.sent) == 1, timeout=5)
    job = w.sent[0]
    failed = Outcome(Status.FAILED, url="https://a/x.pdf", error="not a PDF", permanent=True)
    assert stage.failed(job, failed, [("https://a/x.pdf", "not a PDF")]) is None  # taken
    assert wait_for(lambda: len(w.sent) == 2, timeout=5)
    assert w.sent[1].paper.urls == ("https://b/x.pdf",)
    assert w.sent[1].earlier == (("https://a/x.pdf", "not a PDF"),)
    assert stage.failed(w.sent[1], failed, [("https://b/x.pdf", "not a PDF")]) is None
    # Crossref could not answer; the DOI's landing page is the last resort.
    assert wait_for(lambda: len(w.sent) == 3, timeout=5)
    last = w.sent[2]
    assert last.paper.urls == () and last.doi_fallback and len(last.earlier) == 2
    final = stage.failed(last, failed, [("https://doi.org/10.1000/x", "HTTP 404")])
    # A source error makes it worth another run: not permanent, and it says why.
    assert final is not None and final.permanent is False
    assert "crossref error: HTTP 503" in final.error
    stage.done(last)
    stage.close_input()


@pytest.mark.parametrize("lengths, parts", [
    ([20] * 50, [50]),           # a batch of ordinary DOIs is one list call
    ([200] * 50, [14, 14, 14, 8]),  # long SICI-like DOIs: split to fit the URL
    ([5000], [1]),               # one DOI longer than the limit still goes (alone)
    ([], []),
])
def test_openalex_splits_a_batch_that_would_not_fit_in_a_url(lengths, parts):
    from papers.discovery.sources.openalex import url_sized

    by_doi = {i: "10.1000/" + "x" * (n - 8) for i, n in enumerate(lengths)}
    got = url_sized(by_doi)
    assert [len(p) for p in got] == parts
    assert [i for p in got for i in p] == list(by_doi)


def test_unpaywall_is_asked_no_more_once_a_run_reaches_its_daily_limit():
    from papers.discovery.sources.base import Ids
    from papers.discovery.sources.unpaywall import Unpaywall

    class Client:
        calls = 0

        def request(self, conf, url, params=None, **kw):
            Client.calls += 1
            return None  # not found

    conf = next(s for s in DEFAULT_SOURCES if s.name == "unpaywall")
    u = Unpaywall(conf, Client(), email="me@example.org")
    u.daily_limit = 2
    assert u.unavailable() is None and u.note() is None
    for i in range(2):
        assert u.lookup_one(Ids(doi=f"10.1000/u.{i}")) is None
    assert Client.calls == 2
    assert u.unavailable() == "skipped: this run made Unpaywall's 2 calls a day"
    assert "reached its 2 calls a day" in u.note()


@pytest.mark.parametrize("expected, email, warned", [
    (100_001, "me@example.org", True), (100_000, "me@example.org", False), (None, "x@y.org", False)])
def test_a_run_that_may_pass_unpaywalls_day_says_so_before_it_starts(caplog, expected, email,
                                                                     warned):
    from papers.pipeline.runner import warn_unpaywall
    from papers.settings import Settings

    with caplog.at_level("WARNING", logger="papers"):
        warn_unpaywall(Settings(email=email), expected)
    assert ("100,000 calls a day" in caplog.text) is warned


# -- references: matched first, then down the cascade by the work's DOI --------------------
from papers.discovery.match import Candidate as Proposed, decide  # noqa: E402
from papers.discovery.reference import Answer  # noqa: E402


class TableMatcher:
    """Proposes works from `works` (DOI -> title, year) for any reference; records what it
    was asked. `fail`: raises an API error instead."""

    def __init__(self, works, fail=False):
        self.works, self.fail, self.asked = works, fail, []

    def match(self, text):
        self.asked.append(text)
        if self.fail:
            raise ApiError("HTTP 500 Internal Server Error")
        proposed = []
        for doi, (title, year) in self.works.items():
            f = Found("crossref", doi=doi, title=title, year=year)
            proposed.append(Proposed(doi, title, year, (), None, "article", "crossref", f))
        decision = decide(text, proposed)
        best = decision.best.candidate if decision.best else None
        return Answer(text, decision, {"crossref": best.extra} if best else {})


def _matching_stage(sources, matcher):
    w = Workers(finish=True)
    w.stage = Cascade(sources, w.send, w.report, threading.Event(), None, clock=lambda: 0.0,
                      matcher=matcher, match_connections=2)
    return w.stage, w


REFERENCE = "Vaswani A, et al. Attention is all you need. NeurIPS 2017."


def test_a_matched_reference_goes_down_the_cascade_by_its_doi():
    matcher = TableMatcher({"10.5555/att": ("Attention Is All You Need", 2017),
                            "10.1000/other": ("Something else entirely", 2001)})
    s2 = TableSource("semantic_scholar", 10, {"10.5555/att": "https://s2/att.pdf"})
    crossref = TableSource("crossref", 10, {})
    stage, w = _matching_stage([s2, crossref], matcher)
    assert stage.start(_job(REFERENCE))
    stage.close_input()
    assert matcher.asked == [REFERENCE]
    (job,) = w.sent
    assert job.paper.doi == "10.5555/att" and job.paper.urls == ("https://s2/att.pdf",)
    assert job.paper.extra["match"]["status"] == "matched"
    assert job.paper.extra["match"]["doi"] == "10.5555/att" and job.paper.problem is None
    assert s2.batches == [["10.5555/att"]]
    assert crossref.batches == []  # it named the work already: not asked again by DOI


def test_an_ambiguous_reference_is_reported_with_its_candidates_never_sent():
    matcher = TableMatcher({"10.1/a": ("Introduction", 2019), "10.1/b": ("Introduction", 2019)})
    s2 = TableSource("semantic_scholar", 10, {"10.1/a": "https://s2/a.pdf"})
    stage, w = _matching_stage([s2], matcher)
    assert stage.start(_job("Introduction. 2019. Some journal"))
    stage.close_input()
    assert not w.sent and not s2.batches
    (paper, outcome), = w.reported
    assert outcome.status is Status.FAILED and outcome.permanent and outcome.error.startswith(
        "ambiguous: ")
    assert paper.extra["match"]["status"] == "ambiguous"
    assert {c["doi"] for c in paper.extra["match"]["candidates"]} == {"10.1/a", "10.1/b"}


def test_a_matcher_that_cannot_answer_leaves_the_reference_for_the_next_run():
    stage, w = _matching_stage([TableSource("semantic_scholar", 10, {})],
                               TableMatcher({}, fail=True))
    assert stage.start(_job(REFERENCE))
    stage.close_input()
    (paper, outcome), = w.reported
    assert outcome.permanent is False and outcome.error == (
        "cannot match it now: HTTP 500 Internal Server Error")
    assert "match" not in paper.extra
