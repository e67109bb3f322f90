"""Input that never surprises: a bad record fails alone at its line, odd encodings and
huge lines get one clear line, and the rest of the input goes on."""

import json
import os
import subprocess
import sys

import pytest

from support.faultserver import make_pdf


def _state_text(out) -> str:
    """The state's snapshot and journal as text: they must be valid UTF-8 throughout."""
    text = ""
    for name in (".papers-state.json", ".papers-state.json.journal"):
        path = os.path.join(out, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                text += f.read().decode("utf-8")  # raises on a surrogate written as bytes
    return text


def test_a_json_array_with_a_number_in_it_fails_that_element_alone(server, papers, tmp_path):
    a, b = server.pdf("/a.pdf", make_pdf(3000, 1)), server.pdf("/b.pdf", make_pdf(3000, 2))
    inp = tmp_path / "list.json"
    inp.write_text(f'[\n{{"url": "{a}"}},\n42,\n{{"url": "{b}"}}\n]\n')
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 1, r.stderr
    got = r.by_id()
    assert got[a]["status"] == got[b]["status"] == "downloaded"
    bad = got[f"{inp}:3"]
    assert bad["status"] == "failed" and "got int 42" in bad["error"]


def test_a_broken_json_lines_line_fails_alone_and_the_rest_goes_on(server, papers, tmp_path):
    a, b = server.pdf("/a.pdf", make_pdf(3000, 1)), server.pdf("/b.pdf", make_pdf(3000, 2))
    inp = tmp_path / "list.jsonl"
    inp.write_text(f'{{"url": "{a}"}}\n{{"url": "http://x/broken.pdf"\n{{"url": "{b}"}}\n')
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 1, r.stderr
    got = r.by_id()
    assert got[a]["status"] == got[b]["status"] == "downloaded"
    assert got[f"{inp}:2"]["error"].startswith(f"{inp}:2: malformed JSON")
    # The place is said once in the summary, not twice.
    assert f"failed: {inp}:2: malformed JSON" in r.stderr
    assert f"{inp}:2: {inp}:2" not in r.stderr


def test_a_ris_file_cut_short_still_gives_its_last_record(server, papers, tmp_path):
    a, b = server.pdf("/a.pdf", make_pdf(3000, 1)), server.pdf("/b.pdf", make_pdf(3000, 2))
    inp = tmp_path / "cut.ris"
    inp.write_text(f"TY  - JOUR\nTI  - First\nL1  - {a}\nER  - \n\n"
                   f"TY  - JOUR\nTI  - Cut short\nL1  - {b}\n")
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 0, r.stderr
    assert {x["url"] for x in r.lines} == {a, b}
    assert f"{inp}:6: the last RIS entry has no 'ER  -' line" in r.stderr


LATIN1_CSV = "Title;DOI;URL\nÉtude de l'été,,{url}\n".replace(";", ",")


def test_a_latin1_csv_is_one_line_with_its_line_and_a_hint_then_reads_with_encoding(
        server, papers, tmp_path):
    url = server.pdf("/e.pdf", make_pdf(3000, 3))
    inp = tmp_path / "excel.csv"
    inp.write_bytes(LATIN1_CSV.format(url=url).encode("latin-1"))
    r = papers("download", "-o", str(tmp_path / "o"), "-i", str(inp))
    assert r.code == 2
    assert r.stderr.strip().splitlines() == [
        f"papers: error: {inp}:2: not UTF-8 text (byte 0xc9 at column 1); if it is a "
        "spreadsheet's export, try --encoding latin-1 (or cp1252)"]
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "--encoding", "latin-1",
               "-i", str(inp), "--metadata", "json")
    assert r.code == 0, r.stderr
    meta = json.load(open(r.lines[0]["path"][:-4] + ".json"))
    assert meta["title"] == "Étude de l'été"


@pytest.mark.parametrize("bom, codec", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"),
                                        (b"\xfe\xff", "utf-16-be")])
def test_byte_order_marks_are_read(server, papers, tmp_path, bom, codec):
    urls = [server.pdf(f"/bom{i}.pdf", make_pdf(3000, 10 + i)) for i in range(2)]
    inp = tmp_path / "list.txt"
    inp.write_bytes(bom + "\n".join(urls).encode(codec) + "\n".encode(codec))
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 0, r.stderr
    assert sorted(x["url"] for x in r.lines) == sorted(urls)


def test_an_unknown_encoding_is_a_usage_error(papers, tmp_path):
    r = papers("download", "--encoding", "klingon", "-o", str(tmp_path / "o"), "10.1234/x")
    assert r.code == 2 and "--encoding klingon: not an encoding" in r.stderr


def test_binary_junk_on_stdin_is_one_short_line_and_no_surrogate_reaches_the_state(
        env, fast_config, tmp_path):
    junk = b"10.1234/fine\n" + bytes(range(128, 256)) * 64 + b"\n"
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o",
                        str(out), "--json"], input=junk, capture_output=True, env=env, timeout=60)
    err = p.stderr.decode()
    assert p.returncode == 2, err
    assert "<stdin>:2: not UTF-8 text (byte 0x80 at column 1)" in err
    assert len(err) < 1000 and "codec can't encode" not in err and "cannot record" not in err
    _state_text(out)


def test_a_non_utf8_argument_fails_alone_and_no_surrogate_reaches_the_state(server, env,
                                                                           fast_config, tmp_path):
    url = server.pdf("/ok.pdf", make_pdf(3000, 4))
    out = tmp_path / "o"
    p = subprocess.run([sys.executable.encode(), b"-m", b"papers", b"download", b"-c",
                        fast_config.encode(), b"-o", str(out).encode(), b"--json", url.encode(),
                        b"10.1234/caf\xe9"], capture_output=True, env=env, timeout=60)
    assert p.returncode == 1, p.stderr
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert [x["status"] for x in lines if x["id"] == url] == ["downloaded"]
    bad = [x for x in lines if x["id"] != url]
    assert len(bad) == 1 and "not UTF-8 text" in bad[0]["error"]
    assert "\\udc" not in _state_text(out)


def test_a_huge_line_is_named_by_its_length_never_echoed_recorded_or_sent(server, env,
                                                                         fast_config, tmp_path):
    ok = server.pdf("/ok.pdf", make_pdf(3000, 5))
    inp = tmp_path / "huge.txt"
    with open(inp, "wb") as f:
        f.write(ok.encode() + b"\n")
        f.write(b"x" * (50 * 1024 * 1024) + b"\n")                       # 50 MB of junk
        f.write(b"http://127.0.0.1:9/" + b"a" * (10 * 1024 * 1024) + b"\n")  # a 10 MB URL
        f.write(b"http://127.0.0.1:9/" + b"b" * 20_000 + b"\n")             # 20 KB, still not one
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "papers", "download", "-c", fast_config, "-o",
                        str(out), "--json", "-i", str(inp)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1, p.stderr[-2000:]
    got = {json.loads(x)["id"]: json.loads(x) for x in p.stdout.splitlines()}
    assert got[ok]["status"] == "downloaded"
    assert got[f"{inp}:2"]["error"] == f"{inp}:2: a line of 52,428,801 characters, not a paper"
    assert got[f"{inp}:3"]["error"].endswith("a line of 10,485,780 characters, not a paper")
    assert got[f"{inp}:4"]["error"].endswith("a line of 20,019 characters, not a paper")
    assert len(p.stdout) + len(p.stderr) < 5000
    assert len(_state_text(out)) < 20_000
    assert "internal error" not in p.stderr and "setopt" not in p.stderr
    assert server.requests_for("/ok.pdf") and len(server.requests) == 1  # nothing else was sent


def test_a_record_with_a_huge_url_fails_with_its_length(server, papers, tmp_path):
    inp = tmp_path / "big.jsonl"
    inp.write_text(json.dumps({"id": "big", "url": "http://127.0.0.1:9/" + "c" * 100_000}) + "\n")
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "-i", str(inp))
    assert r.code == 1
    assert "a URL of 100,019 characters is not one" in r.lines[0]["error"]
    assert "ccccc" not in r.stdout + r.stderr


def test_a_url_without_a_host_is_called_malformed(papers, tmp_path):
    r = papers("download", "-o", str(tmp_path / "o"), "--json", "http:///x.pdf")
    assert r.code == 1
    assert r.lines[0]["error"] == "malformed URL: no host name in 'http:///x.pdf'"
    assert "resolve" not in r.stderr


def test_a_forced_format_that_cannot_read_the_input_is_an_error(papers, tmp_path):
    inp = tmp_path / "dois.txt"
    inp.write_text("10.1234/a\n10.1234/b\n")
    r = papers("download", "-o", str(tmp_path / "o"), "--format", "bibtex", "-i", str(inp))
    assert r.code == 2
    assert f"{inp}: no BibTeX entry in it" in r.stderr and "no papers in the input" not in r.stderr


def test_a_mistyped_papers_variable_gets_a_warning_naming_the_setting(papers, env, tmp_path):
    env["PAPERS_WORKER"] = "4"
    r = papers("download", "--dry-run", "-o", str(tmp_path / "o"), "10.1234/x")
    assert r.code == 0
    assert "papers: warning: PAPERS_WORKER is not a papers setting, and is ignored; " \
           "did you mean PAPERS_WORKERS?" in r.stderr


def test_config_show_warns_of_a_mistyped_papers_variable_too(papers, env):
    env["PAPERS_RATELIMIT"] = "3"
    r = papers("config", "show")
    assert r.code == 0
    assert "PAPERS_RATELIMIT is not a papers setting, and is ignored; did you mean " \
           "PAPERS_RATE_LIMIT?" in r.stderr and "PAPERS_RATELIMIT" not in r.stdout
