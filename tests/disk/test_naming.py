import os

import pytest

from papers.inputs.records import paper_from_record, paper_from_text
from papers.disk.naming import MAX_NAME_BYTES, filename_for, path_for, sanitise


@pytest.mark.parametrize("text, expected", [
    ("Deep Learning", "Deep_Learning"),
    ("a/b\\c", "a_b_c"),
    ("../../etc/passwd", "etc_passwd"),
    ("..", ""),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("tab\there\x00nul\x1fx", "tab_here_nul_x"),
    ('what? "quoted" <x>|y*', "what_quoted_x_y"),
    ("  spaces   and___underscores ", "spaces_and_underscores"),
    ("Ünïcödé ﬁ", "Ünïcödé_fi"),
])
def test_sanitise(text, expected):
    assert sanitise(text) == expected


def test_sanitise_bounds_bytes_without_splitting_characters():
    s = sanitise("é" * 200, max_bytes=51)
    assert len(s.encode("utf-8")) <= 51
    assert s == "é" * 25


@pytest.mark.parametrize("record, expected", [
    ({"doi": "10.1234/ABC.def"}, "10.1234_abc.def.pdf"),
    ({"arxiv": "2101.00001v2"}, "arXiv_2101.00001v2.pdf"),
    ({"arxiv": "hep-th/9901001"}, "arXiv_hep-th_9901001.pdf"),
    ({"arxiv": "math.CA/0611800"}, "arXiv_math_0611800.pdf"),
    ({"pmcid": "pmc12345"}, "PMC12345.pdf"),
    ({"pmid": "777"}, "PMID_777.pdf"),
])
def test_identifier_names(record, expected):
    assert filename_for(paper_from_record(record)) == expected


def test_title_name_has_author_year_and_key_hash():
    p = paper_from_record({"doi": "10.1000/x", "title": "Attention Is All You Need",
                           "authors": ["Ashish Vaswani", "Noam Shazeer"], "year": 2017})
    name = filename_for(p)
    assert name.startswith("Vaswani_2017_Attention_Is_All_You_Need_")
    assert name.endswith(".pdf")
    # Same title, other paper: another name.
    q = paper_from_record({"doi": "10.1000/y", "title": "Attention Is All You Need",
                           "authors": ["Ashish Vaswani"], "year": 2017})
    assert filename_for(q) != name


def test_names_are_deterministic():
    p = paper_from_text("https://example.org/files/paper.pdf")
    assert filename_for(p) == filename_for(paper_from_text("https://example.org/files/paper.pdf"))
    assert filename_for(p).startswith("example.org_paper_")


def test_sici_doi_gets_safe_unique_name():
    a = paper_from_record({"doi": "10.1002/(SICI)1097-4636(199706)35:4<467::AID-JBM7>3.0.CO;2-H"})
    b = paper_from_record({"doi": "10.1002/(SICI)1097-4636(199706)35:4<467::AID-JBM7>3.0.CO;2-I"})
    na, nb = filename_for(a), filename_for(b)
    assert na != nb
    for n in (na, nb):
        assert "/" not in n and "<" not in n and ">" not in n


def test_hostile_title_stays_inside_output_dir(tmp_path):
    p = paper_from_record({"url": "http://x/y", "title": "../../../../tmp/evil\n\x00" + "A" * 500})
    path = path_for(p, str(tmp_path))
    assert os.path.dirname(path) == os.path.realpath(tmp_path)
    assert len(os.path.basename(path).encode()) <= MAX_NAME_BYTES


def test_url_without_path_still_named():
    assert filename_for(paper_from_text("https://example.org")).startswith("example.org_")
