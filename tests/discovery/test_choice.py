"""Which candidates a run takes by version and licence, and what it says when none."""

import pytest

from papers.discovery.choice import (Choice, is_open, licence_key, parse_licences,
                                     parse_versions, version_key)


@pytest.mark.parametrize("text, key", [
    ("cc-by", "cc-by"), ("CC BY 4.0", "cc-by"), ("CC-BY-NC-SA", "cc-by-nc-sa"),
    ("https://creativecommons.org/licenses/by-nc-nd/4.0/", "cc-by-nc-nd"),
    ("http://creativecommons.org/licenses/by/3.0/igo/", "cc-by"),
    ("cc0", "cc0"), ("https://creativecommons.org/publicdomain/zero/1.0/", "cc0"),
    ("public-domain", "pd"), ("pd", "pd"),
    ("publisher-specific-oa", "publisher-specific-oa"), ("implied-oa", "implied-oa"),
    (None, "unknown"), ("", "unknown"),
])
def test_licences_are_normalised(text, key):
    assert licence_key(text) == key


def test_open_means_creative_commons_or_public_domain():
    assert all(is_open(k) for k in ("cc-by", "cc-by-nc-nd", "cc0", "pd"))
    assert not any(is_open(k) for k in ("publisher-specific-oa", "unknown", "implied-oa"))


@pytest.mark.parametrize("choice, version, licence, kept", [
    (Choice(), None, None, True),
    (Choice(versions=("published",)), "publishedVersion", "cc-by", True),
    (Choice(versions=("published",)), "acceptedVersion", "cc-by", False),
    (Choice(versions=("accepted", "unknown")), None, None, True),
    (Choice(licences=("cc-by",)), "publishedVersion", "CC BY 4.0", True),
    (Choice(licences=("cc-by",)), "publishedVersion", "cc-by-nc", False),
    (Choice(licences=("open",)), "acceptedVersion", "cc-by-nc-sa", True),
    (Choice(licences=("open",)), "acceptedVersion", "publisher-specific-oa", False),
    (Choice(licences=("open",)), None, None, False),
    (Choice(licences=("open", "unknown")), None, None, True),
    (Choice(("published",), ("cc-by",)), "publishedVersion", "cc-by-nc", False),
])
def test_a_candidate_is_kept_by_its_version_and_licence(choice, version, licence, kept):
    assert choice.keeps(version, licence) is kept


def test_why_none_names_what_was_asked_and_what_was_found():
    c = Choice(licences=("cc-by",))
    assert c.why_none([("publishedVersion", "cc-by-nc"), (None, None)]) == (
        "no candidate with licence cc-by (found: cc-by-nc, unknown)")
    v = Choice(versions=("published",))
    assert v.why_none([("submittedVersion", None)]) == (
        "no candidate with version published (found: submitted)")
    assert v.why_none([]) == "no candidate with version published (found: no candidate)"


def test_parsing_the_lists():
    assert parse_versions("published, accepted,published") == ("published", "accepted")
    assert parse_licences("CC-BY,cc0,Open") == ("cc-by", "cc0", "open")
    with pytest.raises(ValueError, match="unknown version 'final'"):
        parse_versions("published,final")
    with pytest.raises(ValueError):
        parse_licences(" , ")
    assert version_key("acceptedVersion") == "accepted" and version_key(None) == "unknown"
