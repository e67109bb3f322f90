"""`--name TEMPLATE`: file names the way researchers file them, always inside the output
directory, never two papers on one name, and never from a candidate that failed."""

import json
import os

import pytest

from conftest import pdfs_in
from support.faultserver import make_pdf

from papers.inputs.records import paper_from_record
from papers.disk.naming import Namer, check_template


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root)
                  for f in fs if f.endswith(".pdf"))


@pytest.mark.parametrize("record, template, expected", [
    ({"doi": "10.1000/a", "title": "Deep Learning", "authors": ["LeCun, Yann"], "year": 2015},
     "{year}/{first_author}_{title}", "2015/LeCun_Deep_Learning.pdf"),
    ({"doi": "10.1000/a", "title": "A very long title that goes on and on", "year": 2015},
     "{title:.12}", "A_very_long.pdf"),
    ({"doi": "10.1000/a", "title": "Up/Down: a/b ../../etc/passwd"}, "{title}",
     "Up_Down_a_b_._._etc_passwd.pdf"),                          # a title never makes a folder
    ({"arxiv": "1706.03762", "title": "Attention"}, "{arxiv} {title}", "1706.03762_Attention.pdf"),
    ({"doi": "10.1000/a"}, "{year}/{title}", "10.1000_a.pdf"),        # nothing rendered: the default name
    ({"url": "http://h.example/x.pdf", "title": "T"}, "{source}/{title}", "h.example/T.pdf"),
], ids=["folders", "width", "hostile title", "arxiv", "empty", "source"])
def test_template_paths(tmp_path, record, template, expected):
    root = os.path.realpath(tmp_path)
    path = Namer(root, check_template(template), {}).path(paper_from_record(record))
    assert os.path.relpath(path, root) == expected


@pytest.mark.parametrize("template, message", [
    ("{nope}", "unknown field {nope}"), ("plain", "no field in it"), ("{title", "not a template"),
])
def test_bad_templates_are_refused(template, message):
    with pytest.raises(ValueError, match=message):
        check_template(template)


def test_two_papers_never_share_a_name_and_the_same_input_names_alike(tmp_path):
    papers = [paper_from_record({"doi": f"10.1000/{i}", "title": "Introduction", "year": 2020})
              for i in range(3)]
    names = []
    for _ in range(2):
        namer = Namer(str(tmp_path), "{year}/{title}", {})
        names.append([namer.path(p) for p in papers])
    assert names[0] == names[1] and len(set(names[0])) == 3
    assert names[0][0].endswith("2020/Introduction.pdf")


def test_a_bibtex_export_becomes_a_folder_of_named_pdfs(server, papers, tmp_path):
    refs = tmp_path / "refs.bib"
    urls = [server.pdf(f"/n{i}.pdf", make_pdf(3000 + i, i)) for i in range(3)]
    refs.write_text(
        f"@article{{a, title={{Deep {{Learning}}}}, author={{LeCun, Yann and Bengio, Yoshua}}, year=2015,"
        f" url={{{urls[0]}}}}}\n"
        f"@article{{b, title={{Introduction}}, author={{M{{\\\"u}}ller, J.}}, year=2020, url={{{urls[1]}}}}}\n"
        f"@article{{c, title={{Introduction}}, author={{M{{\\\"u}}ller, J.}}, year=2020, url={{{urls[2]}}}}}\n")
    out = tmp_path / "pdfs"
    r = papers("download", "-i", str(refs), "-o", str(out), "--json", "--name", "{year}/{first_author}_{title:.50}")
    assert r.code == 0, r.stderr
    got = files_under(out)
    assert got[0] == os.path.join("2015", "LeCun_Deep_Learning.pdf")
    assert got[1] == os.path.join("2020", "Müller_Introduction.pdf")
    assert got[2].startswith(os.path.join("2020", "Müller_Introduction_")) and len(got) == 3
    before = len(server.requests)
    r2 = papers("download", "-i", str(refs), "-o", str(out), "--json", "--name", "{year}/{first_author}_{title:.50}")
    assert {x["status"] for x in r2.lines} == {"skipped"} and len(server.requests) == before
    assert files_under(out) == got


def test_bad_name_template_is_one_line_exit_2(papers, tmp_path, env):
    r = papers("download", "--name", "{nope}", "http://127.0.0.1:9/x.pdf")
    assert r.code == 2 and "--name {nope}: unknown field {nope}" in r.stderr
    c = tmp_path / "c.yaml"
    c.write_text("naming:\n  template: '{titel}'\n")
    r = papers("download", "-c", str(c), "http://127.0.0.1:9/x.pdf")
    assert r.code == 2 and f"{c}: naming: unknown field {{titel}}" in r.stderr


def test_a_failed_first_candidate_does_not_name_the_file(server, papers, tmp_path):
    good = server.pdf("/good/paper.pdf", make_pdf(3000, 1))
    missing = server.url("/missing9.pdf")
    rec = {"pdf_urls": [missing, good]}
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", input=json.dumps(rec) + "\n")
    assert r.code == 0, r.stderr
    (name,) = pdfs_in(out)
    assert "missing9" not in name and name.startswith("127.0.0.1_paper_")
    assert r.lines[0]["path"] == str(out / name)


def test_metadata_json_beside_each_pdf(server, papers, tmp_path):
    import hashlib

    from support.faultserver import Reply

    body = make_pdf(4000, 5)
    server.pdf("/real/paper.pdf", body)
    moved = server.route("/moved.pdf?token=SECRET", Reply(status=302, location="/real/paper.pdf"))
    rec = {"doi": "10.1000/meta", "title": "Metadata", "authors": ["Curie, Marie"], "year": 1903,
           "url": moved, "note": "kept from the input"}
    out = tmp_path / "o"
    r = papers("download", "-o", str(out), "--json", "--metadata", "json", "--name", "{year}/{title}",
               input=json.dumps(rec) + "\n")
    assert r.code == 0, r.stderr
    pdf = out / "1903" / "Metadata.pdf"
    meta = json.loads((out / "1903" / "Metadata.json").read_text())
    assert pdf.read_bytes() == body
    assert meta["doi"] == "10.1000/meta" and meta["title"] == "Metadata" and meta["authors"] == ["Curie, Marie"]
    assert meta["year"] == 1903 and meta["note"] == "kept from the input" and meta["file"] == "Metadata.pdf"
    assert meta["pdf_url"] == server.url("/real/paper.pdf") and meta["url"].endswith("token=***")
    assert meta["sha256"] == hashlib.sha256(body).hexdigest() and meta["bytes"] == len(body)
    assert "SECRET" not in json.dumps(meta)
