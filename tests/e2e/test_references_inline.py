"""Reference strings and titles given straight to `papers download` and `papers
consolidate`, against the fake APIs: each is matched in the lookup stage (Crossref
`query.bibliographic`, OpenAlex `title.search`), a match goes on to its PDF, and
anything else fails as `ambiguous` (with its candidates) or `not_found`, never a guess."""

import os

from conftest import pdfs_in, read_state
from support.references import AMBIGUOUS, NOT_FOUND, TABLE, populate

#: Thirty lines of the table: matched works in every style, the notices' traps, the two
#: versions of one title, and references to nothing in the world.
PASTED = TABLE[:22] + TABLE[35:43]


the_world = populate  # the table's works in the fake APIs


def test_a_pasted_list_of_thirty_references_downloaded_as_a_new_user_would(fake, cfg, papers,
                                                                          tmp_path):
    bodies = the_world(fake)
    assert len(PASTED) == 30
    expected = dict(PASTED)
    out = tmp_path / "pdfs"
    text = "\n".join(q for q, _ in PASTED) + "\n"
    r = papers("download", "-c", cfg(), "-o", str(out), "--json", input=text, fast=False)
    assert r.code == 1, r.stderr  # some are ambiguous or unknown: failures, said so
    lines = {line["id"]: line for line in r.lines}
    assert len(lines) == 30
    for query, want in PASTED:
        line = lines[query]
        if want in (AMBIGUOUS, NOT_FOUND):
            assert line["status"] == want and "doi" not in line, line
            assert line["match"]["status"] == want and line["match"]["query"] == query
            if want == AMBIGUOUS:  # the candidates, to choose from, each with its score
                cands = line["match"]["candidates"]
                assert len(cands) >= 2 and all({"doi", "title", "year", "score"} <= set(c)
                                               for c in cands)
                assert line["error"].startswith("ambiguous: ") and cands[0]["doi"] in line["error"]
            continue
        assert line["doi"] == want, (query, line)
        assert line["match"]["status"] == "matched" and line["match"]["doi"] == want
        assert line["match"]["score"] >= 0.85
        assert line["status"] == ("downloaded" if want in bodies else "failed"), line
    got = pdfs_in(out)
    assert sorted(got.values()) == sorted(bodies[e] for e in expected.values() if e in bodies)
    # Named by the work the reference matched, not by the reference's text.
    assert os.path.basename(lines[TABLE[0][0]]["path"]).startswith(
        "Vaswani_2017_Attention_is_All_you_Need_")
    # Every reference was asked once of each matcher, and the matched ones without an open
    # PDF went on by their DOIs to the batch sources, in batches (not one call a paper).
    assert fake.calls["crossref", "search"] == 30 and fake.calls["openalex", "search"] == 30
    closed = [e for _, e in PASTED if e not in (AMBIGUOUS, NOT_FOUND) and e not in bodies]
    s2 = fake.calls["semantic_scholar", "list"] + fake.calls["semantic_scholar", "single"]
    assert 0 < s2 < len(closed)
    assert "ambiguous: " in r.stderr  # the summary says why, for the person at the terminal


def test_the_state_keeps_each_answer_and_a_rerun_asks_nothing_again(fake, cfg, papers,
                                                                   tmp_path):
    bodies = the_world(fake)
    out = tmp_path / "pdfs"
    picked = [TABLE[0], TABLE[1], TABLE[35], TABLE[39]]  # open, closed, ambiguous, unknown
    text = "\n".join(q for q, _ in picked) + "\n"
    path = cfg()
    first = papers("download", "-c", path, "-o", str(out), input=text, fast=False)
    assert first.code == 1, first.stderr
    assert list(pdfs_in(out).values()) == [bodies[TABLE[0][1]]]
    recs = {r["id"]: r for r in read_state(out / ".papers-state.json").values()}
    assert recs[TABLE[0][0]]["status"] == "downloaded"
    assert recs[TABLE[0][0]]["match"]["doi"] == TABLE[0][1]
    assert recs[TABLE[35][0]]["match"]["status"] == "ambiguous"
    assert recs[TABLE[35][0]]["permanent"] is True
    assert recs[TABLE[39][0]]["match"]["status"] == "not_found"
    asked = fake.calls["crossref", "search"]
    again = papers("download", "-c", path, "-o", str(out), "--json", input=text, fast=False)
    assert fake.calls["crossref", "search"] == asked  # the answers stand: nothing re-asked
    lines = {line["id"]: line for line in again.lines}
    assert lines[TABLE[0][0]]["status"] == "skipped"
    assert lines[TABLE[0][0]]["match"]["doi"] == TABLE[0][1]
    assert lines[TABLE[35][0]]["status"] == "ambiguous"
    assert "--retry-failed" in lines[TABLE[35][0]]["error"]


def test_junk_lines_still_fail_as_junk_and_titles_without_ids_are_matched(fake, cfg, papers,
                                                                         tmp_path):
    the_world(fake)
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{v17, author = {Vaswani, Ashish and Shazeer, Noam}, title = "
                   "{Attention is All you Need}, year = {2017}}\n"
                   "@article{bad, title = {Deep learning}, doi = {not-a-doi}}\n")
    out = tmp_path / "pdfs"
    r = papers("download", "-c", cfg(), "-o", str(out), "--json", "-i", str(bib), "qq",
               fast=False)
    lines = r.lines
    matched = next(x for x in lines if x.get("doi") == "10.5555/3295222.3295349")
    assert matched["status"] == "downloaded" and matched["match"]["source"] in ("crossref",
                                                                                "openalex")
    bad = next(x for x in lines if "not-a-doi" in (x["error"] or ""))
    assert bad["status"] == "failed" and "match" not in bad  # a malformed DOI is not guessed at
    junk = next(x for x in lines if x["id"] == "qq")
    assert junk["status"] == "failed" and "not a URL or a known identifier" in junk["error"]
    assert fake.calls["crossref", "search"] == 1


def test_with_both_matchers_disabled_a_reference_says_so(fake, cfg, papers, tmp_path):
    the_world(fake)
    path = cfg(extra="sources:\n  crossref: {enabled: false}\n  openalex: {enabled: false}\n")
    r = papers("download", "-c", path, "-o", str(tmp_path / "o"), "--json",
               input=TABLE[0][0] + "\n", fast=False)
    assert r.code == 1
    assert "crossref or openalex, and both are disabled" in r.lines[0]["error"]
    assert not fake.calls["crossref", "search"]


def test_a_dry_run_says_it_would_match(fake, cfg, papers, tmp_path):
    the_world(fake)
    r = papers("download", "-c", cfg(), "-o", str(tmp_path / "o"), "--dry-run", "--json",
               input=TABLE[0][0] + "\n", fast=False)
    assert r.code == 0, r.stderr
    assert r.lines[0]["status"] == "would_match"
    assert not fake.calls  # a dry run asks nobody


def test_consolidate_matches_references_inline(fake, cfg, papers):
    the_world(fake)
    picked = [TABLE[0], TABLE[12], TABLE[35], TABLE[39]]
    text = "\n".join(q for q, _ in picked) + "\nqq\n"
    r = papers("consolidate", "-c", cfg(), input=text, fast=False)
    assert r.code == 1, r.stderr
    recs = {rec["id"]: rec for rec in r.lines}
    assert recs[TABLE[0][0]]["doi"] == TABLE[0][1] and recs[TABLE[0][0]]["pdf_urls"]
    assert recs[TABLE[0][0]]["match"]["status"] == "matched"
    assert recs[TABLE[12][0]]["doi"] == TABLE[12][1]
    # The matched works were asked of the other sources too, by their DOIs.
    assert recs[TABLE[0][0]]["sources"].get("semantic_scholar") in ("found", "not found")
    amb = recs[TABLE[35][0]]
    assert amb["status"] == "ambiguous" and len(amb["match"]["candidates"]) >= 2
    assert recs[TABLE[39][0]]["status"] == "not_found"
    assert recs["qq"]["status"] == "failed"
    assert "3 failed" in r.stderr, r.stderr


def test_ctrl_c_while_a_reference_waits_on_crossref_exits_130_and_asks_again_next_run(
        fake, cfg, env, papers, tmp_path):
    import time

    from conftest import interrupt, start_download, wait_for

    bodies = the_world(fake)
    fake.slow["crossref"] = 60
    out = tmp_path / "pdfs"
    path = cfg()
    proc = start_download(env, path, out, [TABLE[0][0]], "--timeout", "30")
    assert wait_for(lambda: fake.calls["crossref", "search"] >= 1)
    time.sleep(0.3)  # the query is out and waiting
    code, err, took = interrupt(proc)
    assert code == 130, err
    assert took < 2.0 and "interrupted" in err and "Traceback" not in err
    fake.slow.clear()
    r = papers("download", "-c", path, "-o", str(out), TABLE[0][0], fast=False)
    assert r.code == 0, r.stderr  # nothing was recorded as an answer: matched this time
    assert list(pdfs_in(out).values()) == [bodies[TABLE[0][1]]]
