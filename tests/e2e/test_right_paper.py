"""The identity check end to end: real PDFs (with a text layer, written by reportlab)
behind the candidates the fake APIs name. The right paper is saved and says how it was
known; a wrong one is kept aside as NAME.pdf.suspect, never under the final name, and
the next candidate is tried; `verify --identity` checks what is on disk already."""

import json
import os

from conftest import pdfs_in, read_state
from support.papers_pdf import article

TITLE = "Deep Residual Learning for Image Recognition"
DOI = "10.1000/resnet"
KEY = f"doi:{DOI}"
OURS = article(TITLE, DOI, pages=3, seed=1)
OURS_UNTITLED = article(TITLE, "", pages=3, seed=2)     # no DOI printed: known by its title
WRONG = article("Protein Folding in the Cold", "10.9999/other.7", pages=3, seed=3)
SCAN = article(TITLE, DOI, scan=True, seed=4)
COVER = article(TITLE, "", cover="Advertisement: read also https://doi.org/10.1080/advert.9",
                seed=5)


def serve(fake, name, body):
    return fake.server.pdf(f"/files/{name}", body)


def suspects(out):
    return {n: (out / n).read_bytes() for n in os.listdir(out) if ".suspect" in n}


def run(papers, cfg, out, *args):
    return papers("download", "-c", cfg, "-o", str(out), "--json", *args, fast=False)


def test_the_right_paper_by_doi_by_title_a_scan_and_a_cover_sheet(fake, cfg, papers, tmp_path):
    bodies = {"10.1000/a": OURS, "10.1000/b": OURS_UNTITLED, "10.1000/c": SCAN, "10.1000/d": COVER}
    for i, (doi, body) in enumerate(bodies.items()):
        fake.add(doi=doi, title=TITLE, openalex_pdf=serve(fake, f"{i}.pdf", body))
    out = tmp_path / "o"
    r = run(papers, cfg(), out, "--metadata", "json", *bodies)
    assert r.code == 0, r.stderr
    by = {x["id"]: x for x in r.lines}
    # "a" prints its own DOI 10.1000/resnet, not 10.1000/a: its title says it.
    assert {d: by[d]["identity"] for d in bodies} == {
        "10.1000/a": "title", "10.1000/b": "title", "10.1000/c": "unchecked", "10.1000/d": "title"}
    state = read_state(out / ".papers-state.json")
    assert state["doi:10.1000/c"]["identity"] == "unchecked"
    meta = json.loads(open(by["10.1000/b"]["path"][:-4] + ".json").read())
    assert meta["identity"] == "title"
    assert sorted(pdfs_in(out).values()) == sorted(bodies.values()) and not suspects(out)


def test_by_doi_when_the_record_has_no_title(fake, cfg, papers, tmp_path):
    url = serve(fake, "ours.pdf", OURS)
    fake.add(doi=DOI, title="", openalex_pdf=url)
    r = run(papers, cfg(), tmp_path / "o", DOI)
    assert r.code == 0, r.stderr
    assert r.lines[0]["identity"] == "doi"


def test_a_wrong_paper_first_is_kept_aside_and_the_next_candidate_taken(fake, cfg, papers, tmp_path):
    fake.add(doi=DOI, title=TITLE, openalex_pdf=serve(fake, "wrong.pdf", WRONG),
             openalex_repo_pdf=serve(fake, "right.pdf", OURS))
    out = tmp_path / "o"
    r = run(papers, cfg(), out, DOI)
    assert r.code == 0, r.stderr
    (line,) = r.lines
    assert line["status"] == "downloaded" and line["identity"] == "doi"
    assert list(pdfs_in(out).values()) == [OURS]
    (name, kept), = suspects(out).items()
    assert kept == WRONG and name == os.path.basename(line["path"]) + ".suspect"
    assert "is not this paper" in r.stderr and "10.9999/other.7" in r.stderr


def test_only_a_wrong_paper_fails_saying_what_it_is_and_keeps_it(fake, cfg, papers, tmp_path):
    fake.add(doi=DOI, title=TITLE, openalex_pdf=serve(fake, "wrong.pdf", WRONG))
    out, config = tmp_path / "o", cfg()
    r = run(papers, config, out, DOI)
    assert r.code == 1
    (line,) = r.lines
    assert line["status"] == "failed" and line["error_kind"] == "wrong_paper"
    assert line["identity"] == "mismatch"
    assert line["error"].startswith('wrong paper: the PDF is 10.9999/other.7 "Protein Folding in the Cold"')
    assert not pdfs_in(out)
    (name, kept), = suspects(out).items()
    assert kept == WRONG and f"kept as {out / name}" in line["error"]
    rec = read_state(out / ".papers-state.json")[KEY]
    assert rec["identity"] == "mismatch" and rec["permanent"] is True
    # A re-run asks nothing of a permanent failure; --retry-failed fetches it again and
    # keeps one copy of the same wrong file, not two.
    hits = fake.server.hits("/files/wrong.pdf")
    assert run(papers, config, out, DOI).code == 1
    assert fake.server.hits("/files/wrong.pdf") == hits
    assert run(papers, config, out, DOI, "--retry-failed").code == 1
    assert fake.server.hits("/files/wrong.pdf") > hits
    assert list(suspects(out).values()) == [WRONG]


def test_a_kept_aside_file_of_other_bytes_is_never_replaced(fake, cfg, papers, tmp_path):
    fake.add(doi=DOI, title=TITLE, openalex_pdf=serve(fake, "wrong.pdf", WRONG))
    out, config = tmp_path / "o", cfg()
    assert run(papers, config, out, DOI).code == 1
    (name,) = suspects(out)
    (out / name).write_bytes(b"the user's own notes")
    assert run(papers, config, out, DOI, "--retry-failed").code == 1
    assert (out / name).read_bytes() == b"the user's own notes"
    assert (out / (name + ".2")).read_bytes() == WRONG


def test_two_papers_served_the_same_pdf_only_its_own_paper_gets_it(fake, cfg, papers, tmp_path):
    url = serve(fake, "shared.pdf", OURS)
    fake.add(doi=DOI, title=TITLE, openalex_pdf=url)
    fake.add(doi="10.1000/other", title="Protein Folding in the Cold", openalex_pdf=url)
    out = tmp_path / "o"
    r = run(papers, cfg(), out, "-j", "1", DOI, "10.1000/other")
    by = {x["id"]: x for x in r.lines}
    assert by[DOI]["status"] == "downloaded" and by[DOI]["identity"] == "doi"
    assert by["10.1000/other"]["error_kind"] == "wrong_paper"
    assert list(pdfs_in(out).values()) == [OURS]


def test_no_identity_check_takes_the_file_as_it_is(fake, cfg, papers, tmp_path):
    fake.add(doi=DOI, title=TITLE, openalex_pdf=serve(fake, "wrong.pdf", WRONG))
    out = tmp_path / "o"
    r = run(papers, cfg(), out, "--no-identity-check", DOI)
    assert r.code == 0, r.stderr
    assert "identity" not in r.lines[0] and list(pdfs_in(out).values()) == [WRONG]
    assert "identity" not in read_state(out / ".papers-state.json")[KEY]
    config = tmp_path / "off.yaml"
    config.write_text(open(cfg()).read() + "identity_check: false\n")
    r = run(papers, str(config), tmp_path / "o2", DOI)
    assert r.code == 0 and list(pdfs_in(tmp_path / "o2").values()) == [WRONG]


def test_verify_identity_checks_the_files_on_disk(fake, cfg, papers, tmp_path):
    fake.add(doi=DOI, title=TITLE, openalex_pdf=serve(fake, "wrong.pdf", WRONG))
    fake.add(doi="10.1000/fine", title=TITLE, openalex_pdf=serve(fake, "fine.pdf", OURS_UNTITLED))
    out = tmp_path / "o"
    assert run(papers, cfg(), out, "--no-identity-check", DOI, "10.1000/fine").code == 0
    plain = papers("verify", "-o", str(out))
    assert plain.code == 0, plain.stderr
    r = papers("verify", "-o", str(out), "--identity")
    assert r.code == 1
    (found,) = r.stdout.splitlines()
    path, what, pid = found.split("\t")
    assert pid == DOI and what.startswith('wrong paper: the PDF is 10.9999/other.7')
    assert "2 files checked" in r.stderr and "1 wrong paper" in r.stderr
    fixed = papers("verify", "-o", str(out), "--identity", "--fix")
    assert fixed.code == 1 and not os.path.exists(path)
    assert (out / (os.path.basename(path) + ".suspect")).read_bytes() == WRONG
    rec = read_state(out / ".papers-state.json")[KEY]
    assert rec["status"] == "failed" and rec["identity"] == "mismatch"
    assert papers("verify", "-o", str(out), "--identity").code == 0
