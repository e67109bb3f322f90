"""Reference-manager exports in tests/data: parsed, and every paper in them downloaded from
the local server (papers.test stands for the server; DOIs, arXiv IDs and PMIDs are
found through the fake scholarly APIs)."""

import os

import pytest

from faultserver import Reply, make_pdf
from fakeapis import FakeScholar

DATA = os.path.join(os.path.dirname(__file__), "data")


@pytest.fixture
def world(server, tmp_path):
    """The server and fake APIs that every paper in tests/data can be fetched from."""
    fake = FakeScholar(server)
    bodies = {}

    def pdf(path, seed):
        bodies[path] = make_pdf(5000 + seed, seed)
        return server.pdf(path, bodies[path])

    def landing(path, pdf_path):
        server.route(path, Reply(body=(f'<html><head><meta name="citation_pdf_url" '
                                       f'content="{pdf_path}"></head><body>Abstract</body></html>').encode(),
                                 content_type="text/html"))

    for i, name in enumerate(["zhang-2009-fulltext", "garcia-perez-2019", "lstm", "attention", "epr"]):
        pdf(f"/files/{name}.pdf", i)
    landing("/articles/nphys1270", "/files/zhang-2009-fulltext.pdf")
    landing("/abs/1706.03762", "/arxiv-pdf/1706.03762")
    pdf("/arxiv-pdf/1706.03762", 10)
    fake.add(arxiv="1706.03762", in_apis=("arxiv",))
    fake.add(doi="10.1038/nphys1270", openalex_pdf=server.url("/files/zhang-2009-fulltext.pdf"),
             in_apis=("openalex",))
    for j, doi in enumerate(["10.5555/noether.1918", "10.1103/PhysRev.47.777",
                             "10.1103/PhysicsPhysiqueFizika.1.195", "10.1162/neco.1997.9.8.1735"]):
        fake.add(doi=doi, openalex_pdf=pdf(f"/files/doi-{j}.pdf", 20 + j), in_apis=("openalex",))
    fake.add(pmid="17834519", europepmc_pdf=pdf("/files/pmid-17834519.pdf", 30), in_apis=("europepmc",))
    cfg = tmp_path / "apis.yaml"
    cfg.write_text(fake.config())
    return server, str(cfg), bodies


def localised(name, server, tmp_path):
    """The fixture with papers.test pointing at the local server, under the same name."""
    text = open(os.path.join(DATA, name), encoding="utf-8").read()
    path = tmp_path / name
    path.write_text(text.replace("http://papers.test", server.url("")), encoding="utf-8")
    return str(path)


# name -> (papers downloaded, "line: what" of each entry reported as unreadable)
EXPECTED = {
    "zotero.bib": (4, []),
    "jabref.bib": (4, ["39: malformed BibTeX entry"]),
    "zotero.ris": (4, ["49: malformed RIS entry"]),
    "scholar.csv": (3, ["5: record has no id, identifier or URL: doi 'not-a-doi' is not a valid DOI"]),
    "reading-list.tsv": (3, []),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_paper_of_a_reference_export_is_downloaded(world, papers, tmp_path, name):
    server, cfg, _ = world
    path = localised(name, server, tmp_path)
    out = tmp_path / "pdfs"
    r = papers("download", "-c", cfg, "-i", path, "-o", str(out), "--json", fast=False)
    downloaded, unreadable = EXPECTED[name]
    lines = r.lines
    ok = [x for x in lines if x["status"] == "downloaded"]
    failed = [x for x in lines if x["status"] == "failed"]
    assert len(ok) == downloaded, r.stderr
    assert len(failed) == len(unreadable), failed
    for f, u in zip(failed, unreadable):
        assert f["error"].startswith(f"{path}:{u}"), f["error"]
    assert r.code == (1 if unreadable else 0)
    for x in ok:
        with open(x["path"], "rb") as fh:
            assert fh.read(5) == b"%PDF-"


def test_titles_authors_and_years_come_from_the_entries(world, papers, tmp_path):
    server, cfg, _ = world
    from papers.inputs import read_stream

    with open(localised("zotero.bib", server, tmp_path), encoding="utf-8") as f:
        got = {p.key: p for p in read_stream(f, "zotero.bib")}
    garcia = next(p for k, p in got.items() if "garcia" in k)
    assert garcia.title == "Estudio de la Física de Partículas en España"
    assert garcia.authors == ("García-Pérez, José", "Müller, Jörg", "Ørsted, Søren")
    assert garcia.year == 2019
    with open(os.path.join(DATA, "jabref.bib"), encoding="utf-8") as f:
        einstein = next(p for p in read_stream(f, "jabref.bib") if p.doi)
    assert einstein.title.startswith("Can Quantum-Mechanical") and einstein.year == 1935
    with open(os.path.join(DATA, "scholar.csv"), encoding="utf-8") as f:
        zhang = next(iter(read_stream(f, "scholar.csv")))
    assert zhang.authors[:2] == ("H Zhang", "CX Liu") and zhang.doi == "10.1038/nphys1270"


@pytest.mark.parametrize("name, fmt", [("zotero.bib", "bibtex"), ("zotero.ris", "ris"),
                                       ("scholar.csv", "csv"), ("reading-list.tsv", "tsv")])
def test_the_format_is_found_from_the_content_or_forced(papers, tmp_path, name, fmt):
    renamed = tmp_path / "export.txt"
    renamed.write_bytes(open(os.path.join(DATA, name), "rb").read())
    a = papers("download", "-i", str(renamed), "--dry-run", "--json")
    b = papers("download", "-i", str(renamed), "--dry-run", "--json", "--format", fmt)
    assert [x["id"] for x in a.lines] == [x["id"] for x in b.lines] and len(a.lines) >= 3


def test_column_picks_the_papers_of_a_csv(papers, tmp_path):
    f = tmp_path / "list.csv"
    f.write_text("Paper,Note\n10.1000/a,first\narXiv:2101.00001,second\n")
    r = papers("download", "-i", str(f), "--dry-run", "--json")
    assert r.code == 2 and "no column of papers found" in r.stderr and "--column" in r.stderr
    r = papers("download", "-i", str(f), "--dry-run", "--json", "--column", "Paper")
    assert [x["id"] for x in r.lines] == ["10.1000/a", "arXiv:2101.00001"]
    r = papers("download", "-i", str(f), "--dry-run", "--column", "Nope")
    assert r.code == 2 and "no column named 'Nope'" in r.stderr


def test_an_invalid_doi_beside_a_url_is_reported_not_dropped(papers, tmp_path):
    f = tmp_path / "refs.bib"
    f.write_text("@article{a,\n  doi = {junk},\n  url = {http://127.0.0.1:9/a.pdf},\n}\n")
    r = papers("download", "-i", str(f), "--dry-run", "--json")
    assert f"{f}:1: doi 'junk' is not a valid DOI; using its URL" in r.stderr
    assert [x["id"] for x in r.lines] == ["http://127.0.0.1:9/a.pdf"]
