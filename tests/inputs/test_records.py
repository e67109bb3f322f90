"""Which inputs are reference strings or titles: the text that `papers` matches."""

import pytest

from papers.inputs.records import REFERENCE, paper_from_record, paper_from_text, reference_text


@pytest.mark.parametrize("line, text", [
    ("Vaswani A, et al. Attention is all you need. NeurIPS 2017.",
     "Vaswani A, et al. Attention is all you need. NeurIPS 2017."),
    ("  Deep   learning  ", "Deep learning"),             # spaced once
    ("Introduction. 2019.", "Introduction. 2019."),         # one word, a year: a title still
    ("Über die Natur", "Über die Natur"),
    ("not-a-doi", None),                                    # one token: a botched identifier
    ("qq ww", None),                                        # too few letters to be a title
    ("10.1234/abc", None),                                  # an identifier
    ("https://example.org/a.pdf", None),                    # a URL
    ("1234 5678", None),
])
def test_a_text_line_is_a_reference_when_it_has_words(line, text):
    paper = paper_from_text(line)
    assert reference_text(paper) == text
    if text is not None:
        assert paper.key == REFERENCE + text and paper.problem  # junk to what cannot match


@pytest.mark.parametrize("record, text", [
    ({"title": "Deep learning", "authors": ["LeCun, Yann"], "year": 2015},
     "LeCun, Yann. Deep learning. 2015"),
    ({"id": "v17", "title": "Attention is all you need"}, "Attention is all you need."),
    ({"title": "Deep learning", "doi": "10.1038/nature14539"}, None),    # it has an identifier
    ({"title": "Deep learning", "url": "https://x.org/dl.pdf"}, None),   # it has a URL
    ({"title": "Deep learning", "doi": "not a doi"}, None),   # a malformed DOI: not guessed at
    ({"doi": "10.1038/nature14539"}, None),
])
def test_a_record_is_a_reference_when_it_has_a_title_and_no_identifier(record, text):
    assert reference_text(paper_from_record(record)) == text
