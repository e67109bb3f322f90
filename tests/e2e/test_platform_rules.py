"""Publisher rules end to end (download/rules.py, landing.py): a page per platform as it
serves it, under its real host name. The test server is the run's HTTP proxy, so that
papers asks for `http://onlinelibrary.wiley.com/...` and the server answers as Wiley."""

import pytest
from conftest import pdfs_in
from support.faultserver import Reply, make_pdf

SD = "http://www.sciencedirect.com/science/article/pii/S0140673620301835"
PDFFT = f"{SD}/pdfft?md5=3f1a9c&pid=1-s2.0-S0140673620301835-main.pdf"


def html(body: str) -> Reply:
    return Reply(body=f"<!DOCTYPE html><html><head>{body}</head><body>An article</body></html>"
                 .encode(), content_type="text/html; charset=utf-8")


@pytest.fixture
def platforms(server, env):
    env["http_proxy"] = env["HTTP_PROXY"] = server.url("")
    env["NO_PROXY"] = env["no_proxy"] = ""
    return server


def fetch(papers, tmp_path, *urls):
    r = papers("download", "-o", str(tmp_path / "o"), "--json", *urls)
    return r, {x["id"]: x for x in r.lines}


def test_wiley_reader_links_go_to_pdfdirect(platforms, papers, tmp_path):
    s, body = platforms, make_pdf(5000, 1)
    page = "http://onlinelibrary.wiley.com/doi/full/10.1002/anie.201915678"
    s.route(page, html('<meta name="citation_pdf_url" content="/doi/pdf/10.1002/anie.201915678">'))
    s.route("http://onlinelibrary.wiley.com/doi/pdfdirect/10.1002/anie.201915678", Reply(body=body))
    r, by = fetch(papers, tmp_path, page)
    assert r.code == 0, r.stderr
    assert by[page]["pdf_url"].endswith("/doi/pdfdirect/10.1002/anie.201915678")
    assert not s.hits("http://onlinelibrary.wiley.com/doi/pdf/10.1002/anie.201915678")  # the reader
    assert list(pdfs_in(tmp_path / "o").values()) == [body]


def test_pages_without_a_link_where_the_platform_keeps_the_pdf(platforms, papers, tmp_path):
    s = platforms
    cases = {  # a page with no PDF link (a JavaScript app) -> where its platform keeps it
        "http://www.tandfonline.com/doi/abs/10.1080/00207543.2020.1":
            "http://www.tandfonline.com/doi/pdf/10.1080/00207543.2020.1",
        "http://www.tandfonline.com/doi/epdf/10.1080/00207543.2020.2":
            "http://www.tandfonline.com/doi/pdf/10.1080/00207543.2020.2",
        "http://osf.io/preprints/socarxiv/abc12": "http://osf.io/abc12/download",
        "http://ieeexplore.ieee.org/stamp/stamp.jsp?tp=&arnumber=8578843":
            "http://ieeexplore.ieee.org/stampPDF/getPDF.jsp?tp=&arnumber=8578843&ref=",
    }
    bodies = {}
    for i, (page, pdf) in enumerate(cases.items()):
        s.route(page, html('<script src="/app.js"></script><noscript>Enable JavaScript</noscript>'))
        bodies[page] = make_pdf(4000, 10 + i)
        s.route(pdf, Reply(body=bodies[page]))
    r, by = fetch(papers, tmp_path, *cases)
    assert r.code == 0, r.stderr
    for page, pdf in cases.items():
        assert by[page]["pdf_url"] == pdf and by[page]["landing_page"] == page
    assert sorted(pdfs_in(tmp_path / "o").values()) == sorted(bodies.values())


def test_a_page_with_no_link_and_no_rule_still_fails_saying_so(platforms, papers, tmp_path):
    page = "http://journals.example.org/article/view/17"
    platforms.route(page, html("<title>Article</title>"))
    r, by = fetch(papers, tmp_path, page)
    assert r.code == 1 and "no link to a PDF" in by[page]["error"]


def test_linkinghub_to_sciencedirect_to_its_pdf_with_the_page_as_referer(platforms, papers, tmp_path):
    s, body = platforms, make_pdf(6000, 3)
    hub = "http://linkinghub.elsevier.com/retrieve/pii/S0140673620301835"
    s.route(hub, html('<form><input type="hidden" name="redirectURL" value="http%3A%2F%2Fwww.'
                      'sciencedirect.com%2Fscience%2Farticle%2Fpii%2FS0140673620301835%3Fvia'
                      '%253Dihub"/></form>'))
    article = f"{SD}?via%3Dihub"
    s.route(article, html(
        '<script type="application/json" data-iso-key="_0">{"article":{"pdfDownload":{'
        '"urlMetadata":{"queryParams":{"md5":"3f1a9c","pid":"1-s2.0-S0140673620301835-main.pdf"},'
        '"pii":"S0140673620301835","pdfExtension":"/pdfft","path":"science/article/pii"}}}}'
        '</script>'))

    def pdfft(h):  # ScienceDirect's PDF answers only a request from its article page
        if h.path != PDFFT:
            return None
        if h.headers.get("Referer") != article:
            return Reply(status=403, body=b"<html>Forbidden</html>", content_type="text/html")
        return Reply(body=body)

    s.fallback = pdfft
    r, by = fetch(papers, tmp_path, hub)
    assert r.code == 0, r.stderr
    assert by[hub]["pdf_url"] == PDFFT and by[hub]["landing_page"] == article
    (asked,) = s.requests_for(PDFFT)
    assert asked.headers["Referer"] == article
    assert list(pdfs_in(tmp_path / "o").values()) == [body]
