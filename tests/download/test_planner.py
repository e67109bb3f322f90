"""The planner, table-driven: each paper is done, reported without a request, or fetched."""

import os

import pytest

from papers.model import Status
from papers.inputs.records import paper_from_record, paper_from_text
from papers.disk.naming import path_for
from papers.download.planner import UNMATCHABLE, UNRESOLVED, Done, Fetch, Planner, Report
from papers.state.records import PaperRecord

URL = "http://h.test/a.pdf"


def make(tmp_path, priors=None, on_disk=None, **kw):
    out = os.path.realpath(tmp_path)
    return out, Planner(out, priors or {}, on_disk, **kw)


def test_duplicate_spellings_are_planned_once(tmp_path):
    _, planner = make(tmp_path)
    assert isinstance(planner.decide(paper_from_text("10.1234/ABC")), Report | Fetch)
    assert planner.decide(paper_from_text("https://doi.org/10.1234/abc")) is None


def test_a_paper_in_the_state_is_planned_once_and_the_state_left_alone(tmp_path):
    paper = paper_from_text("10.1234/abc")
    priors = {paper.key: PaperRecord(id=paper.id, status="failed", error="HTTP 503")}
    _, planner = make(tmp_path, priors)
    assert isinstance(planner.decide(paper), Fetch)
    assert planner.decide(paper_from_text("doi:10.1234/ABC")) is None
    assert priors[paper.key].status == "failed"  # the planner marks its own copy


@pytest.mark.parametrize("case, prior, listed, expect, detail", [
    ("new paper", None, set(), Fetch, (False, False)),
    ("a .part is there", None, {"PART"}, Fetch, (False, True)),
    ("done, file listed", {"status": "downloaded", "path": "FINAL", "bytes": 9}, {"NAME"}, Done, None),
    ("done, file gone", {"status": "downloaded", "path": "FINAL", "bytes": 9}, set(), Fetch, (False, False)),
    ("failed permanently", {"status": "failed", "permanent": True, "error": "HTTP 404", "url": URL},
     set(), Report, "failed permanently before"),
    ("failed transiently", {"status": "failed", "permanent": False, "error": "HTTP 503"}, set(), Fetch,
     (False, False)),
])
def test_decisions(tmp_path, case, prior, listed, expect, detail):
    paper = paper_from_text(URL)
    out, _ = make(tmp_path)
    final = path_for(paper, out, resolved=True)
    name = os.path.basename(final)
    if prior and prior.get("path") == "FINAL":
        prior = {**prior, "path": final}
    prior = PaperRecord(id=paper.id, **prior) if prior else None
    on_disk = {{"NAME": name, "PART": name + ".part"}[x] for x in listed}
    _, planner = make(tmp_path, {paper.key: prior} if prior else {}, on_disk)
    got = planner.decide(paper)
    assert isinstance(got, expect), case
    if expect is Fetch:
        assert (got.path, got.host) == (final, "http://h.test:80")
        assert (got.final_may_exist, got.part_may_exist) == detail
    if expect is Report:
        assert got.outcome.status is Status.FAILED and detail in got.outcome.error


def test_retry_failed_fetches_a_permanent_failure(tmp_path):
    paper = paper_from_text(URL)
    prior = PaperRecord(id=paper.id, status="failed", permanent=True, error="HTTP 404")
    _, planner = make(tmp_path, {paper.key: prior}, set(), retry_failed=True)
    assert isinstance(planner.decide(paper), Fetch)


@pytest.mark.parametrize("text, can_resolve, resolver, expect", [
    ("10.1234/abc", False, None, Report),               # nothing can look it up
    ("10.1234/abc", False, "https://doi.org", Fetch),   # the DOI resolver is the last resort
    ("10.1234/abc", True, None, Fetch),                 # a worker looks it up
    ("arXiv:1706.03762", False, "https://doi.org", Report),  # no DOI, no source
])
def test_identifiers_without_urls(tmp_path, text, can_resolve, resolver, expect):
    _, planner = make(tmp_path, can_resolve=can_resolve, doi_resolver=resolver)
    got = planner.decide(paper_from_text(text))
    assert isinstance(got, expect)
    if expect is Report:
        assert got.outcome.error == UNRESOLVED.format(what=", ".join(paper_from_text(text).identifiers))


def test_a_record_with_a_problem_is_reported(tmp_path):
    _, planner = make(tmp_path)
    got = planner.decide(paper_from_record({"doi": "not a doi"}))
    assert isinstance(got, Report) and got.outcome.status is Status.FAILED and got.outcome.error


@pytest.mark.parametrize("given, can_match, expect, said", [
    ("Vaswani A. Attention is all you need. 2017.", True, Fetch, None),
    ("Deep learning", True, Fetch, None),                       # a bare title
    ({"title": "Deep learning", "year": 2015}, True, Fetch, None),  # a record with a title
    ("Vaswani A. Attention is all you need. 2017.", False, Report, UNMATCHABLE),
    ({"title": "Deep learning"}, False, Report, UNMATCHABLE),
    ("not-a-doi", True, Report, "not a URL or a known identifier"),  # junk stays junk
    ({"title": "Deep learning", "doi": "not a doi"}, True, Report, "is not a valid DOI"),
])
def test_references_and_titles_are_fetched_only_when_they_can_be_matched(tmp_path, given,
                                                                         can_match, expect, said):
    _, planner = make(tmp_path, can_match=can_match)
    paper = paper_from_text(given) if isinstance(given, str) else paper_from_record(given)
    got = planner.decide(paper)
    assert isinstance(got, expect)
    if said:
        assert said in got.outcome.error and not got.outcome.permanent


def test_a_reference_answered_before_comes_out_with_its_answer(tmp_path):
    paper = paper_from_text("Introduction. 2019.")
    about = {"status": "ambiguous", "query": "Introduction. 2019.", "candidates": []}
    prior = PaperRecord(id=paper.id, status="failed", permanent=True, error="ambiguous: x",
                        match=about)
    _, planner = make(tmp_path, {paper.key: prior}, set(), can_match=True)
    got = planner.decide(paper)
    assert isinstance(got, Report) and "--retry-failed" in got.outcome.error
    assert got.paper.extra["match"] == about


def test_unknown_listing_means_files_may_exist(tmp_path):
    _, planner = make(tmp_path, on_disk=None)
    got = planner.decide(paper_from_text(URL))
    assert isinstance(got, Fetch) and got.final_may_exist and got.part_may_exist
