"""`papers references` and `papers citations` against the fake OpenAlex and Semantic
Scholar: both sources merged and deduplicated, paging, depth 2, the bounds, the
checkpoint, and records that `papers download` takes."""

import json

import pytest

from conftest import pdfs_in


def graph(papers, cfg_path, *args, input=None):
    return papers(*args[:1], "-c", cfg_path, *args[1:], input=input, fast=False)


def seed(fake):
    """A paper citing five works at OpenAlex; S2 lists four of them and one more."""
    cited = [fake.add(doi=f"10.1000/ref.{i}", title=f"Reference {i}", year=2010 + i,
                      openalex_pdf=fake.server.url(f"/files/r{i}.pdf") if i % 2 == 0 else None)
             for i in range(5)]
    s2_only = fake.add(doi="10.1000/ref.s2", title="Only S2 knows it cites this", year=2018,
                       in_apis=("semantic_scholar",))
    paper = fake.add(doi="10.1000/seed", title="The seed", cites=tuple(w.wid for w in cited),
                     s2_cites=tuple(w.wid for w in cited[1:]) + (s2_only.wid,))
    return paper, cited, s2_only


def test_references_merge_openalex_and_semantic_scholar_by_identifier(fake, cfg, papers):
    paper, cited, s2_only = seed(fake)
    r = graph(papers, cfg(), "references", "10.1000/seed")
    assert r.code == 0, r.stderr
    dois = [rec["doi"] for rec in r.lines]
    assert sorted(dois) == sorted([w.doi for w in cited] + [s2_only.doi])  # each once
    both = next(rec for rec in r.lines if rec["doi"] == "10.1000/ref.2")
    assert set(both["sources"]) == {"openalex", "semantic_scholar"}
    assert both["via"] == {"references": "doi:10.1000/seed", "depth": 1}
    assert both["pdf_urls"] == [fake.server.url("/files/r2.pdf")]
    assert next(rec for rec in r.lines if rec["doi"] == s2_only.doi)["sources"] == {
        "semantic_scholar": "found"}
    # One free singleton and one list call at OpenAlex; one page at S2.
    assert fake.calls["openalex", "single"] == 1 and fake.calls["openalex", "list"] == 1
    assert fake.calls["semantic_scholar", "graph"] == 1


def test_citations_page_through_openalex_and_merge_s2(fake, cfg, papers):
    target = fake.add(doi="10.1000/famous", title="Famous")
    for i in range(130):
        fake.add(doi=f"10.1000/cites.{i}", title=f"Citing {i}", year=2015 + i % 10,
                 cites=(target.wid,))
    r = graph(papers, cfg(), "citations", "10.1000/famous", "--limit", "1000")
    assert r.code == 0, r.stderr
    assert len(r.lines) == 130 and len({rec["doi"] for rec in r.lines}) == 130
    assert fake.calls["openalex", "list"] == 2  # cites:W… in pages of 100
    assert all(rec["via"] == {"citations": "doi:10.1000/famous", "depth": 1} for rec in r.lines)


def test_citations_bounds_go_to_openalex_and_apply_to_s2(fake, cfg, papers):
    target = fake.add(doi="10.1000/famous", title="Famous")
    for i in range(40):
        fake.add(doi=f"10.1000/c.{i}", title=f"Citing {i}", year=2015 + i % 10, cites=(target.wid,),
                 openalex_pdf=fake.server.url(f"/files/c{i}.pdf") if i % 4 == 0 else None)
    r = graph(papers, cfg(), "citations", "10.1000/famous", "--oa", "--since", "2019")
    assert r.code == 0, r.stderr
    expected = {f"10.1000/c.{i}" for i in range(40) if i % 4 == 0 and 2015 + i % 10 >= 2019}
    assert {rec["doi"] for rec in r.lines} == expected
    sent = [req.path for req in fake.requests_to("/openalex/works?")][0]
    assert "is_oa%3Atrue" in sent and "publication_year%3A%3E2018" in sent


def test_depth_two_follows_the_works_found_within_the_limit(fake, cfg, papers):
    far = [fake.add(doi=f"10.1000/far.{i}", title=f"Far {i}") for i in range(3)]
    near = [fake.add(doi=f"10.1000/near.{i}", title=f"Near {i}", cites=(far[i].wid,))
            for i in range(3)]
    fake.add(doi="10.1000/root", title="Root", cites=tuple(w.wid for w in near))
    r = graph(papers, cfg(), "references", "10.1000/root", "--depth", "2")
    assert r.code == 0, r.stderr
    by = {rec["doi"]: rec["via"] for rec in r.lines}
    assert {d for d, v in by.items() if v["depth"] == 1} == {w.doi for w in near}
    assert by["10.1000/far.1"] == {"references": "doi:10.1000/near.1", "depth": 2}
    limited = graph(papers, cfg(), "references", "10.1000/root", "--depth", "2", "--limit", "4",
                    "--refresh")
    assert len(limited.lines) == 4


def test_a_finished_walk_runs_again_without_a_request(fake, cfg, papers):
    seed(fake)
    path = cfg()
    first = graph(papers, path, "references", "10.1000/seed")
    calls = sum(fake.calls.values())
    again = graph(papers, path, "references", "10.1000/seed")
    assert again.code == 0 and again.lines == first.lines
    assert sum(fake.calls.values()) == calls and "6 from the checkpoint" in again.stderr


def test_papers_with_nothing_to_look_up_by_fail_with_why_and_the_rest_goes_on(fake, cfg, papers):
    seed(fake)
    r = graph(papers, cfg(), "references", "http://example.org/x.pdf", "10.1000/seed", "qq")
    assert r.code == 1 and len(r.lines) == 8  # the six references, and the two that fail
    failed = {rec["id"]: rec["reason"] for rec in r.lines if rec["status"] == "failed"}
    assert "no identifier" in failed["http://example.org/x.pdf"]
    assert "not a URL or a known identifier" in failed["qq"]
    assert "2 failed" in r.stderr


def test_references_piped_into_download_fetch_the_open_ones(fake, cfg, papers, tmp_path):
    bodies = []
    for i in range(4):
        url, body = fake.pdf(f"ref{i}.pdf", i)
        bodies.append(body)
        fake.add(doi=f"10.1000/open.{i}", title=f"Open ref {i}", openalex_pdf=url)
    fake.add(doi="10.1000/source", title="Source",
             cites=tuple(w.wid for w in fake.works))
    path = cfg()
    found = graph(papers, path, "references", "10.1000/source")
    assert found.code == 0 and len(found.lines) == 4
    r = papers("download", "-c", path, "-o", str(tmp_path / "pdfs"), input=found.stdout, fast=False)
    assert r.code == 0, r.stderr
    assert sorted(pdfs_in(tmp_path / "pdfs").values()) == sorted(bodies)
    assert json.loads(found.stdout.splitlines()[0])["via"]["references"] == "doi:10.1000/source"


def test_a_walk_killed_mid_way_goes_on_from_the_papers_not_done(fake, cfg, papers, env, tmp_path):
    import subprocess
    import sys
    import threading

    from conftest import interrupt, wait_for

    seeds = []
    for k in range(6):
        refs = [fake.add(doi=f"10.1000/r{k}.{i}", title=f"Ref {k} {i}") for i in range(3)]
        seeds.append(fake.add(doi=f"10.1000/seed.{k}", title=f"Seed {k}",
                              cites=tuple(w.wid for w in refs)))
    fake.slow["semantic_scholar"] = 0.7
    path = cfg()
    cmd = [sys.executable, "-m", "papers", "references", "-c", path, *(w.doi for w in seeds)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(tmp_path))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    assert wait_for(lambda: fake.calls["semantic_scholar", "graph"] >= 3, timeout=30)
    code, err, took = interrupt(proc)
    reader.join(5)
    assert code == 130 and took < 5 and "Traceback" not in err
    assert 6 <= len(lines) < 18
    asked = fake.calls["openalex", "single"]
    fake.slow.clear()
    r = papers("references", "-c", path, *(w.doi for w in seeds), fast=False)
    assert r.code == 0, r.stderr
    assert len(r.lines) == 18 == len({rec["doi"] for rec in r.lines})
    # The papers done are not asked again; the one in flight at Ctrl-C may be (its records
    # can reach stdout just before the stop, and its mark just after).
    assert fake.calls["openalex", "single"] - asked <= 6 - len(lines) // 3 + 1


def calls_by_api(fake):
    out = {}
    for (api, _form), n in fake.calls.items():
        out[api] = out.get(api, 0) + n
    return out


def test_count_says_the_calls_the_walk_then_makes(fake, cfg, papers):
    seed(fake)
    target = fake.add(doi="10.1000/famous", title="Famous")
    for i in range(130):
        fake.add(doi=f"10.1000/cites.{i}", title=f"Citing {i}", year=2015, cites=(target.wid,))
    path = cfg()
    for relation, doi, works in (("references", "10.1000/seed", 5),
                                 ("citations", "10.1000/famous", 130)):
        fake.calls.clear()
        r = graph(papers, path, relation, doi, "10.1000/nobody", "--count", "--limit", "1000")
        assert r.code == 0, r.stderr
        (est,) = r.lines
        assert est["relation"] == relation and est["works"] == works and est["fetch"] == works
        assert est["papers"] == 1 and est["unknown"] == 1
        assert fake.calls["openalex", "single"] == 2 and calls_by_api(fake) == {"openalex": 2}
        assert f"{works:,} works (OpenAlex's count)" in r.stderr and "calls" in r.stderr
        fake.calls.clear()
        walked = graph(papers, path, relation, doi, "10.1000/nobody", "--limit", "1000",
                       "--refresh")
        assert walked.lines, walked.stderr
        assert calls_by_api(fake) == est["calls"], (relation, dict(fake.calls))
        list_calls = fake.calls["openalex", "list"]
        assert est["cost_usd"] == round(list_calls * 0.10 / 1000, 6)


def test_count_at_depth_2_says_what_following_costs(fake, cfg, papers):
    seed(fake)
    r = graph(papers, cfg(), "references", "10.1000/seed", "--count", "--depth", "2")
    (est,) = r.lines
    assert est["depth"] == 2 and est["follow_calls"] == est["fetch"] * 3  # 3 calls a paper
    assert "depth 2 follows them for about 15 calls more" in r.stderr


def test_count_needs_openalex(fake, cfg, papers):
    seed(fake)
    r = graph(papers, cfg(extra="sources:\n  openalex: {enabled: false}\n"), "references",
              "10.1000/seed", "--count")
    assert r.code == 2 and "--count asks OpenAlex" in r.stderr


@pytest.mark.parametrize("relation, works, want, expected", [
    ("references", 0, 100, {"openalex": 1, "semantic_scholar": 1}),   # the work, one S2 page
    ("references", 50, 100, {"openalex": 2, "semantic_scholar": 1}),
    ("references", 51, 100, {"openalex": 3, "semantic_scholar": 1}),  # 50 to a list call
    ("citations", 130, 1000, {"openalex": 3, "semantic_scholar": 1}),  # pages of 100
    ("citations", 130, 50, {"openalex": 2, "semantic_scholar": 1}),    # --limit stops paging
    ("citations", 2500, 5000, {"openalex": 26, "semantic_scholar": 3}),  # S2 pages of 1,000
])
def test_calls_for_one_paper(relation, works, want, expected):
    from papers.discovery.graph import calls_for

    assert calls_for(relation, works, want, ("openalex", "semantic_scholar")) == expected
