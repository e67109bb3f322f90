import json
import os

import pytest

from papers.errors import StateError
from papers.state import SCHEMA, StateStore


def rec(n):
    return {"id": f"p{n}", "status": "downloaded", "path": f"/x/{n}.pdf", "bytes": n}


def test_roundtrip_through_journal_and_snapshot(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore(path)
    s.lock()
    s.load()
    for n in range(5):
        s.put(f"k{n}", rec(n))
    s.flush()
    # Before compaction the outcomes live in the journal, one line each.
    with open(path + ".journal") as f:
        assert len(f.read().splitlines()) == 5
    s.close()
    assert not os.path.exists(path + ".journal")
    with open(path) as f:
        data = json.load(f)
    assert data["schema"] == SCHEMA
    assert data["papers"]["k3"] == rec(3)
    t = StateStore(path)
    t.load()
    assert t.records == {f"k{n}": rec(n) for n in range(5)}


def test_journal_is_replayed_over_snapshot_and_torn_line_ignored(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore(path)
    s.load()
    s.put("a", rec(1))
    s.compact()
    s.put("a", rec(2))
    s.put("b", rec(3))
    s.flush()
    # A crash in the middle of writing the next line:
    with open(path + ".journal", "ab") as f:
        f.write(b'{"k":"c","r":{"id":"p')
    t = StateStore(path)
    t.load()
    assert t.records == {"a": rec(2), "b": rec(3)}
    # Appending after a torn line keeps the journal readable.
    t.put("d", rec(4))
    t.flush()
    u = StateStore(path)
    u.load()
    assert u.records == {"a": rec(2), "b": rec(3), "d": rec(4)}


def test_recording_one_outcome_does_not_rewrite_the_snapshot(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore(path)
    s.load()
    for n in range(1000):
        s.put(f"k{n}", rec(n))
    s.compact()
    before = os.stat(path).st_mtime_ns, os.path.getsize(path)
    s.put("new", rec(5))
    s.sync()
    assert (os.stat(path).st_mtime_ns, os.path.getsize(path)) == before
    assert os.path.getsize(path + ".journal") < 200


def test_corrupt_state_is_an_error_and_left_untouched(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"schema": 1, "papers": {"a": ')
    with pytest.raises(StateError) as e:
        StateStore(str(path)).load()
    assert "corrupt" in str(e.value) and str(path) in str(e.value)
    assert path.read_text() == '{"schema": 1, "papers": {"a": '


def test_corrupt_state_points_at_backup(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore(path)
    s.load()
    s.put("a", rec(1))
    s.compact()
    s.put("b", rec(2))
    s.compact()  # the first snapshot is now the .bak
    with open(path, "w") as f:
        f.write("garbage")
    with pytest.raises(StateError, match=r"mv .*state\.json\.bak"):
        StateStore(path).load()
    with open(path + ".bak") as f:
        assert json.load(f)["papers"] == {"a": rec(1)}


def test_newer_schema_refused(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"schema": SCHEMA + 1, "papers": {}}))
    with pytest.raises(StateError, match="schema"):
        StateStore(str(path)).load()


def test_corrupt_journal_middle_line_is_an_error(tmp_path):
    path = str(tmp_path / "state.json")
    with open(path + ".journal", "w") as f:
        f.write('{"k":"a","r":{}}\nnot json\n{"k":"b","r":{}}\n')
    with pytest.raises(StateError, match="journal .* corrupt at line 2"):
        StateStore(path).load()


def test_lock_refuses_a_second_user(tmp_path):
    path = str(tmp_path / "state.json")
    first = StateStore(path)
    first.lock()
    with pytest.raises(StateError, match="in use by another papers run"):
        StateStore(path).lock()
    first.close()
    again = StateStore(path)
    again.lock()
    again.close()


FIELDS = ("id", "status", "path", "bytes")


def test_compact_records_roundtrip_as_arrays(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore(path, FIELDS)
    s.load()
    s.put("a", {"id": "a", "status": "downloaded", "path": "/x", "bytes": 3, "ignored": 1})
    s.close()
    with open(path) as f:
        data = json.load(f)
    assert data["fields"] == list(FIELDS)
    assert data["blocks"] == [{"keys": ["a"], "columns": [["a"], ["downloaded"], ["/x"], [3]]}]
    t = StateStore(path, FIELDS)
    t.load()
    rec = t.get("a")
    assert rec["status"] == "downloaded" and rec.get("bytes") == 3 and rec.get("nope", 7) == 7
    assert rec.as_dict() == {"id": "a", "status": "downloaded", "path": "/x", "bytes": 3}


def test_schema_1_object_records_still_load(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"schema": 1, "papers": {"a": {"status": "failed", "bytes": 0, "id": "a"}}}))
    s = StateStore(str(path), FIELDS)
    s.load()
    assert s.get("a")["status"] == "failed" and s.get("a").get("path") is None


def test_records_follow_the_fields_the_file_was_written_with(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"schema": 2, "fields": ["status", "id"], "papers": {"a": ["downloaded", "a"]}}))
    s = StateStore(str(path), FIELDS)
    s.load()
    assert s.get("a")["status"] == "downloaded" and s.get("a")["id"] == "a"


WIDE = ("id", "status", "path", "bytes", "url", "updated", "permanent")


def wide(n):
    return {"id": f"https://h/{n}.pdf", "status": "downloaded" if n % 3 else "failed",
            "path": f"/x/{n}.pdf" + "y" * 200, "bytes": n,
            "url": f"https://h/{n}.pdf" if n % 2 else f"https://mirror/{n}.pdf",
            "updated": f"2026-11-28T00:00:{n % 60:02d}Z", "permanent": True if n % 5 == 0 else None}


def write_schema2(path, fields, records):
    """The layout papers wrote before schema 3: a record per line, as an array."""
    items = list(records.items())
    with open(path, "w") as f:
        f.write(json.dumps({"schema": 2, "fields": list(fields)}, separators=(",", ":"))[:-1] + ',"papers":{\n')
        for i, (k, v) in enumerate(items, 1):
            row = json.dumps([v.get(x) for x in fields], separators=(",", ":"))
            f.write(f"{json.dumps(k)}:{row}{',' if i < len(items) else ''}\n")
        f.write("}}\n")


def big_records(n=20_000):
    recs = {f"k{i}": wide(i) for i in range(n)}
    recs["one"] = {**wide(1), "permanent": 1, "status": "failed"}
    return recs


def write_state(path, layout, recs):
    if layout == "schema 2":
        write_schema2(path, WIDE, recs)
        return
    s = StateStore(path, WIDE)
    s.load()
    for k, v in recs.items():
        s.put(k, v)
    s.close()


@pytest.mark.parametrize("layout, block", [("schema 3", None), ("schema 2", StateStore.BLOCK),
                                           ("schema 2", 4096), ("schema 2", 301)])
def test_big_snapshot_loads_across_blocks_exactly(tmp_path, monkeypatch, layout, block):
    # Several blocks of records (and, for schema 2, of bytes); every record must come
    # back whole and in order, with shared values shared and ints not confused with True.
    path = str(tmp_path / "state.json")
    recs = big_records()
    write_state(path, layout, recs)
    if block:
        assert os.path.getsize(path) > StateStore.BLOCK
        monkeypatch.setattr(StateStore, "BLOCK", block)
    t = StateStore(path, WIDE)
    t.load()
    assert list(t.records) == list(recs)
    for k in ("k0", "k1", "k2", "k4095", "k4096", "k9999", "k19999"):
        assert t.get(k).as_dict() == {f: v for f, v in recs[k].items() if v is not None}
    assert t.get("one")["permanent"] == 1 and t.get("one")["permanent"] is not True
    a, b = t.get("k1"), t.get("k4")
    assert a["status"] is b["status"]                       # one string shared, not two
    assert a["url"] is a["id"] and t.get("k2")["url"] == "https://mirror/2.pdf"


def test_snapshot_is_one_json_document_of_column_blocks(tmp_path):
    path = str(tmp_path / "state.json")
    write_state(path, "schema 3", big_records(5000))
    with open(path) as f:
        lines = f.read().splitlines()
    assert len(lines) == 2 + 2  # head, 2 blocks (4096 + 905), close
    with open(path) as f:
        data = json.load(f)
    assert data["schema"] == SCHEMA == 3 and data["fields"] == list(WIDE)
    assert [len(b["keys"]) for b in data["blocks"]] == [4096, 905]
    assert all(len(c) == len(b["keys"]) for b in data["blocks"] for c in b["columns"])


def test_pretty_printed_snapshot_still_loads(tmp_path):
    # Hand-edited or reformatted (jq .) files take the whole-document way.
    path = str(tmp_path / "state.json")
    recs = big_records(300)
    write_state(path, "schema 3", recs)
    with open(path) as f:
        data = json.load(f)
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
    t = StateStore(path, WIDE)
    t.load()
    assert {k: r.as_dict() for k, r in t.records.items()} == {
        k: {f: v for f, v in r.items() if v is not None} for k, r in recs.items()}


def test_blocks_written_with_other_fields_are_matched_by_name(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"schema":3,"fields":["status","id","old"],"blocks":[\n'
                    '{"keys":["a","b"],"columns":[["downloaded","failed"],["a","b"],[1,2]]}\n]}\n')
    t = StateStore(str(path), FIELDS)
    t.load()
    assert t.get("a").as_dict() == {"id": "a", "status": "downloaded"}
    assert t.get("b")["status"] == "failed" and t.get("b")["path"] is None


CUT = lambda text: text[: len(text) // 2]                              # noqa: E731  no closing line
EXTRA = lambda text: text + '{"extra": 1}\n'                           # noqa: E731  after the end
BROKEN = lambda text: text.replace('"downloaded"', '"downloaded"]', 1)  # noqa: E731  bad JSON inside


def damaged(tmp_path, layout, damage) -> str:
    """A 50-record state in `layout`, then `damage` done to its text."""
    path = str(tmp_path / "state.json")
    write_state(path, layout, {f"k{i}": wide(i) for i in range(50)})
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(damage(text))
    return path


@pytest.mark.parametrize("layout", ["schema 3", "schema 2"])
@pytest.mark.parametrize("damage", [CUT, EXTRA, BROKEN])
def test_damaged_snapshot_is_reported_never_half_loaded(tmp_path, damage, layout):
    with pytest.raises(StateError, match="corrupt"):
        StateStore(damaged(tmp_path, layout, damage), WIDE).load()


def test_a_block_with_a_short_column_is_corrupt(tmp_path):
    # Valid JSON, wrong shape: a column shorter than the keys cannot be lined up.
    path = damaged(tmp_path, "schema 3", lambda text: text.replace('"downloaded",', "", 1))
    with pytest.raises(StateError, match="block 1 is not"):
        StateStore(path, WIDE).load()


def test_ragged_rows_still_load(tmp_path):
    # Hand-edited rows of the wrong length take the record-by-record way.
    path = tmp_path / "state.json"
    path.write_text('{"schema":2,"fields":["id","status","path","bytes"],"papers":{\n'
                    '"a":["a","downloaded","/x",3],\n"b":["b","failed"],\n"c":["c","downloaded","/z",1,"more"]\n}}\n')
    t = StateStore(str(path), FIELDS)
    t.load()
    assert t.get("b").as_dict() == {"id": "b", "status": "failed"}
    assert t.get("c").as_dict() == {"id": "c", "status": "downloaded", "path": "/z", "bytes": 1}
    assert t.get("a")["bytes"] == 3


def test_an_older_layout_is_rewritten_once_at_close(tmp_path):
    path = str(tmp_path / "state.json")
    recs = {f"k{i}": wide(i) for i in range(10)}
    write_schema2(path, WIDE, recs)
    s = StateStore.open(path, WIDE)
    s.close()
    with open(path) as f:
        data = json.load(f)
    assert data["schema"] == 3 and data["blocks"][0]["keys"] == list(recs)
    mtime = os.stat(path).st_mtime_ns
    t = StateStore.open(path, WIDE)
    t.close()
    assert os.stat(path).st_mtime_ns == mtime  # current layout, nothing new: not rewritten
