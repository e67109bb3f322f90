"""Names and duplicates: --name uses what the lookup found, a changed --name keeps the
files already there, and one paper spelt two ways is one paper."""

import os

import pytest

from conftest import pdfs_in
from support.fakeapis import FakeScholar
from support.faultserver import make_pdf


@pytest.fixture
def fake(server):
    return FakeScholar(server)


@pytest.fixture
def apis(fake, tmp_path):
    path = tmp_path / "apis.yaml"
    path.write_text(fake.config())
    return str(path)


TEMPLATE = "{year}/{first_author}_{title:.50}"


def test_name_uses_the_metadata_the_lookup_found_for_a_bare_doi(fake, apis, papers, tmp_path):
    pdf, body = fake.pdf("zhang.pdf", 1)
    fake.add(doi="10.1103/physrevb.79.195322", title="Topological insulators in Bi2Se3",
             authors=("Haijun Zhang", "Chao-Xing Liu"), year=2009, openalex_pdf=pdf)
    out = tmp_path / "o"
    r = papers("download", "-c", apis, "-o", str(out), "--json", "--name", TEMPLATE,
               "--metadata", "json", "--bibtex", str(tmp_path / "lib.bib"),
               "10.1103/PhysRevB.79.195322", fast=False)
    assert r.code == 0, r.stderr
    path = r.lines[0]["path"]
    assert path == str(out / "2009" / "Zhang_Topological_insulators_in_Bi2Se3.pdf")
    assert open(path, "rb").read() == body
    meta = __import__("json").load(open(path[:-4] + ".json"))
    assert meta["title"] == "Topological insulators in Bi2Se3" and meta["year"] == 2009
    assert "2009/Zhang_Topological_insulators_in_Bi2Se3.pdf" in (tmp_path / "lib.bib").read_text()


@pytest.mark.parametrize("second", [[], ["--name", "{doi}"]], ids=["dropped", "changed"])
def test_a_changed_or_dropped_name_keeps_the_files_already_there(server, papers, tmp_path,
                                                                 second):
    inp = tmp_path / "list.jsonl"
    paths = [f"/n{i}.pdf" for i in range(3)]
    urls = [server.pdf(p, make_pdf(3000, i)) for i, p in enumerate(paths)]
    inp.write_text("".join(f'{{"url": "{u}", "doi": "10.1234/n{i}", "title": "Paper {i}", '
                           f'"year": 2020}}\n' for i, u in enumerate(urls)))
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--name", TEMPLATE, "-i", str(inp))
    assert r.code == 0, r.stderr
    first = sorted(os.path.relpath(os.path.join(d, f), out) for d, _, fs in os.walk(out)
                   for f in fs if f.endswith(".pdf"))
    assert len(first) == 3 and all(p.startswith("2020" + os.sep) for p in first)
    hits = [server.hits(p) for p in paths]
    r = papers("download", "-o", str(out), "--json", *second, "-i", str(inp))
    assert r.code == 0, r.stderr
    assert [x["status"] for x in r.lines] == ["skipped"] * 3
    assert sorted(os.path.relpath(x["path"], out) for x in r.lines) == first
    assert [server.hits(p) for p in paths] == hits  # nothing fetched again
    assert "3 file(s) already there keep the names they were given" in r.stderr


def test_an_arxiv_doi_and_its_arxiv_id_are_one_paper(server, papers, tmp_path):
    body = make_pdf(3000, 7)
    url = server.pdf("/attention.pdf", body)
    inp = tmp_path / "two.jsonl"
    inp.write_text(f'{{"doi": "10.48550/arXiv.1706.03762", "url": "{url}"}}\n'
                   f'{{"arxiv": "arXiv:1706.03762", "url": "{url}"}}\n'
                   '"10.48550/ARXIV.1706.03762"\n"arXiv:1706.03762"\n')
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 0, r.stderr
    assert len(r.lines) == 1 and r.lines[0]["status"] == "downloaded"
    assert list(pdfs_in(tmp_path / "o").values()) == [body]
    assert server.hits("/attention.pdf") == 1


def test_two_inputs_with_the_same_bytes_are_one_file_and_the_second_a_duplicate(
        server, papers, tmp_path):
    body = make_pdf(5000, 8)
    a = server.pdf("/mirror-a/paper.pdf", body)
    b = server.pdf("/mirror-b/paper.pdf", body)  # another URL, the same bytes
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "-j", "1", a, b)
    assert r.code == 0, r.stderr
    first, second = r.by_id()[a], r.by_id()[b]
    assert first["status"] == second["status"] == "downloaded"
    assert second["duplicate_of"] == a and second["path"] == first["path"]
    assert list(pdfs_in(out).values()) == [body]  # one copy
    assert "2 downloaded (1 the same file as another paper's)" in r.stderr
    assert not [n for n in os.listdir(out) if n.endswith(".part")]
    again = papers("download", "-o", str(out), "--json", a, b)
    assert [x["status"] for x in again.lines] == ["skipped", "skipped"]
    assert server.hits("/mirror-b/paper.pdf") == 1


def test_two_inputs_that_end_at_the_same_final_url_are_one_file(server, papers, tmp_path):
    from support.faultserver import Reply

    body = make_pdf(5000, 9)
    final = server.pdf("/final/paper.pdf", body)
    a = server.route("/doi-a", Reply(status=302, location=final))
    b = server.route("/doi-b", Reply(status=302, location=final))
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "-j", "1", a, b)
    assert r.code == 0, r.stderr
    assert r.by_id()[b]["duplicate_of"] == a
    assert list(pdfs_in(out).values()) == [body]
