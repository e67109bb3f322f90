"""`papers search` against the fake APIs' search forms: cursor paging, filters, the
checkpoint, --count, shards, and records that `papers download` takes."""

import json
import subprocess
import sys
import threading

from conftest import interrupt, pdfs_in, wait_for


def search(papers, cfg_path, *args):
    return papers("search", "-c", cfg_path, *args, fast=False)


def many(fake, n, title="Graph neural networks", **kw):
    """`n` works matching `title`, one year each from 2015 on (cycling), every third open."""
    out = []
    for i in range(n):
        pdf = fake.server.url(f"/files/g{i}.pdf") if i % 3 == 0 else None
        out.append(fake.add(doi=f"10.1000/g.{i}", title=f"{title} part {i}", year=2015 + i % 10,
                            openalex_pdf=pdf, **kw))
    return out


def test_openalex_pages_with_its_cursor_and_writes_consolidates_records(fake, cfg, papers):
    many(fake, 230)
    fake.add(doi="10.1000/other", title="Something else entirely")
    r = search(papers, cfg(), "graph neural", "--limit", "1000")
    assert r.code == 0, r.stderr
    recs = r.lines
    assert len(recs) == 230 and len({rec["doi"] for rec in recs}) == 230
    assert fake.calls["openalex", "search"] == 3  # 100 + 100 + 30, cursor paging
    cursors = [c for req in fake.requests_to("/openalex/works") for c in [req.path]]
    assert "cursor=%2A" in cursors[0] and all("cursor=" in c for c in cursors)
    first = next(rec for rec in recs if rec["doi"] == "10.1000/g.0")
    assert first["status"] == "found" and first["pdf_urls"] == [fake.server.url("/files/g0.pdf")]
    assert first["candidates"][0]["version"] == "publishedVersion" and first["is_oa"] is True
    assert first["query"] == {"source": "openalex", "search": '"graph neural"'}
    assert first["source_id"].startswith("W") and first["title"].startswith("Graph neural")
    closed = next(rec for rec in recs if rec["doi"] == "10.1000/g.1")
    assert closed["status"] == "not_found" and closed["pdf_urls"] == []
    assert "230 with PDF candidates" not in r.stderr and "77 with PDF candidates" in r.stderr


def test_the_limit_stops_paging(fake, cfg, papers):
    many(fake, 250)
    r = search(papers, cfg(), "graph", "--limit", "120")
    assert r.code == 0 and len(r.lines) == 120
    assert fake.calls["openalex", "search"] == 2


def test_filters_years_and_oa_go_to_openalex_as_filters(fake, cfg, papers):
    many(fake, 40)
    many(fake, 5, title="Graph theory", type="book-chapter")
    r = search(papers, cfg(), "graph", "--oa", "--since", "2018", "--until", "2019",
               "--filter", "type:article")
    assert r.code == 0, r.stderr
    years = {rec["year"] for rec in r.lines}
    assert years == {2018, 2019} and all(rec["is_oa"] for rec in r.lines)
    assert len(r.lines) == sum(1 for i in range(40) if i % 3 == 0 and 2015 + i % 10 in (2018, 2019))
    sent = fake.requests_to("/openalex/works")[0].path
    assert "is_oa%3Atrue" in sent and "publication_year%3A2018-2019" in sent and "type%3Aarticle" in sent


def test_a_filter_alone_is_a_list_call_and_cites_finds_the_citing_works(fake, cfg, papers):
    target = fake.add(doi="10.1000/cited", title="The cited one")
    for i in range(7):
        fake.add(doi=f"10.1000/citing.{i}", title=f"Citing {i}", cites=(target.wid,))
    fake.add(doi="10.1000/unrelated", title="Unrelated")
    r = search(papers, cfg(), "--filter", f"cites:{target.wid}")
    assert r.code == 0, r.stderr
    assert sorted(rec["doi"] for rec in r.lines) == [f"10.1000/citing.{i}" for i in range(7)]
    assert fake.calls["openalex", "list"] == 1 and fake.calls["openalex", "search"] == 0


def test_an_unknown_filter_is_openalexs_own_error_in_one_line(fake, cfg, papers):
    r = search(papers, cfg(), "x", "--filter", "colour:blue")
    assert r.code == 1
    assert "colour is not a valid field" in r.stderr and "Traceback" not in r.stderr
    assert r.stdout == ""


def test_count_fetches_nothing_and_says_the_calls_and_credits(fake, cfg, papers):
    many(fake, 250)
    r = search(papers, cfg(), "graph", "--count", "--limit", "1000")
    assert r.code == 0, r.stderr
    est = json.loads(r.stdout)
    assert est == {"source": "openalex", "query": '"graph"', "count": 250, "fetch": 250,
                   "calls": 3, "cost_usd": 0.003}
    assert fake.calls["openalex", "search"] == 1  # the count alone: per_page=1
    assert "per_page=1" in fake.requests_to("/openalex/works")[0].path
    assert "250 works match; fetching 250 takes 3 calls, about $0.0030" in r.stderr
    r = search(papers, cfg(), "--filter", "publication_year:2016", "--count")
    assert json.loads(r.stdout)["cost_usd"] == 0.0001  # a list call: a tenth of a search's


def test_europepmc_pages_with_cursormark_until_it_repeats(fake, cfg, papers):
    for i in range(1500):
        fake.add(pmid=str(30000000 + i), title=f"Malaria vaccine trial {i}", year=2010 + i % 12,
                 in_apis=("europepmc",), europepmc_pdf=fake.server.url(f"/files/m{i}.pdf")
                 if i % 2 else None)
    r = search(papers, cfg(), "--source", "europepmc", "malaria vaccine", "--limit", "5000",
               "--oa", "--since", "2015")
    assert r.code == 0, r.stderr
    expected = sum(1 for i in range(1500) if i % 2 and 2010 + i % 12 >= 2015)
    assert len(r.lines) == expected and len({rec["pmid"] for rec in r.lines}) == expected
    sent = [req.path for req in fake.requests_to("/europepmc/")]
    assert len(sent) == 1 and "cursorMark=%2A" in sent[0] and "pageSize=1000" in sent[0]
    assert "OPEN_ACCESS%3Ay" in sent[0] and "PUB_YEAR%3A%5B2015+TO+2999%5D" in sent[0]


def test_europepmc_over_two_pages(fake, cfg, papers):
    for i in range(1200):
        fake.add(pmid=str(31000000 + i), title=f"Dengue {i}", in_apis=("europepmc",))
    r = search(papers, cfg(), "--source", "europepmc", "dengue", "--limit", "2000")
    assert r.code == 0 and len(r.lines) == 1200
    assert fake.calls["europepmc", "search"] == 2


def test_arxiv_pages_by_start_and_keeps_its_one_call_in_three_seconds(fake, cfg, papers):
    fake.enforce_limits = True
    for i in range(150):
        fake.add(arxiv=f"2301.{10000 + i}", title=f"Diffusion models {i}", in_apis=("arxiv",))
    r = search(papers, cfg(default_limits=True), "--source", "arxiv", "ti:diffusion",
               "--limit", "1000")
    assert r.code == 0, r.stderr
    assert len(r.lines) == 150 and not fake.refused
    assert fake.calls["arxiv", "search"] == 2
    rec = next(x for x in r.lines if x["arxiv"] == "2301.10000")
    assert rec["pdf_urls"] == [fake.server.url("/arxiv-pdf/2301.10000")]
    starts = [req.path for req in fake.requests_to("/arxiv/")]
    assert "start=0" in starts[0] and "start=100" in starts[1]
    gap = fake.requests_to("/arxiv/")[1].at - fake.requests_to("/arxiv/")[0].at
    assert gap >= 2.9


def test_shards_split_one_search_between_them(fake, cfg, papers):
    many(fake, 120)
    path = cfg()
    halves = [search(papers, path, "graph", "--limit", "500", "--shard", f"{k}/2").lines
              for k in (0, 1)]
    ids = [{rec["doi"] for rec in half} for half in halves]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == {f"10.1000/g.{i}" for i in range(120)}


def test_a_search_killed_mid_way_resumes_from_its_cursor(fake, cfg, papers, env, tmp_path):
    many(fake, 450)
    fake.slow["openalex"] = 0.6
    path = cfg()
    cmd = [sys.executable, "-m", "papers", "search", "-c", path, "graph", "--limit", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(tmp_path))
    lines = []  # read as it comes: a full pipe would hold the run up
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    assert wait_for(lambda: fake.calls["openalex", "search"] >= 3, timeout=30)
    code, err, took = interrupt(proc)
    reader.join(5)
    out = [line.decode() for line in lines]
    assert code == 130 and took < 5 and "Traceback" not in err
    assert 200 <= len(out) < 450
    before = fake.calls["openalex", "search"]
    fake.slow.clear()
    r = papers("search", "-c", path, "graph", "--limit", "1000", fast=False)
    assert r.code == 0, r.stderr
    dois = [rec["doi"] for rec in r.lines]
    assert len(dois) == 450 == len(set(dois))
    assert [json.loads(line)["doi"] for line in out] == dois[:len(out)]  # the same, first
    assert fake.calls["openalex", "search"] - before <= 3  # from the cursor, not from the start
    assert f"{len(out)} from the checkpoint" in r.stderr


def test_a_finished_search_runs_again_without_a_request(fake, cfg, papers):
    many(fake, 30)
    path = cfg()
    first = search(papers, path, "graph")
    calls = sum(fake.calls.values())
    again = search(papers, path, "graph")
    assert again.code == 0 and again.lines == first.lines
    assert sum(fake.calls.values()) == calls


def test_another_search_in_the_same_checkpoint_is_refused(fake, cfg, papers, tmp_path):
    many(fake, 5)
    state = str(tmp_path / "s.json")
    assert search(papers, cfg(), "graph", "--state", state).code == 0
    r = search(papers, cfg(), "networks", "--state", state)
    assert r.code == 2 and "is of another search" in r.stderr and "--refresh" in r.stderr
    r = search(papers, cfg(), "networks", "--state", state, "--refresh")
    assert r.code == 0 and len(r.lines) == 5


def test_usage_errors_are_one_line_and_exit_2(fake, cfg, papers):
    for args, said in ((["--oa"], "give a QUERY or a --filter"),
                       (["--source", "arxiv", "x", "--filter", "type:article"], "passed to OpenAlex"),
                       (["x", "--filter", "nocolon"], "expected KEY:VALUE"),
                       (["x", "--limit", "0"], "must be at least 1"),
                       (["x", "--since", "2020", "--until", "2019"], "is after --until"),
                       (["x", "--limit", "20000"], "over 10,000: add --yes")):
        r = search(papers, cfg(), *args)
        assert r.code == 2 and said in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    assert not fake.calls


def test_search_piped_into_download_gives_the_open_pdfs(fake, cfg, papers, env, tmp_path):
    bodies = {}
    for i in range(6):
        url, body = fake.pdf(f"open{i}.pdf", i)
        fake.add(doi=f"10.1000/open.{i}", title=f"Protein folding {i}", openalex_pdf=url)
        bodies[url] = body
    fake.add(doi="10.1000/closed.x", title="Protein folding closed")
    path = cfg()
    found = search(papers, path, "protein folding")
    assert found.code == 0 and len(found.lines) == 7
    r = papers("download", "-c", path, "-o", str(tmp_path / "pdfs"), "--json", input=found.stdout,
               fast=False)
    assert r.code == 1  # the closed one fails
    got = pdfs_in(tmp_path / "pdfs")
    assert sorted(got.values()) == sorted(bodies.values())
    assert {line["status"] for line in r.lines} == {"downloaded", "failed"}


def test_ctrl_c_ends_a_search_waiting_on_a_hung_api(fake, cfg, papers, env, tmp_path):
    many(fake, 10)
    fake.slow["openalex"] = 30
    cmd = [sys.executable, "-m", "papers", "search", "-c", cfg(), "graph"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(tmp_path))
    assert wait_for(lambda: fake.calls["openalex", "search"] >= 1, timeout=30)
    code, err, took = interrupt(proc)
    assert code == 130 and took < 5 and "Traceback" not in err
    assert "stopping" in err and "run the same command again" in err


def test_a_closed_stdout_ends_the_search_quietly(fake, cfg, env, tmp_path):
    many(fake, 300)
    r = subprocess.run(f"{sys.executable} -m papers search -c {cfg()} graph --limit 300 | head -n 3",
                       shell=True, capture_output=True, text=True, timeout=60, cwd=str(tmp_path),
                       env=env)
    assert len(r.stdout.splitlines()) == 3 and "Traceback" not in r.stderr


def test_a_higher_limit_later_goes_on_where_the_lower_one_stopped(fake, cfg, papers):
    many(fake, 250)
    path = cfg()
    first = search(papers, path, "graph", "--limit", "150")
    assert len(first.lines) == 150
    more = search(papers, path, "graph", "--limit", "250")
    dois = [rec["doi"] for rec in more.lines]
    assert more.code == 0 and len(dois) == 250 == len(set(dois))
    assert dois[:150] == [rec["doi"] for rec in first.lines]
    assert "150 from the checkpoint" in more.stderr
