"""--version and --license over the candidates the fake APIs name: only a copy the user
may take is fetched; with none left the paper says what was asked and what was found;
the chosen version and licence go into --json, the state and --metadata json."""

import json

from conftest import pdfs_in, read_state


def world(fake):
    pub, pub_body = fake.pdf("pub.pdf", 1)     # OpenAlex: publishedVersion, cc-by
    repo, repo_body = fake.pdf("repo.pdf", 2)  # OpenAlex: acceptedVersion, cc-by
    fake.add(doi="10.1000/two", openalex_pdf=pub, openalex_repo_pdf=repo)
    return pub_body, repo_body


def test_version_takes_only_that_copy_and_says_so_everywhere(fake, cfg, papers, tmp_path):
    _, repo_body = world(fake)
    out = tmp_path / "o"
    r = papers("download", "-c", cfg(), "-o", str(out), "--json", "--version", "accepted",
               "--metadata", "json", "10.1000/two", fast=False)
    assert r.code == 0, r.stderr
    (line,) = r.lines
    assert line["version"] == "acceptedVersion" and line["license"] == "cc-by"
    assert list(pdfs_in(out).values()) == [repo_body]
    rec = read_state(out / ".papers-state.json")["doi:10.1000/two"]
    assert rec["version"] == "acceptedVersion" and rec["license"] == "cc-by"
    meta = json.loads(open(line["path"][:-4] + ".json").read())
    assert meta["version"] == "acceptedVersion" and meta["license"] == "cc-by"


def test_no_candidate_left_says_what_was_asked_and_found(fake, cfg, papers, tmp_path):
    world(fake)
    r = papers("download", "-c", cfg(), "-o", str(tmp_path / "o"), "--json", "--license",
               "cc-by-nc", "10.1000/two", fast=False)
    assert r.code == 1
    assert r.lines[0]["error"] == "no candidate with licence cc-by-nc (found: cc-by)"
    assert not pdfs_in(tmp_path / "o")
    assert not fake.server.hits("/files/pub.pdf") and not fake.server.hits("/files/repo.pdf")
    # The DOI's own page names no licence: not tried either.
    assert not [q for q in fake.server.requests if q.path.startswith("/doi/")]


def test_open_takes_any_creative_commons_copy_and_a_plain_url_is_unknown(fake, cfg, papers,
                                                                        tmp_path):
    pub_body, _ = world(fake)
    url, _ = fake.pdf("plain.pdf", 3)
    path = cfg()
    r = papers("download", "-c", path, "-o", str(tmp_path / "o"), "--json", "--license", "open",
               "10.1000/two", url, fast=False)
    by = {x["id"]: x for x in r.lines}
    assert by["10.1000/two"]["status"] == "downloaded"
    assert by[url]["error"] == "no candidate with licence open (found: unknown)"
    assert not fake.server.hits("/files/plain.pdf")
    r2 = papers("download", "-c", path, "-o", str(tmp_path / "o2"), "--license", "open,unknown",
                url, fast=False)
    assert r2.code == 0, r2.stderr


def test_a_bad_list_is_a_one_line_error(fake, cfg, papers, tmp_path):
    r = papers("download", "-c", cfg(), "-o", str(tmp_path / "o"), "--version", "final",
               "10.1000/x")
    assert r.code == 2 and "unknown version 'final'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_the_bibtex_library_says_the_files_version_and_licence(fake, cfg, papers, tmp_path):
    world(fake)
    fake.add(doi="10.1000/noted", openalex_pdf=fake.pdf("noted.pdf", 4)[0])
    bib = tmp_path / "in.bib"
    bib.write_text("@article{mine, title = {Mine}, doi = {10.1000/noted}, note = {my own note}}\n")
    lib = tmp_path / "library.bib"
    r = papers("download", "-c", cfg(), "-o", str(tmp_path / "o"), "--version", "accepted,published",
               "--bibtex", str(lib), "-i", str(bib), "10.1000/two", fast=False)
    assert r.code == 0, r.stderr
    import bibtexparser

    entries = {e.fields_dict["doi"].value.strip("{}"): e for e in
               bibtexparser.parse_string(lib.read_text()).entries}
    two = entries["10.1000/two"].fields_dict
    assert two["license"].value == "cc-by"
    assert two["note"].value == "PDF: published version, licence cc-by"
    mine = entries["10.1000/noted"].fields_dict
    assert mine["note"].value.strip("{}") == "my own note"  # the user's field as written
    assert mine["license"].value.strip("{}") == "cc-by"
