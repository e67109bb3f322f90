import pytest

from papers.ids import classify
from papers.models import canonical_url, paper_from_record, paper_from_text


@pytest.mark.parametrize("text, kind, value", [
    ("https://arxiv.org/pdf/1706.03762", "url", "https://arxiv.org/pdf/1706.03762"),
    ("10.1234/ABC", "doi", "10.1234/abc"),
    ("doi:10.1234/abc", "doi", "10.1234/abc"),
    ("https://doi.org/10.1234/ABC", "doi", "10.1234/abc"),
    ("http://dx.doi.org/10.1234/abc", "doi", "10.1234/abc"),
    ("arXiv:2101.00001v2", "arxiv", "2101.00001v2"),
    ("2101.00001", "arxiv", "2101.00001"),
    ("hep-th/9901001", "arxiv", "hep-th/9901001"),
    ("math.CA/0611800", "arxiv", "math.ca/0611800"),
    ("PMID:123456", "pmid", "123456"),
    ("PMC98765", "pmcid", "PMC98765"),
    ("pmcid:pmc98765", "pmcid", "PMC98765"),
])
def test_classify(text, kind, value):
    assert classify(text) == (kind, value)


@pytest.mark.parametrize("text", ["", "hello", "10.12/x", "ftp://x/y", "12345"])
def test_classify_junk(text):
    assert classify(text) is None


def test_two_spellings_of_a_doi_are_one_paper():
    a = paper_from_text("10.1234/ABC")
    b = paper_from_text("https://doi.org/10.1234/abc")
    c = paper_from_record({"doi": "DOI:10.1234/Abc", "title": "t"})
    assert a.key == b.key == c.key == "doi:10.1234/abc"


def test_url_key_ignores_host_case_only():
    assert canonical_url("HTTP://Example.ORG/A.pdf") == "http://example.org/A.pdf"
    assert paper_from_text("http://EXAMPLE.org/a.pdf").key == paper_from_text("http://example.org/a.pdf").key
    assert paper_from_text("http://example.org/A.pdf").key != paper_from_text("http://example.org/a.pdf").key


def test_record_fields():
    p = paper_from_record({"id": "p1", "pdf_urls": ["u1", "u2"], "pdf_url": "u2", "url": "u3",
                           "title": " T ", "authors": [{"given": "A", "family": "B"}, "C D"],
                           "year": "2020-01-01", "custom": {"x": 1}})
    assert p.urls == ("u1", "u2", "u3")
    assert p.id == "p1" and p.key == "id:p1"
    assert p.title == "T"
    assert p.authors == ("A B", "C D")
    assert p.year == 2020
    assert p.extra == {"custom": {"x": 1}}


def test_junk_record_is_a_problem_not_a_crash():
    p = paper_from_record({"title": "only a title"})
    assert p.problem == "record has no id, identifier or URL"
    assert paper_from_text("not-a-paper").problem.startswith("not a URL or a known identifier")
