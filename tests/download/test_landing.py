"""Landing pages: which link is the PDF (pure, table-driven)."""

import pytest

from papers.download.landing import pdf_link

PAGE = "https://pub.example/article/10.1/x?from=doi"


@pytest.mark.parametrize("html, expected", [
    # citation_pdf_url wins over everything else, wherever it stands
    ('<iframe src="/frame.pdf"></iframe><meta name="citation_pdf_url" content="https://cdn.example/x.pdf">',
     "https://cdn.example/x.pdf"),
    ('<META NAME="Citation_PDF_URL" CONTENT="/content/x.pdf">', "https://pub.example/content/x.pdf"),
    # citation_pdf_url as a property (Open Graph style), then the platforms' own tags
    ('<meta property="citation_pdf_url" content="/og.pdf">', "https://pub.example/og.pdf"),
    ('<meta name="bepress_citation_pdf_url" content="https://works.example.edu/cgi/'
     'viewcontent.cgi?article=1001&amp;context=facpub"><link rel="alternate" '
     'type="application/pdf" href="/alt.pdf">',
     "https://works.example.edu/cgi/viewcontent.cgi?article=1001&context=facpub"),
    ('<meta name="wkhealth_pdf_url" content="https://journals.lww.com/x/Fulltext/2020/01000/'
     'a.pdf">', "https://journals.lww.com/x/Fulltext/2020/01000/a.pdf"),
    ('<meta name="eprints.document_url" content="https://eprints.example.ac.uk/1/1/paper.pdf">',
     "https://eprints.example.ac.uk/1/1/paper.pdf"),
    ('<meta name="wkhealth_pdf_url" content="/w.pdf"><meta name="citation_pdf_url" '
     'content="/c.pdf">', "https://pub.example/c.pdf"),    # citation_pdf_url still first
    # a link to the DOI resolver leads back to this page: no link
    ('<meta name="citation_pdf_url" content="https://doi.org/10.1/x">', None),
    ('<meta name="citation_pdf_url" content="https://doi.org/10.1/x">'
     '<link rel="alternate" type="application/pdf" href="/real.pdf">',
     "https://pub.example/real.pdf"),
    # last, a link that says it is the PDF (OJS's galley, show-pdf, title=PDF) ...
    ('<a class="obj_galley_link pdf" href="/index.php/j/article/view/12/34">PDF</a>',
     "https://pub.example/index.php/j/article/view/12/34"),
    ('<a class="btn show-pdf" href="/doi/pdf/10.1/x">View PDF</a>', "https://pub.example/doi/pdf/10.1/x"),
    ('<a title="PDF" href="/content/x.pdf">Download</a>', "https://pub.example/content/x.pdf"),
    ('<a class="obj_galley_link file" href="/x/data.csv">Data</a>', None),  # a galley, not the PDF
    # ... never inside the references or related articles, never a supplement or a preview
    ('<section id="references"><ol><li><a title="PDF" href="/other.pdf">PDF</a></li></ol>'
     '</section>', None),
    ('<div class="related-articles"><a class="show-pdf" href="/rel.pdf">PDF</a></div>'
     '<a title="PDF" href="/mine.pdf">PDF</a>', "https://pub.example/mine.pdf"),
    ('<a title="PDF" href="/x/suppl/S1_data.pdf">PDF</a>', None),
    ('<iframe src="/content/issue_TOC.pdf"></iframe>', None),
    ('<embed src="/preview/firstpage.pdf" type="application/pdf">', None),
    # a declared citation_pdf_url in a supplement issue is the paper
    ('<meta name="citation_pdf_url" content="/content/105/suppl_1/S1.full.pdf">',
     "https://pub.example/content/105/suppl_1/S1.full.pdf"),
    # then <link rel="alternate" type="application/pdf">
    ('<link rel="alternate" type="application/pdf" href="x.full.pdf">'
     '<meta http-equiv="refresh" content="0; url=/elsewhere">', "https://pub.example/article/10.1/x.full.pdf"),
    ('<link rel="canonical alternate" type="application/pdf; charset=binary" href="../p.pdf">',
     "https://pub.example/article/p.pdf"),
    ('<link rel="alternate" type="application/rss+xml" href="/feed">', None),
    # then a meta refresh to a URL (ScienceDirect), quoted or not
    ('<meta http-equiv="Refresh" content="2; URL=\'/pii/S1/pdfft?md5=a&pid=1.pdf\'">',
     "https://pub.example/pii/S1/pdfft?md5=a&pid=1.pdf"),
    ('<meta http-equiv="refresh" content="5">', None),
    # then an iframe, embed or object whose source looks like a PDF (IEEE stamp.jsp)
    ('<iframe src="https://ieee.example/stampPDF/getPDF.jsp?tp=&arnumber=1"></iframe>',
     "https://ieee.example/stampPDF/getPDF.jsp?tp=&arnumber=1"),
    ('<embed src="/view?id=3" type="application/pdf">', "https://pub.example/view?id=3"),
    ('<object data="//cdn.example/a.pdf"></object>', "https://cdn.example/a.pdf"),
    ('<iframe src="https://ads.example/banner.html"></iframe>', None),
    # entities are decoded; a link back to the page itself or to another scheme is no link
    ('<meta name="citation_pdf_url" content="/x.pdf?a=1&amp;b=2">', "https://pub.example/x.pdf?a=1&b=2"),
    (f'<meta name="citation_pdf_url" content="{PAGE}">', None),
    ('<meta name="citation_pdf_url" content="javascript:void(0)">', None),
    # a login page has none of them
    ("<html><form action=/login><input name=user></form></html>", None),
    ("<html><body><p>unclosed <b>tags <meta name=citation_pdf_url content=/late.pdf>",
     "https://pub.example/late.pdf"),
])
def test_pdf_link(html, expected):
    assert pdf_link(html.encode(), PAGE) == expected


def test_the_page_charset_is_used():
    html = '<meta name="citation_pdf_url" content="/caf\u00e9.pdf">'.encode("latin-1")
    assert pdf_link(html, PAGE, "latin-1") == "https://pub.example/caf\u00e9.pdf"


SCIENCEDIRECT_JSON = (
    '<script type="application/json" data-iso-key="_0">{"article":{"pii":"S0140673620301835",'
    '"pdfDownload":{"isPdfFullText":true,"urlMetadata":{"queryParams":{"md5":"3f1a9c",'
    '"pid":"1-s2.0-S0140673620301835-main.pdf"},"pii":"S0140673620301835",'
    '"pdfExtension":"/pdfft","path":"science/article/pii"}}}}</script>')


@pytest.mark.parametrize("html, page, expected", [
    # ScienceDirect's article page: the PDF in its JSON, the signed query as given.
    (SCIENCEDIRECT_JSON, "https://www.sciencedirect.com/science/article/pii/S0140673620301835",
     "https://www.sciencedirect.com/science/article/pii/S0140673620301835/pdfft?md5=3f1a9c&"
     "pid=1-s2.0-S0140673620301835-main.pdf"),
    ('<script type="application/json">{"x":[{"pdfDownload":{"linkToPdf":"/pdfft/x.pdf"}}]}'
     '</script>', "https://www.sciencedirect.com/a", "https://www.sciencedirect.com/pdfft/x.pdf"),
    ('<script type="application/json">{not json</script>', "https://www.sciencedirect.com/a", None),
    ('<script type="application/json">{"pdfDownload":{"urlMetadata":{}}}</script>',
     "https://www.sciencedirect.com/a", None),
    # Elsevier's linkinghub: the article's page, percent-encoded in a hidden input.
    ('<form><input type="hidden" name="redirectURL" value="https%3A%2F%2Fwww.sciencedirect.com'
     '%2Fscience%2Farticle%2Fpii%2FS0140673620301835%3Fvia%253Dihub" id="redirectURL"/></form>',
     "https://linkinghub.elsevier.com/retrieve/pii/S0140673620301835",
     "https://www.sciencedirect.com/science/article/pii/S0140673620301835?via%3Dihub"),
    # A declared citation_pdf_url still comes first.
    ('<meta name="citation_pdf_url" content="/c.pdf">' + SCIENCEDIRECT_JSON,
     "https://www.sciencedirect.com/a", "https://www.sciencedirect.com/c.pdf"),
])
def test_elsevier_pages(html, page, expected):
    assert pdf_link(html.encode(), page) == expected
