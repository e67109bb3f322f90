"""`papers match` against the fake Crossref (`query.bibliographic`) and OpenAlex
(`search=`): a pasted reference list comes out as matched records with their score,
`ambiguous` ones with their candidates, `not_found`, and junk as junk."""

from conftest import pdfs_in


def world(fake):
    pdf, body = fake.pdf("attention.pdf", 1)
    fake.add(doi="10.5555/attention", title="Attention Is All You Need", year=2017,
             authors=("Ashish Vaswani", "Noam Shazeer"), venue="NeurIPS", openalex_pdf=pdf)
    fake.add(doi="10.1000/erratum.attention", title="Erratum: Attention Is All You Need",
             year=2018, authors=("Ashish Vaswani",), type="erratum")
    fake.add(doi="10.1038/nature14539", title="Deep learning", year=2015,
             authors=("Yann LeCun", "Yoshua Bengio"), venue="Nature")
    fake.add(doi="10.5555/imagenet.nips", title="ImageNet classification with deep convolutional "
             "neural networks", year=2012, authors=("Alex Krizhevsky",), venue="NIPS")
    fake.add(doi="10.1145/imagenet.cacm", title="ImageNet classification with deep convolutional "
             "neural networks", year=2017, authors=("Alex Krizhevsky",),
             venue="Communications of the ACM")
    return body


PASTED = """\
Vaswani A, Shazeer N, et al. Attention is all you need. NeurIPS 2017.
LeCun, Y., Bengio, Y., & Hinton, G. (2015). Deep learning. Nature, 521, 436-444.
ImageNet classification with deep convolutional neural networks
Smith J. A study of nothing in particular. J Irrep Res. 2003;12:1-5.
qq
"""


def test_a_pasted_reference_list_is_matched_never_guessed(fake, cfg, papers):
    world(fake)
    r = papers("match", "-c", cfg(), input=PASTED, fast=False)
    assert r.code == 1, r.stderr  # the ambiguous, the unknown and the junk line
    recs = r.lines
    assert len(recs) == 5
    att, dl, img, none, junk = recs
    assert att["doi"] == "10.5555/attention" and att["match"]["status"] == "matched"
    assert att["match"]["score"] >= 0.85 and att["match"]["source"] in ("crossref", "openalex")
    assert att["match"]["query"].startswith("Vaswani A, Shazeer N")
    assert att["pdf_urls"] and att["status"] == "found"
    assert dl["doi"] == "10.1038/nature14539" and dl["status"] == "not_found"  # matched, no PDF
    assert img["status"] == "ambiguous" and "doi" not in img
    assert {c["doi"] for c in img["match"]["candidates"][:2]} == {"10.5555/imagenet.nips",
                                                                  "10.1145/imagenet.cacm"}
    assert all(set(c) >= {"doi", "title", "year", "score"} for c in img["match"]["candidates"])
    assert none["status"] == "not_found" and none["match"]["status"] == "not_found"
    assert junk["status"] == "failed" and "not a URL or a known identifier" in junk["reason"]
    assert not any(rec.get("doi") == "10.1000/erratum.attention" for rec in recs)
    assert fake.calls["crossref", "search"] == 4 and fake.calls["openalex", "search"] == 4
    assert "3 failed" in r.stderr


def test_matched_references_piped_into_download_give_their_pdfs(fake, cfg, papers, tmp_path):
    body = world(fake)
    path = cfg()
    matched = papers("match", "-c", path, input=PASTED.splitlines()[0] + "\n", fast=False)
    assert matched.code == 0, matched.stderr
    r = papers("download", "-c", path, "-o", str(tmp_path / "pdfs"), input=matched.stdout,
               fast=False)
    assert r.code == 0, r.stderr
    assert list(pdfs_in(tmp_path / "pdfs").values()) == [body]


def test_a_bibtex_entry_with_a_title_and_no_identifier_is_matched(fake, cfg, papers, tmp_path):
    world(fake)
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{v17, author = {Vaswani, Ashish and Shazeer, Noam}, title = "
                   "{Attention is All you Need}, year = {2017}}\n")
    r = papers("match", "-c", cfg(), "-i", str(bib), fast=False)
    assert r.code == 0, r.stderr
    assert r.lines[0]["doi"] == "10.5555/attention"


def test_the_threshold_is_a_setting(fake, cfg, papers):
    world(fake)
    strict = papers("match", "-c", cfg(), "--min-score", "1.0",
                    input="Vaswani A. Attention is all you need. 2019.\n", fast=False)
    assert strict.code == 1 and strict.lines[0]["match"]["status"] == "ambiguous"
    bad = papers("match", "-c", cfg(), "--min-score", "2", input="x y z\n", fast=False)
    assert bad.code == 2 and "a score from 0 to 1" in bad.stderr


def test_a_pasted_list_of_thirty_references_as_a_new_user_would(fake, cfg, papers, tmp_path):
    """The table's world in the fake APIs, its first 30 references pasted: `papers match`
    then `papers download` give the open PDFs of the matched works, and the rest say why."""
    from support.references import TABLE, populate

    bodies = populate(fake)
    pasted = [q for q, _ in TABLE[:30]]
    expected = {q: e for q, e in TABLE[:30]}
    path = cfg()
    matched = papers("match", "-c", path, input="\n".join(pasted) + "\n", fast=False)
    recs = matched.lines
    assert len(recs) == 30
    for rec in recs:
        want = expected[rec["id"]]
        if want in ("ambiguous", "not_found"):
            assert rec["status"] == want and "doi" not in rec
        else:
            assert rec.get("doi") == want, (rec["id"], rec.get("match"))
    r = papers("download", "-c", path, "-o", str(tmp_path / "pdfs"), "--json",
               input=matched.stdout, fast=False)
    got = sorted(pdfs_in(tmp_path / "pdfs").values())
    open_matched = [bodies[e] for e in expected.values() if e in bodies]
    assert got == sorted(open_matched) and got
    done = {line["doi"] for line in r.lines if line["status"] == "downloaded"}
    assert done == {e for e in expected.values() if e in bodies}
