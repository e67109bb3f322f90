import json
import os

import pytest

from papers.state import SCHEMA, StateError, StateStore


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
    assert data["fields"] == list(FIELDS) and data["papers"]["a"] == ["a", "downloaded", "/x", 3]
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


@pytest.mark.parametrize("block", [StateStore.BLOCK, 4096, 301])
def test_big_snapshot_loads_across_blocks_exactly(tmp_path, monkeypatch, block):
    # > 4 MB, so the loader parses it in several blocks; every record must come back
    # whole and in order, with shared values shared and ints not confused with True.
    path = str(tmp_path / "state.json")
    s = StateStore(path, WIDE)
    s.load()
    n = 20_000
    for i in range(n):
        s.put(f"k{i}", wide(i))
    s.put("one", {**wide(1), "permanent": 1, "status": "failed"})
    s.close()
    assert os.path.getsize(path) > StateStore.BLOCK
    monkeypatch.setattr(StateStore, "BLOCK", block)
    t = StateStore(path, WIDE)
    t.load()
    assert list(t.records) == [f"k{i}" for i in range(n)] + ["one"]
    for i in (0, 1, 2, 4095, 4096, 9999, n - 1):
        assert t.get(f"k{i}").as_dict() == {k: v for k, v in wide(i).items() if v is not None}
    assert t.get("one")["permanent"] == 1 and t.get("one")["permanent"] is not True
    a, b = t.get("k1"), t.get("k4")
    assert a["status"] is b["status"]                       # one string shared, not two
    assert a["url"] is a["id"] and t.get("k2")["url"] == "https://mirror/2.pdf"


@pytest.mark.parametrize("damage", [
    lambda text: text[: len(text) // 2],                        # cut short: no closing line
    lambda text: text + '{"extra": 1}\n',                       # something after the end
    lambda text: text.replace('"downloaded"', '"downloaded"]', 1),  # a broken record
])
def test_damaged_snapshot_is_reported_never_half_loaded(tmp_path, damage):
    path = str(tmp_path / "state.json")
    s = StateStore(path, WIDE)
    s.load()
    for i in range(50):
        s.put(f"k{i}", wide(i))
    s.close()
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(damage(text))
    t = StateStore(path, WIDE)
    with pytest.raises(StateError, match="corrupt"):
        t.load()


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
