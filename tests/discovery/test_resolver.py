"""Pure parts of resolution: ranking, URL identity, merging (table-driven)."""

import pytest

from papers.inputs.records import paper_from_record, paper_from_text
from papers.discovery.resolver import merge, order_candidates, rank, url_identity
from papers.discovery.sources.base import Candidate, Found, Ids


@pytest.mark.parametrize("cand, key", [
    (Candidate("https://x.org/a.pdf", "input"), (0, 0, 0)),
    (Candidate("https://pub.com/vor.pdf", "openalex", host_type="publisher",
               version="publishedVersion", license="cc-by"), (1, 0, 4)),
    (Candidate("https://repo.uni.edu/vor.pdf", "unpaywall", host_type="repository",
               version="publishedVersion", license="cc-by"), (1, 0, 3)),
    (Candidate("https://pub.com/closed.pdf", "openalex", version="publishedVersion"), (1, 2, 4)),
    (Candidate("https://repo.uni.edu/am.pdf", "openalex", host_type="repository",
               version="acceptedVersion"), (1, 1, 3)),
    (Candidate("https://europepmc.org/articles/PMC1?pdf=render", "europepmc"), (1, 2, 2)),
    (Candidate("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1/pdf/x.pdf", "openalex"), (1, 2, 2)),
    (Candidate("https://publisher.com/1.pdf", "unpaywall", host_type="publisher"), (1, 2, 4)),
    (Candidate("https://arxiv.org/pdf/2101.00001", "arxiv", version="submittedVersion"), (1, 3, 1)),
    (Candidate("https://arxiv.org/pdf/2101.00001", "openalex"), (1, 2, 1)),
    (Candidate("https://publisher.com/1.pdf", "crossref", version="publishedVersion",
               license="cc-by"), (1, 4, 4)),
])
def test_rank_classes(cand, key):
    assert rank(cand)[:3] == key


def test_the_open_version_of_record_beats_its_preprint_and_the_repository_is_the_fallback():
    springer = Candidate("https://link.springer.com/content/pdf/10.1007/x.pdf", "openalex",
                         host_type="publisher", version="publishedVersion", license="cc-by")
    preprint = Candidate("https://arxiv.org/pdf/2101.00001", "arxiv", version="submittedVersion")
    deposit = Candidate("https://repo.uni.edu/x.pdf", "openalex", host_type="repository",
                        version="publishedVersion", license="cc-by")
    assert order_candidates([preprint, springer]) == [springer, preprint]
    assert order_candidates([preprint, springer, deposit]) == [deposit, springer, preprint]


@pytest.mark.parametrize("a, b, same", [
    ("https://arxiv.org/pdf/2101.00001v2", "http://arxiv.org/abs/2101.00001", True),
    ("https://arxiv.org/pdf/hep-th/9901001", "https://export.arxiv.org/pdf/hep-th/9901001v1.pdf", True),
    ("http://Example.org/a.pdf", "https://example.org/a.pdf", True),
    ("https://example.org/a.pdf", "https://example.org/A.pdf", False),
    ("https://example.org/a?x=1", "https://example.org/a?x=2", False),
])
def test_url_identity(a, b, same):
    assert (url_identity(a) == url_identity(b)) is same


def test_order_candidates_dedups_keeping_the_best():
    cands = [Candidate("https://pub.com/x.pdf", "crossref"), Candidate("https://pub.com/x.pdf", "unpaywall"),
             Candidate("http://arxiv.org/pdf/2101.00001v1", "openalex"),
             Candidate("https://arxiv.org/pdf/2101.00001", "arxiv")]
    out = order_candidates(cands)
    assert [(c.url, c.source) for c in out] == [("https://arxiv.org/pdf/2101.00001", "arxiv"),
                                                ("https://pub.com/x.pdf", "unpaywall")]


def test_merge_prefers_input_then_crossref_metadata():
    paper = paper_from_record({"doi": "10.1000/m", "year": 1999, "note": "kept"})
    cr = Found("crossref", title="Crossref Title", authors=("A B",), year=2001)
    oa = Found("openalex", title="OpenAlex Title", year=2002, is_oa=True, oa_status="gold")
    oa.add("https://pub.com/m.pdf", host_type="publisher", license="cc-by")
    rec = merge(paper, Ids(doi="10.1000/m"), {"openalex": oa, "crossref": cr},
                {"openalex": "found", "crossref": "found"})
    assert rec["title"] == "Crossref Title" and rec["year"] == 1999 and rec["authors"] == ["A B"]
    assert rec["is_oa"] is True and rec["oa_status"] == "gold" and rec["license"] == "cc-by"
    assert rec["pdf_urls"] == ["https://pub.com/m.pdf"] and rec["status"] == "found"
    assert rec["note"] == "kept"


@pytest.mark.parametrize("status, expected_status, reason_part", [
    ({"openalex": "not found", "unpaywall": "skipped: Unpaywall needs `email` in the config"},
     "not_found", "no open-access PDF found (asked: openalex); unpaywall skipped"),
    ({"openalex": "error: HTTP 503 (after 4 attempts)", "crossref": "not found"},
     "failed", "no PDF found yet; openalex error: HTTP 503"),
    ({}, "not_found", "asked: no source could be asked"),
])
def test_merge_reasons(status, expected_status, reason_part):
    rec = merge(paper_from_text("10.1000/r"), Ids(doi="10.1000/r"), {}, status)
    assert rec["status"] == expected_status
    assert reason_part in rec["reason"]
    assert rec["complete"] is (expected_status != "failed")
