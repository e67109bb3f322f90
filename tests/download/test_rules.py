"""Publisher URL rules (download/rules.py): a table of URLs as the platforms write them."""

import pytest

from papers.download import rules

W = "https://onlinelibrary.wiley.com"


@pytest.mark.parametrize("rule, url, expected", [
    (rules.wiley, f"{W}/doi/pdf/10.1002/anie.201915678", f"{W}/doi/pdfdirect/10.1002/anie.201915678"),
    (rules.wiley, f"{W}/doi/epdf/10.1111/j.1365-2656.2010.01738.x",
     f"{W}/doi/pdfdirect/10.1111/j.1365-2656.2010.01738.x"),
    (rules.wiley, f"{W}/doi/abs/10.1002/x.1?af=R", f"{W}/doi/pdfdirect/10.1002/x.1"),
    (rules.wiley, "https://besjournals.onlinelibrary.wiley.com/doi/full/10.1111/1365-2745.13",
     "https://besjournals.onlinelibrary.wiley.com/doi/pdfdirect/10.1111/1365-2745.13"),
    (rules.wiley, f"{W}/doi/pdfdirect/10.1002/x.1", None),           # already the PDF
    (rules.wiley, "https://www.tandfonline.com/doi/pdf/10.1080/x", None),  # not Wiley
    (rules.wiley, "https://notwiley.com.evil.example/doi/pdf/10.1002/x", None),
    (rules.epdf, "https://www.tandfonline.com/doi/epdf/10.1080/00207543.2020.1",
     "https://www.tandfonline.com/doi/pdf/10.1080/00207543.2020.1"),
    (rules.epdf, "https://pubs.acs.org/doi/reader/10.1021/acs.jpcb.0c1", "https://pubs.acs.org/doi/pdf/10.1021/acs.jpcb.0c1"),
    (rules.epdf, "https://www.tandfonline.com/doi/full/10.1080/x", None),
    (rules.atypon, "https://journals.sagepub.com/doi/abs/10.1177/0956797620", "https://journals.sagepub.com/doi/pdf/10.1177/0956797620"),
    (rules.atypon, "https://www.tandfonline.com/doi/full/10.1080/x.2020.1", "https://www.tandfonline.com/doi/pdf/10.1080/x.2020.1"),
    (rules.atypon, "https://pubs.aip.org/doi/fullHtml/10.1063/5.0001", "https://pubs.aip.org/doi/pdf/10.1063/5.0001"),
    (rules.atypon, "https://example.org/article/abs/10.1/x", None),   # not a /doi/ path
    (rules.osf, "https://osf.io/preprints/socarxiv/abc12", "https://osf.io/abc12/download"),
    (rules.osf, "https://osf.io/abc12/", "https://osf.io/abc12/download"),
    (rules.osf, "https://osf.io/abc12/download", None),
    (rules.osf, "https://example.org/abc12", None),
    (rules.ieee, "https://ieeexplore.ieee.org/stamp/stamp.jsp?tp=&arnumber=8578843",
     "https://ieeexplore.ieee.org/stampPDF/getPDF.jsp?tp=&arnumber=8578843&ref="),
    (rules.ieee, "https://ieeexplore.ieee.org/stamp/stamp.jsp?tp=&arnumber=x", None),
    (rules.ieee, "https://ieeexplore.ieee.org/document/8578843", None),
])
def test_rule(rule, url, expected):
    assert rule(url) == expected


def test_direct_changes_only_reader_pages_and_fallback_knows_abstract_pages():
    assert rules.direct(f"{W}/doi/pdf/10.1002/x") == f"{W}/doi/pdfdirect/10.1002/x"
    assert rules.direct("https://journals.sagepub.com/doi/pdf/10.1177/x") == \
        "https://journals.sagepub.com/doi/pdf/10.1177/x"
    # An abstract page's own link is followed as given; only a page with none is rewritten.
    assert rules.direct("https://journals.sagepub.com/doi/abs/10.1177/x") == \
        "https://journals.sagepub.com/doi/abs/10.1177/x"
    assert rules.fallback("https://journals.sagepub.com/doi/abs/10.1177/x") == \
        "https://journals.sagepub.com/doi/pdf/10.1177/x"
    assert rules.fallback("https://example.org/paper/1") is None
