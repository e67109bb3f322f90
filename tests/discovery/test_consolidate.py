"""`papers consolidate` and inline resolution in `papers download`, against local fake APIs."""

import json
import os
import sys
import subprocess
from urllib.parse import unquote_plus

from conftest import pdfs_in


def consolidate(papers, cfg_path, *args, input=None):
    return papers("consolidate", "-c", cfg_path, *args, input=input, fast=False)


def test_mixed_reference_list_finds_every_oa_pdf_and_explains_the_rest(fake, cfg, papers, tmp_path):
    arxiv_pdf, arxiv_body = fake.pdf("arx.pdf", 1)
    fake.server.pdf("/arxiv-pdf/2101.00001", arxiv_body)
    fake.add(arxiv="2101.00001", doi="10.1000/published.one", title="Arxiv Paper")
    pmc_pdf, _ = fake.pdf("pmc.pdf", 2)
    fake.add(pmid="31452104", pmcid="PMC6710235", doi="10.1000/med.two", title="Medical Paper",
             europepmc_pdf=pmc_pdf, in_apis=("europepmc", "openalex", "crossref"))
    pub_pdf, _ = fake.pdf("pub.pdf", 3)
    fake.add(doi="10.1000/gold.three", title="Gold Paper", unpaywall_pdf=pub_pdf, openalex_pdf=pub_pdf)
    fake.add(doi="10.1000/closed.four", title="Closed Paper")
    fake.add(arxiv="hep-th/9901001", title="Old Style")
    r = consolidate(papers, cfg(), "arXiv:2101.00001", "PMID:31452104", "https://doi.org/10.1000/GOLD.three",
                    "10.1000/closed.four", "hep-th/9901001", "junk-thing")
    assert r.code == 1, r.stderr  # the junk line
    recs = r.by_id()
    assert len(recs) == 6
    a = recs["arXiv:2101.00001"]
    assert a["status"] == "found" and a["doi"] == "10.1000/published.one"
    assert a["pdf_urls"][0] == fake.server.url("/arxiv-pdf/2101.00001")
    assert a["title"] == "Arxiv Paper" and a["candidates"][0]["source"] == "arxiv"
    m = recs["PMID:31452104"]
    assert m["status"] == "found" and m["pmcid"] == "PMC6710235" and m["pdf_urls"] == [pmc_pdf]
    assert m["doi"] == "10.1000/med.two"
    g = recs["10.1000/gold.three"]
    assert g["pdf_urls"] == [pub_pdf]  # the same URL from two sources is one candidate
    assert {c["source"] for c in g["candidates"]} <= {"unpaywall", "openalex"}
    c = recs["10.1000/closed.four"]
    assert c["status"] == "not_found" and c["pdf_urls"] == []
    assert c["reason"].startswith("no open-access PDF found (asked: openalex, unpaywall, semantic_scholar, crossref")
    o = recs["arXiv:hep-th/9901001"]
    assert o["status"] == "found" and o["pdf_urls"][0].endswith("/arxiv-pdf/hep-th/9901001")
    assert recs["junk-thing"]["status"] == "failed"
    assert "not a URL or a known identifier" in recs["junk-thing"]["reason"]


def test_ranking_prefers_the_open_version_of_record_then_repository_copies(fake, cfg, papers):
    pub, _ = fake.pdf("p.pdf", 1)
    repo, _ = fake.pdf("r.pdf", 2)
    epmc, _ = fake.pdf("e.pdf", 3)
    cr, _ = fake.pdf("c.pdf", 4)
    fake.add(doi="10.1000/rank", pmcid="PMC1", openalex_pdf=pub, openalex_repo_pdf=repo,
             europepmc_pdf=epmc, crossref_pdf=cr, arxiv="2202.00002")
    r = consolidate(papers, cfg(), "10.1000/rank")
    rec = r.lines[0]
    # The CC-BY version of record, the accepted manuscript in a repository, PMC's copy
    # (version unnamed), the arXiv preprint, and Crossref's link last.
    assert rec["pdf_urls"] == [pub, repo, epmc, fake.server.url("/arxiv-pdf/2202.00002"), cr]
    assert [c["source"] for c in rec["candidates"]] == ["openalex", "openalex", "europepmc", "arxiv", "crossref"]
    assert [c.get("version") for c in rec["candidates"]][:2] == ["publishedVersion", "acceptedVersion"]
    assert rec["candidates"][1]["host_type"] == "repository"


def test_openalex_batches_and_s2_batch(fake, cfg, papers):
    dois = [f"10.1000/batch.{i}" for i in range(30)]
    for d in dois:
        fake.add(doi=d, title=d)
    r = consolidate(papers, cfg(), "--sources", "openalex,semantic_scholar", "-j", "1", *dois)
    assert r.code == 0, r.stderr
    assert len(r.lines) == 30 and all(x["title"] == x["doi"] for x in r.lines)
    oa = fake.requests_to("/openalex/works")
    assert len(oa) == 1 and "filter=doi" in oa[0].path  # one chunk, one request
    s2 = fake.requests_to("/s2/graph/v1/paper/batch")
    assert len(s2) == 1


def test_s2_429_without_retry_after_is_retried(fake, cfg, papers):
    fake.add(doi="10.1000/s2", s2_pdf="")
    fake.s2_throttle = 2
    r = consolidate(papers, cfg(), "--sources", "semantic_scholar", "10.1000/s2")
    assert r.code == 0, r.stderr
    assert r.lines[0]["sources"]["semantic_scholar"] == "found"
    assert r.lines[0]["pdf_urls"] == []  # "url": "" is no PDF
    assert len(fake.requests_to("/s2/")) == 3


def test_unpaywall_without_email_is_skipped_with_a_reason(fake, cfg, papers):
    fake.add(doi="10.1000/upw", unpaywall_pdf="http://127.0.0.1:9/x.pdf", in_apis=("unpaywall",))
    r = consolidate(papers, cfg(email=None), "--sources", "unpaywall", "10.1000/upw")
    rec = r.lines[0]
    assert rec["status"] == "not_found"
    assert "unpaywall skipped: Unpaywall needs `email` in the config" in rec["reason"]
    assert fake.requests_to("/unpaywall") == []


def test_source_errors_make_the_paper_incomplete_and_retried_next_run(fake, cfg, papers, tmp_path):
    fake.add(doi="10.1000/err", pmid="123")
    fake.europepmc_error_for = "10.1000/err"
    fake.down.add("crossref")
    c = cfg()
    r = consolidate(papers, c, "--sources", "europepmc,crossref", "10.1000/err")
    rec = r.lines[0]
    assert r.code == 1
    assert rec["status"] == "failed" and rec["complete"] is False
    assert rec["sources"]["europepmc"] == "error: error 400: Syntax error in query"
    assert rec["sources"]["crossref"].startswith("error: HTTP 503")
    assert "(after 4 attempts)" in rec["sources"]["crossref"]
    fake.europepmc_error_for = None
    fake.down.clear()
    r2 = consolidate(papers, c, "--sources", "europepmc,crossref", "10.1000/err")
    assert r2.code == 0 and r2.lines[0]["complete"] is True


def test_rerun_skips_consolidated_papers_without_requests(fake, cfg, papers, tmp_path):
    fake.add(doi="10.1000/once", title="Once")
    c = cfg()
    r = consolidate(papers, c, "10.1000/once")
    assert r.code == 0
    n = len(fake.server.requests)
    r2 = consolidate(papers, c, "10.1000/once")
    assert r2.code == 0 and r2.lines == r.lines
    assert len(fake.server.requests) == n


def test_output_file_is_a_json_array_in_input_order(fake, cfg, papers, tmp_path):
    for i in range(5):
        fake.add(doi=f"10.1000/ord.{i}", title=f"T{i}")
    out = tmp_path / "out.json"
    r = consolidate(papers, cfg(), "-o", str(out), "-j", "3", *[f"10.1000/ord.{i}" for i in range(5)])
    assert r.code == 0, r.stderr
    assert r.stdout == ""
    data = json.loads(out.read_text())
    assert [d["title"] for d in data] == [f"T{i}" for i in range(5)]
    assert os.path.exists(str(out) + ".papers-state.json")


def test_secrets_never_appear_in_output_state_or_logs(fake, cfg, papers, tmp_path):
    fake.add(doi="10.1000/sec", in_apis=())
    fake.down.add("openalex")
    c = cfg(email="secret.person@example.org", extra="")
    text = open(c).read().replace("  openalex:\n", "  openalex:\n    api_key: SECRETKEY123\n")
    open(c, "w").write(text)
    r = consolidate(papers, c, "-vv", "--sources", "openalex,unpaywall,crossref", "10.1000/sec",
                    "--state", str(tmp_path / "st.json"))
    blob = r.stdout + r.stderr + (tmp_path / "st.json").read_text()
    assert "SECRETKEY123" not in blob and "secret.person@example.org" not in blob
    # ... but they were sent.
    assert any("api_key=SECRETKEY123" in x.path for x in fake.requests_to("/openalex"))
    assert any("email=secret.person" in x.path for x in fake.requests_to("/unpaywall"))


def test_download_resolves_identifiers_and_falls_through_html(fake, cfg, papers, tmp_path):
    html = fake.html("login.pdf")
    good, body = fake.pdf("good.pdf", 7)
    fake.add(doi="10.1000/dl", title="Downloadable", unpaywall_pdf=html, openalex_repo_pdf=good)
    fake.add(doi="10.1000/none", title="Nothing Open")
    fake.server.pdf("/arxiv-pdf/2303.00003", b"\n\n%PDF-1.5 arxiv")  # leading junk
    fake.add(arxiv="2303.00003", title="On arXiv")
    out = tmp_path / "o"
    r = papers("download", "-c", cfg(), "-o", str(out), "--json", "10.1000/dl", "10.1000/none",
               "arXiv:2303.00003", fast=False)
    assert r.code == 1
    recs = r.by_id()
    d = recs["10.1000/dl"]
    assert d["status"] == "downloaded" and d["url"] == good and d["title"] == "Downloadable"
    assert open(d["path"], "rb").read() == body
    assert os.path.basename(d["path"]) == "10.1000_dl.pdf"
    assert recs["arXiv:2303.00003"]["status"] == "downloaded"
    n = recs["10.1000/none"]
    assert n["status"] == "failed"
    assert n["error"].startswith("no open-access PDF found (asked: openalex, unpaywall, semantic_scholar")
    # A re-run asks nobody about the finished ones.
    before = len(fake.server.requests)
    r2 = papers("download", "-c", cfg(), "-o", str(out), "--json", "10.1000/dl", "arXiv:2303.00003",
                fast=False)
    assert r2.code == 0 and len(fake.server.requests) == before


def test_download_lists_each_failed_candidate(fake, cfg, papers, tmp_path):
    html = fake.html("l2.pdf")
    gone = fake.server.url("/files/gone.pdf")
    fake.add(doi="10.1000/bad", unpaywall_pdf=html, openalex_pdf=gone)
    r = papers("download", "-c", cfg(), "-o", str(tmp_path / "o"), "--json", "10.1000/bad", fast=False)
    err = r.lines[0]["error"]
    assert err.startswith("all 3 candidate URLs failed:")  # the two found, then the DOI itself
    assert "not a PDF" in err and f"{gone}: HTTP 404" in err
    assert f"{fake.server.url('/doi/10.1000/bad')}: HTTP 404" in err


def test_consolidate_then_download_pipeline(fake, cfg, papers, tmp_path, env):
    bodies = {}
    for i in range(4):
        url, body = fake.pdf(f"pipe{i}.pdf", 20 + i)
        fake.add(doi=f"10.1000/pipe.{i}", title=f"Pipe {i}", openalex_pdf=url)
        bodies[url] = body
    c = cfg()
    cons = subprocess.run([sys.executable, "-m", "papers", "consolidate", "-c", c,
                           *[f"10.1000/pipe.{i}" for i in range(4)]],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    n = len(fake.requests_to("/openalex"))
    dl = subprocess.run([sys.executable, "-m", "papers", "download", "-c", c, "-o", str(tmp_path / "o"),
                         "--json"], input=cons.stdout, capture_output=True, text=True, env=env,
                        cwd=tmp_path, timeout=60)
    assert dl.returncode == 0, dl.stderr
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted(bodies.values())
    # Records that already carry pdf_urls are not resolved again.
    assert len(fake.requests_to("/openalex")) == n
    names = sorted(pdfs_in(tmp_path / "o"))
    assert names[0].startswith("Lovelace_2020_Pipe_0_")


def test_sici_doi_survives_every_request_url(fake, cfg, papers):
    sici = "10.1002/(SICI)1097-4636(199706)35:4<467::AID-JBM7>3.0.CO;2-H"
    pdf, _ = fake.pdf("sici.pdf", 5)
    fake.add(doi=sici.lower(), title="SICI", unpaywall_pdf=pdf, crossref_pdf=pdf, openalex_pdf=pdf)
    fake.add(doi="10.1000/other", title="Other")
    r = consolidate(papers, cfg(), "--sources", "openalex,unpaywall,crossref,semantic_scholar",
                    sici, "10.1000/other")
    recs = r.by_id()
    rec = recs[sici.lower()]
    assert rec["sources"] == {"openalex": "found", "unpaywall": "found", "crossref": "found",
                              "semantic_scholar": "found"}
    assert rec["pdf_urls"] == [pdf]
    # '#', '?', ';' and '<>' never reach a server unencoded.
    for req in fake.server.requests:
        if "sici" in req.path.lower():
            assert "<" not in req.path and ";" not in req.path.split("?")[0]


def test_consolidate_sigint_saves_checkpoint(fake, cfg, papers, tmp_path, env):
    import signal
    import time

    for i in range(40):
        fake.add(doi=f"10.1000/slow.{i}")
    c = cfg(extra="")
    # Unpaywall (no batch form) one request per 0.2 s: slow enough to interrupt.
    text = open(c).read().replace("base_url: " + fake.base("unpaywall") + "\n    rate_limit: 0",
                                  "base_url: " + fake.base("unpaywall") + "\n    rate_limit: 5")
    open(c, "w").write(text)
    p = subprocess.Popen([sys.executable, "-m", "papers", "consolidate", "-c", c, "--sources", "unpaywall",
                          "-j", "2", *[f"10.1000/slow.{i}" for i in range(40)], "--state",
                          str(tmp_path / "st.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=tmp_path)
    deadline = time.time() + 20
    while len(fake.requests_to("/unpaywall")) < 5 and time.time() < deadline:
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=10) == 130
    state = json.load(open(tmp_path / "st.json"))
    assert 0 < len(state["papers"]) < 40


def test_a_rerun_that_enables_more_sources_asks_them_and_refresh_asks_again(fake, cfg, papers,
                                                                           tmp_path):
    pdf, _ = fake.pdf("gold.pdf", 4)
    fake.add(doi="10.1000/more.sources", title="More Sources", openalex_pdf=pdf, crossref_pdf=pdf)
    config = cfg()
    first = consolidate(papers, config, "--sources", "crossref", "10.1000/more.sources")
    assert first.code == 0, first.stderr
    assert first.lines[0]["sources"] == {"crossref": "found"}
    assert not fake.requests_to("/openalex")

    every = consolidate(papers, config, "10.1000/more.sources")
    assert every.code == 0, every.stderr
    assert fake.requests_to("/openalex"), "the source the checkpoint had not asked was not asked"
    assert "openalex" in every.lines[0]["sources"]
    assert "_asked_with" not in every.lines[0]  # the checkpoint's own note stays in it

    asked = len(fake.server.requests)
    again = consolidate(papers, config, "10.1000/more.sources")
    assert again.code == 0 and len(fake.server.requests) == asked  # all from the checkpoint
    assert again.lines[0]["sources"] == every.lines[0]["sources"]

    refreshed = consolidate(papers, config, "--refresh", "10.1000/more.sources")
    assert refreshed.code == 0 and len(fake.server.requests) > asked



def test_crossref_and_europepmc_batch_with_unknown_and_duplicate_ids(fake, cfg, papers):
    pdfs = [fake.pdf(f"b{i}.pdf", 40 + i)[0] for i in range(3)]
    fake.add(doi="10.1000/batch.a", title="Batch A", crossref_pdf=pdfs[0], in_apis=("crossref",))
    fake.add(doi="10.1000/batch.b", title="Batch B", crossref_pdf=pdfs[1], in_apis=("crossref",))
    fake.add(doi="10.1000/batch.c", pmid="31000001", pmcid="PMC9000001", title="Batch C",
             europepmc_pdf=pdfs[2], in_apis=("europepmc",))
    fake.add(doi="10.1000/batch.d", pmid="31000002", title="Batch D", in_apis=("europepmc",))
    given = ["10.1000/batch.a", "10.1000/batch.b", "10.1000/unknown.x", "doi:10.1000/BATCH.A",
             "PMC9000001", "PMID:31000002", "10.1000/unknown.y"]
    r = consolidate(papers, cfg(), "--sources", "crossref,europepmc", "-j", "1", *given)  # one chunk
    assert r.code == 0, r.stderr
    recs = r.by_id()
    assert recs["10.1000/batch.a"]["pdf_urls"] == [pdfs[0]]  # the duplicate spelling is one paper
    assert recs["10.1000/batch.b"]["title"] == "Batch B"
    assert recs["PMC9000001"]["pdf_urls"] == [pdfs[2]] and recs["PMC9000001"]["doi"] == "10.1000/batch.c"
    assert recs["PMID:31000002"]["title"] == "Batch D"
    assert recs["10.1000/unknown.x"]["status"] == "not_found"
    crossref = fake.requests_to("/crossref")
    europepmc = fake.requests_to("/europepmc")
    # One list call each for the first round; the papers that learned a DOI from Europe PMC
    # (C, D) are asked of Crossref alone afterwards, as the cascade does.
    assert sum("filter=doi" in x.path for x in crossref) == 1
    assert sum(" OR " in unquote_plus(x.path) for x in europepmc) == 1
    assert len(crossref) + len(europepmc) < len(given) * 2
