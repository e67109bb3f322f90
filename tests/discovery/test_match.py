"""The matching rule on a table of real-looking reference strings (APA, Vancouver, IEEE,
BibTeX-ish, bare titles) against a world of works that holds the traps: errata and
corrections of the works cited, two versions of one title, near titles, non-ASCII
authors and LaTeX. Every query is scored against the whole world, as if a source had
returned it all. The goal is precision 1.0: a wrong DOI is worse than none."""

import pytest

from support.references import AMBIGUOUS, NOT_FOUND, TABLE, WORLD
from papers.discovery.match import decide, is_notice, normalise, score, surname, title_guess


def outcome(query):
    m = decide(query, WORLD)
    if m.status == "matched":
        return m.best.candidate.doi
    return m.status


@pytest.mark.parametrize("query, expected", TABLE, ids=[q[:40] for q, _ in TABLE])
def test_reference_strings_match_the_right_work_or_say_why_not(query, expected):
    assert outcome(query) == expected, decide(query, WORLD).candidates[:3]


def test_the_table_is_big_enough_and_precision_is_one():
    assert len(TABLE) >= 40
    wanted = [(q, e) for q, e in TABLE if e not in (AMBIGUOUS, NOT_FOUND)]
    got = [(outcome(q), e) for q, e in TABLE]
    matched = [(g, e) for g, e in got if g not in (AMBIGUOUS, NOT_FOUND)]
    right = sum(g == e for g, e in matched)
    assert matched and right / len(matched) == 1.0  # precision: never a wrong DOI
    assert right / len(wanted) >= 0.9              # recall on this table (README)


def test_a_notice_never_matches_the_work_it_is_about():
    m = decide("LeCun Y, Bengio Y, Hinton G. Deep learning. Nature. 2015", WORLD)
    assert m.best.candidate.doi == "10.1038/nature14539"
    assert all(not is_notice(s.candidate.title, s.candidate.type) for s in m.candidates)
    only_notices = [c for c in WORLD if c.type in ("erratum", "retraction", "reply")]
    assert decide("Deep learning. Nature 2015", only_notices).status == "not_found"


def test_ambiguous_answers_carry_their_candidates_with_scores():
    m = decide("ImageNet classification with deep convolutional neural networks", WORLD)
    assert m.status == "ambiguous" and m.best is None
    top = [s.as_dict() for s in m.candidates[:2]]
    assert {t["doi"] for t in top} == {"10.1145/3065386", "10.5555/2999134.2999257"}
    assert all(0 < t["score"] <= 1 and t["title"] and t["year"] for t in top)


@pytest.mark.parametrize("text, normal", [
    ('{\\"U}ber die Stabilit{\\"a}t', "uber die stabilitat"),
    ("The $\\alpha$-helix", "the α helix"),
    ("Schrödinger’s cat: a “thought” experiment!", "schrodinger s cat a thought experiment"),
    ("Øyvind Straße", "oyvind strasse"),
    ("  Deep   Learning. ", "deep learning"),
])
def test_normalise(text, normal):
    assert normalise(text) == normal


@pytest.mark.parametrize("author, name", [
    ("Vaswani, Ashish", "vaswani"), ("Ashish Vaswani", "vaswani"), ("Vaswani A", "vaswani"),
    ("Müller KR", "muller"), ("de la Cruz, María", "de la cruz"), ("Pérez, F.", "perez"),
])
def test_surname(author, name):
    assert surname(author) == name


def test_the_score_is_made_of_its_stated_parts():
    s = score("Vaswani A. Attention is all you need. NIPS 2017.", WORLD[0])
    assert s.parts == {"title": 1.0, "year": 1.0, "author": 1.0, "venue": 0.0}
    assert s.score == pytest.approx(1.0)
    wrong_year = score("Vaswani A. Attention is all you need. 2019.", WORLD[0])
    assert wrong_year.parts["year"] == 0.0 and wrong_year.score == pytest.approx(0.85)


@pytest.mark.parametrize("reference, title", [
    ("Vaswani A, Shazeer N, et al. Attention is all you need. NeurIPS 2017.",
     "Attention is all you need"),
    ("LeCun, Y., Bengio, Y., & Hinton, G. (2015). Deep learning. Nature, 521, 436-444.",
     "Deep learning"),
    ('A. Krizhevsky, I. Sutskever, and G. E. Hinton, "ImageNet classification with deep '
     'convolutional neural networks," in Proc. NIPS, 2012.',
     "ImageNet classification with deep convolutional neural networks"),
    ("Highly accurate protein structure prediction with AlphaFold",
     "Highly accurate protein structure prediction with AlphaFold"),
])
def test_title_guess(reference, title):
    assert title_guess(reference) == title
