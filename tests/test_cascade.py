"""`papers download`'s lookup stage against the fake APIs: batches, a cascade that stops at
the first source with a working PDF, a record's own URLs first, the OpenAlex allowance."""

import json
import os
import threading

import pytest

from conftest import pdfs_in, read_state

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
from papers.apiclient import allowance_wait, announced_limits  # noqa: E402
from papers.discovery.cascade import CASCADE_ORDER, cascade_order  # noqa: E402
from papers.hosts import HostLimiter  # noqa: E402


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
    assert limiter._max["api:x"] == 1 and limiter._intervals["api:x"] == pytest.approx(0.2)
    assert not limiter.tighten("api:x", 3, 50.0)                 # never raised
    limiter.configure("api:y", 2, 0)                              # unlimited: any rate tightens
    assert limiter.tighten("api:y", None, 2.0) and limiter._intervals["api:y"] == 0.5


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
