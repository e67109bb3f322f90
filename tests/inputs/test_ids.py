import pytest

from papers.inputs.ids import classify
from papers.inputs.records import canonical_url, paper_from_record, paper_from_text


@pytest.mark.parametrize("text, kind, value", [
    ("https://example.org/paper.pdf", "url", "https://example.org/paper.pdf"),
    ("https://arxiv.org/pdf/1706.03762", "arxiv", "1706.03762"),
    ("https://arxiv.org/abs/1706.03762v5", "arxiv", "1706.03762v5"),
    ("http://export.arxiv.org/abs/hep-th/9901001", "arxiv", "hep-th/9901001"),
    ("https://arxiv.org/pdf/2101.00001v2.pdf", "arxiv", "2101.00001v2"),
    ("https://pubmed.ncbi.nlm.nih.gov/31452104/", "pmid", "31452104"),
    ("https://www.ncbi.nlm.nih.gov/pubmed/31452104", "pmid", "31452104"),
    ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC6710235/", "pmcid", "PMC6710235"),
    ("https://pmc.ncbi.nlm.nih.gov/articles/pmc6710235", "pmcid", "PMC6710235"),
    ("https://europepmc.org/article/PMC/PMC6710235", "pmcid", "PMC6710235"),
    ("info:doi/10.1234/ABC", "doi", "10.1234/abc"),
    ("https://doi.org/10.1234/abc.", "doi", "10.1234/abc"),
    ("(see doi:10.1234/abc)", None, None),
    ("https://doi.org/10.1002%2F%28SICI%291097-4636%28199706%2935%3A4%3C467%3A%3AAID-JBM7%3E3.0.CO%3B2-H",
     "doi", "10.1002/(sici)1097-4636(199706)35:4<467::aid-jbm7>3.0.co;2-h"),
    ("10.1002/(SICI)1097-4636(199706)35:4<467::AID-JBM7>3.0.CO;2-H", "doi",
     "10.1002/(sici)1097-4636(199706)35:4<467::aid-jbm7>3.0.co;2-h"),
    ("10.1000/xyz(123)", "doi", "10.1000/xyz(123)"),
    ("10.1000/xyz123)", "doi", "10.1000/xyz123"),
    ("10.1234/ABC", "doi", "10.1234/abc"),
    ("doi:10.1234/abc", "doi", "10.1234/abc"),
    ("https://doi.org/10.1234/ABC", "doi", "10.1234/abc"),
    ("http://dx.doi.org/10.1234/abc", "doi", "10.1234/abc"),
    ("arXiv:2101.00001v2", "arxiv", "2101.00001v2"),
    ("2101.00001", "arxiv", "2101.00001"),
    ("hep-th/9901001", "arxiv", "hep-th/9901001"),
    ("math.CA/0611800", "arxiv", "math/0611800"),
    ("arXiv:math/0611800v2", "arxiv", "math/0611800v2"),
    ("PMID:0123", None, None),
    ("PMID:123456", "pmid", "123456"),
    ("PMC98765", "pmcid", "PMC98765"),
    ("pmcid:pmc98765", "pmcid", "PMC98765"),
])
def test_classify(text, kind, value):
    if kind is None:
        assert classify(text) is None
    else:
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


def test_two_spellings_of_arxiv_and_pubmed_are_one_paper():
    assert paper_from_text("https://arxiv.org/abs/1706.03762").key == paper_from_text("arXiv:1706.03762").key
    assert paper_from_text("math.CA/0611800").key == paper_from_record({"arxiv": "math/0611800"}).key
    assert paper_from_text("https://pubmed.ncbi.nlm.nih.gov/123/").key == paper_from_text("PMID:123").key


@pytest.mark.parametrize("kind, value, expected", [
    ("doi", "https://doi.org/10.1000/ABC", "10.1000/abc"),
    ("doi", "10.1/x", None),
    ("arxiv", "arXiv:2101.00001V2", "2101.00001v2"),
    ("arxiv", "nonsense", None),
    ("pmcid", "12345", "PMC12345"),
    ("pmcid", "PMCx", None),
    ("pmid", "PMID: 42", "42"),
    ("pmid", "0042", None),
])
def test_normalise(kind, value, expected):
    from papers.inputs.ids import normalise

    assert normalise(kind, value) == expected


def test_quote_doi_for_urls():
    from papers.inputs.ids import quote_doi

    assert quote_doi("10.1002/(sici)1097-4636(199706)35:4<467::aid-jbm7>3.0.co;2-h") == \
        "10.1002/(sici)1097-4636(199706)35%3A4%3C467%3A%3Aaid-jbm7%3E3.0.co%3B2-h"
    assert quote_doi("10.1000/a#b?c d") == "10.1000/a%23b%3Fc%20d"


def test_invalid_identifier_in_a_record_is_a_clear_problem():
    p = paper_from_record({"doi": "10.1/x"})
    assert p.problem == "record has no id, identifier or URL: doi '10.1/x' is not a valid DOI"


@pytest.mark.parametrize("url, pdf", [
    ("https://arxiv.org/pdf/1706.03762", "https://arxiv.org/pdf/1706.03762"),
    ("https://arxiv.org/abs/1706.03762v5", "https://arxiv.org/pdf/1706.03762v5"),
])
def test_arxiv_urls_are_fetched_directly_but_keyed_by_id(url, pdf):
    p = paper_from_text(url)
    assert p.key == "arxiv:" + p.arxiv and p.urls == (pdf,) and p.id == url


@pytest.mark.parametrize("text, key", [
    # the fast path: canonical plain URLs are their own key
    ("http://127.0.0.1:9/papers/1.pdf", "url:http://127.0.0.1:9/papers/1.pdf"),
    ("https://example.org/a/B.pdf?x", "url:https://example.org/a/B.pdf?x"),
    ("  https://example.org/a.pdf \n", "url:https://example.org/a.pdf"),
    # everything unusual goes the full way and must land on the same answer
    ("https://Example.org/a.pdf", "url:https://example.org/a.pdf"),
    ("HTTPS://example.org/a.pdf", "url:https://example.org/a.pdf"),
    ("https://example.org", "url:https://example.org/"),
    ("https://example.org?q", "url:https://example.org/?q"),
    ("https://example.org/a.pdf#page=2", "url:https://example.org/a.pdf"),
    ("https://example.org/get?id=7", "url:https://example.org/get?id=7"),
    ("https://doi.org/10.1234/ABC", "doi:10.1234/abc"),
    ("https://dx.doi.org/10.1234/abc", "doi:10.1234/abc"),
    ("https://arxiv.org/abs/1706.03762", "arxiv:1706.03762"),
    ("https://export.arxiv.org/pdf/1706.03762v2", "arxiv:1706.03762v2"),
    ("https://pubmed.ncbi.nlm.nih.gov/123/", "pmid:123"),
    ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC42/", "pmcid:PMC42"),
])
def test_url_keys_fast_and_full_path_agree(text, key):
    p = paper_from_text(text)
    assert p.key == key
    if key.startswith("url:"):
        assert p.urls == (text.strip(),) and p.id == text.strip()


def test_url_key_hides_secrets_on_every_path():
    for url in ("https://example.org/a.pdf?api_key=SECRET", "https://Example.org/a.pdf?token=SECRET"):
        key = paper_from_text(url).key
        assert "SECRET" not in key and "#sha256:" in key


@pytest.mark.parametrize("text, kind", [
    ("10.1234/ABC.5678", "doi"), ("doi:10.1000/xyz", "doi"), ("arXiv:2101.00001v2", "arxiv"),
    ("math.CA/0611800", "arxiv"), ("PMID:123456", "pmid"), ("PMC123456", "pmcid"),
    ("https://doi.org/10.1234/abc", "doi"), ("https://pubmed.ncbi.nlm.nih.gov/42/", "pmid"),
])
def test_identifier_fast_path_builds_what_paper_from_record_builds(text, kind):
    from papers.inputs.ids import classify

    fast = paper_from_text(text)
    full = paper_from_record({kind: classify(text).value})
    for name in ("key", "id", "urls", "doi", "arxiv", "pmid", "pmcid", "title", "authors", "year",
                 "extra", "problem"):
        assert getattr(fast, name) == getattr(full, name), name
    assert getattr(fast, kind)
