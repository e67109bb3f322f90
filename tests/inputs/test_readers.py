import io

import pytest

from papers.errors import InputError
from papers.inputs.readers import iter_papers, read_stream


def ids(text: str, name: str = "in") -> list[str]:
    return [p.id for p in read_stream(io.StringIO(text), name)]


@pytest.mark.parametrize("text, expected", [
    ("http://a/1.pdf\n\n# comment\n  http://a/2.pdf  \n", ["http://a/1.pdf", "http://a/2.pdf"]),
    ("# only comments\n\n", []),
    ("", []),
    ('[{"url": "http://a/1.pdf"}, "http://a/2.pdf", {"id": "x", "pdf_url": "http://a/3"}]',
     ["http://a/1.pdf", "http://a/2.pdf", "x"]),
    ('\n  [\n  ]\n', []),
    ('{"papers": [{"doi": "10.1000/A"}]}', ["10.1000/a"]),
    ('{\n  "papers": [\n    {"doi": "10.1000/A"}\n  ]\n}\n', ["10.1000/a"]),
    ('{"url": "http://a/1.pdf"}\n\n{"doi": "10.1000/b", "id": "b"}\n', ["http://a/1.pdf", "b"]),
])
def test_formats(text, expected):
    assert ids(text) == expected


@pytest.mark.parametrize("text, message", [
    ('[{"url": "http://a"},\n {"url": }\n]', "in:2: malformed JSON"),
    ('[{"url": "http://a"}\n {"url": "b"}]', "in:2: malformed JSON: expected ',' or ']'"),
    ('[{"url": "http://a"},', "in:1: malformed JSON"),
    ('{\n "papers": [1,\n}', "in:3: malformed JSON"),
    ('{\n "other": []\n}', 'a JSON object must look like {"papers": [...]}'),
    ('[{"url": "http://a"}] trailing', "extra data after the JSON array"),
])
def test_malformed_json_names_the_line(text, message):
    with pytest.raises(InputError) as e:
        ids(text)
    assert message in str(e.value)


@pytest.mark.parametrize("text, bad_id, reason, good", [
    ('{"url": "http://a/1.pdf"}\n{"url": "http://b"\n{"url": "http://a/3.pdf"}\n', "in:2",
     "malformed JSON: Expecting ',' delimiter (column 20)", ["http://a/1.pdf", "http://a/3.pdf"]),
    ('[1]', "in:1", "expected a paper record (JSON object) or a string, got int 1", []),
    ('[{"url": "http://a/1.pdf"},\n 42,\n "http://a/3.pdf"]', "in:2",
     "expected a paper record (JSON object) or a string, got int 42", ["http://a/1.pdf", "http://a/3.pdf"]),
    ('{"papers": [null, "http://a/2.pdf"]}', "in: papers[0]",
     "expected a paper record (JSON object) or a string, got NoneType null", ["http://a/2.pdf"]),
    ('{"url": "http://a/1.pdf"}\n[3]\n', "in:2", "expected a paper record", ["http://a/1.pdf"]),
])
def test_a_bad_json_record_fails_alone_at_its_line_and_the_rest_goes_on(text, bad_id, reason, good):
    papers = list(read_stream(io.StringIO(text), "in"))
    bad = [p for p in papers if p.problem]
    assert [p.id for p in bad] == [bad_id] and bad[0].problem.startswith(f"{bad_id}: {reason}"), bad
    assert [p.id for p in papers if not p.problem] == good


def test_big_json_array_streams_with_right_line_numbers():
    # Elements span many read chunks; an error far down still gets its line.
    items = [f'  {{"url": "http://h/{i}.pdf", "title": "{"x" * 50}"}}' for i in range(5000)]
    text = "[\n" + ",\n".join(items) + "\n]\n"
    assert len(ids(text)) == 5000
    broken = "[\n" + ",\n".join(items[:4000]) + ",\n  {bad}\n]"
    with pytest.raises(InputError, match=r"in:4002: malformed JSON"):
        ids(broken)


class CountingStream(io.StringIO):
    """Counts lines handed out, to prove the reader does not slurp its input."""

    def __init__(self, text):
        super().__init__(text)
        self.lines_read = 0

    def __next__(self):
        line = super().__next__()
        self.lines_read += 1
        return line


@pytest.mark.parametrize("make", [
    lambda i: f"http://h/{i}.pdf",
    lambda i: f'{{"url": "http://h/{i}.pdf"}}',
])
def test_text_and_json_lines_are_read_lazily(make):
    stream = CountingStream("\n".join(make(i) for i in range(100_000)) + "\n")
    it = read_stream(stream, "big")
    first = [next(it) for _ in range(3)]
    assert [p.id for p in first] == [f"http://h/{i}.pdf" for i in range(3)]
    assert stream.lines_read < 10


def test_json_array_is_read_lazily():
    stream = CountingStream("[\n" + ",\n".join(f'"http://h/{i}.pdf"' for i in range(100_000)) + "\n]")
    it = read_stream(stream, "big")
    next(it)
    assert stream.lines_read < 20_000  # one read chunk, not the whole input


def test_iter_papers_args_then_files(tmp_path):
    f = tmp_path / "list.txt"
    f.write_text("http://a/2.pdf\n")
    out = [p.id for p in iter_papers(["http://a/1.pdf"], [str(f), "-"], io.StringIO("http://a/3.pdf\n"))]
    assert out == ["http://a/1.pdf", "http://a/2.pdf", "http://a/3.pdf"]


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_papers([], [str(tmp_path / "nope.txt")], io.StringIO("")))


def test_not_utf8_is_an_input_error(tmp_path):
    f = tmp_path / "bin.txt"
    f.write_bytes(b"http://a/1.pdf\n\xff\xfe\x00junk\n")
    with pytest.raises(InputError, match="not UTF-8"):
        list(iter_papers([], [str(f)], io.StringIO("")))


@pytest.mark.parametrize("content, expected", [
    ("http://a/1\n# c\n\nhttp://a/2\n", 2),
    ('{"url": "http://a/1"}\n{"url": "http://a/2"}\n{"url": "http://a/3"}\n', 3),
    ('[\n{"url": "http://a/1"}\n]\n', None),
    ('{\n "papers": []\n}\n', None),
])
def test_estimate_count(tmp_path, content, expected):
    from papers.inputs.readers import estimate_count

    f = tmp_path / "in"
    f.write_text(content)
    assert estimate_count(["x"], [str(f)]) == (None if expected is None else expected + 1)
    assert estimate_count([], ["-"]) is None
