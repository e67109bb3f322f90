"""Reference-manager exports in tests/data: parsed, and every paper in them downloaded from
the local server (papers.test stands for the server; DOIs, arXiv IDs and PMIDs are
found through the fake scholarly APIs)."""

import os

import pytest

from support.faultserver import Reply, make_pdf
from support.fakeapis import FakeScholar

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


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
    from papers.inputs.readers import read_stream

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


def test_a_new_user_from_bib_export_to_named_pdfs_and_a_library(world, papers, tmp_path):
    import bibtexparser

    server, cfg, _ = world
    refs = localised("zotero.bib", server, tmp_path)
    out = tmp_path / "pdfs"
    lib_path = out / "library.bib"
    args = ["download", "-c", cfg, "-i", refs, "-o", str(out), "--name", "{year}/{first_author}_{title:.50}",
            "--bibtex", str(lib_path)]
    r = papers(*args, fast=False)
    assert r.code == 0, r.stderr
    names = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out)
                   for f in fs if f.endswith(".pdf"))
    assert names == sorted([os.path.join("1918", "Noether_Invariante_Variationsprobleme.pdf"),
                            os.path.join("2009", "Zhang_Topological_insulators_in_Bi2Se3,_Bi2Te3_and_Sb2Te.pdf"),
                            os.path.join("2019", "García-Pérez_Estudio_de_la_Física_de_Partículas_en_España.pdf"),
                            os.path.join("2023", "Vaswani_Attention_Is_All_You_Need.pdf")])

    lib = bibtexparser.parse_file(str(lib_path))
    assert len(lib.entries) == 4 and not lib.failed_blocks
    for e in lib.entries:
        pdf = e.fields_dict["file"].value.split(":")[1]
        assert (out / pdf).is_file() and (out / pdf).read_bytes()[:5] == b"%PDF-"
    keys = sorted(e.key for e in lib.entries)
    # The input entries' own citation keys and types (issue 19: papers adds only `file`).
    assert keys == ["garcia-perez_estudio_2019", "noether_invariante_1918", "vaswani_attention_2017",
                    "zhang_topological_2009"]
    assert {e.key: e.entry_type for e in lib.entries}["vaswani_attention_2017"] == "misc"

    # The user adds an entry of their own; a re-run updates papers' entries, keeps theirs.
    with open(lib_path, "a", encoding="utf-8") as f:
        f.write("\n@book{mine, title = {My own entry}, year = {2001}}\n")
    r = papers(*args, fast=False)
    assert r.code == 0, r.stderr
    lib = bibtexparser.parse_file(str(lib_path))
    assert sorted(e.key for e in lib.entries) == sorted(keys + ["mine"])

    status = papers("status", "-o", str(out))
    assert status.code == 0 and "4 papers in" in status.stdout and "4 downloaded" in status.stdout


def test_a_bibtex_library_that_cannot_be_written_is_refused_before_any_fetch(papers, tmp_path):
    (tmp_path / "adir").mkdir()
    r = papers("download", "-o", str(tmp_path / "o"), "--bibtex", str(tmp_path / "adir"), "http://127.0.0.1:9/x.pdf")
    assert r.code == 2 and "is a directory" in r.stderr and not (tmp_path / "o").exists()


MINE = """% My own library, kept by hand.
@string{prb = {Phys. Rev. B}}

@techreport{Zhang2009TR,
  title   = {Topological {I}nsulators in Bi$_2$Se$_3$},
  author  = {Zhang, Haijun and Liu, Chao-Xing},
  journal = prb,
  volume  = {79}, pages = {195322}, month = mar, year = {2009},
  DOI     = {10.1103/PhysRevB.79.195322},
  url     = {{url}},
}

@book{notmine,   title={Kept    byte for byte}, year = 1999 }

@article{broken, title = {no closing brace
"""


def test_the_library_is_never_one_of_the_inputs(server, papers, tmp_path):
    bib = tmp_path / "mine.bib"
    bib.write_text(MINE.replace("{url}", server.pdf("/z.pdf", make_pdf(3000, 1))))
    before = bib.read_bytes()
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(bib), "--bibtex", str(bib))
    assert r.code == 2 and "is also an input" in r.stderr
    assert bib.read_bytes() == before and not (tmp_path / "o").exists()


def test_papers_entries_keep_the_input_entry_and_the_users_blocks_keep_their_text(
        server, papers, tmp_path):
    import bibtexparser

    url = server.pdf("/z.pdf", make_pdf(3000, 1))
    refs = tmp_path / "refs.bib"
    refs.write_text(MINE.replace("{url}", url))
    lib_path = tmp_path / "library.bib"
    users_own = "% the user's notes\n\n@book{notmine,   title={Kept    byte for byte}, year = 1999 }\n" \
                "\n@article{half, title = {never closed\n"
    lib_path.write_text(users_own)
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(refs), "--bibtex", str(lib_path))
    assert r.code == 1, r.stderr  # the broken input entry
    text = lib_path.read_text()
    assert text.startswith(users_own.rstrip("\n")), text  # the user's blocks, byte for byte
    assert "WARNING" not in text  # no parser comment added
    assert f"--bibtex {lib_path}:5: an entry papers cannot read is kept as it is" in r.stderr
    lib = bibtexparser.parse_string(text)
    ours = [e for e in lib.entries if "papers_key" in e.fields_dict]
    assert len(ours) == 1
    e = ours[0]
    assert e.key == "Zhang2009TR" and e.entry_type == "techreport"
    assert e.fields_dict["DOI"].value == "10.1103/PhysRevB.79.195322"  # its case kept
    assert e.fields_dict["journal"].value == "Phys. Rev. B"  # the macro resolved, not lost
    assert {k: e.fields_dict[k].value for k in ("volume", "pages", "month")} == \
        {"volume": "79", "pages": "195322", "month": "mar"}
    assert "Bi$_2$Se$_3$" in e.fields_dict["title"].value  # as written, LaTeX and all
    assert e.fields_dict["file"].value.endswith(".pdf:PDF")
    # A re-run leaves it as it is: the same text again.
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(refs), "--bibtex", str(lib_path))
    assert lib_path.read_text() == text
