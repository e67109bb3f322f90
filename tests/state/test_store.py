import json
import os

import pytest

from papers.errors import StateError
from papers.state.records import FIELDS, PaperRecord
from papers.state.snapshot import SCHEMA
from papers.state.store import StateStore


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


def wide(n):
    return PaperRecord(id=f"https://h/{n}.pdf", status="downloaded" if n % 3 else "failed",
                       path=f"/x/{n}.pdf" + "y" * 200, bytes=n,
                       url=f"https://h/{n}.pdf" if n % 2 else f"https://mirror/{n}.pdf",
                       updated=f"2026-11-28T00:00:{n % 60:02d}Z", permanent=True if n % 5 == 0 else None,
                       title="Ünïcode \"quoted\"\nand a newline" if n % 7 == 0 else None)


def big_records(n=20_000):
    return {f"k{i}": wide(i) for i in range(n)}


def write_state(path, recs):
    s = StateStore(path, PaperRecord)
    s.load()
    for k, v in recs.items():
        s.put(k, v)
    s.close()


def load(path):
    t = StateStore(str(path), PaperRecord)
    t.load()
    return t


def test_typed_records_roundtrip_one_paper_per_line(tmp_path):
    path = str(tmp_path / "state.json")
    recs = big_records(50)
    write_state(path, recs)
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == '{"schema":%d,"papers":{' % SCHEMA and lines[-1] == "}}"
    assert len(lines) == 2 + 50
    # grep finds a paper's line; jq '.papers["k7"]' finds its object.
    (line,) = [x for x in lines if x.startswith('"k7":')]
    assert json.loads("{" + line.rstrip(",") + "}")["k7"] == recs["k7"].to_json()
    with open(path) as f:
        assert json.load(f)["papers"]["k3"] == {"id": "https://h/3.pdf", "status": "failed",
                                                "path": "/x/3.pdf" + "y" * 200, "bytes": 3,
                                                "url": "https://h/3.pdf", "attempts": 0,
                                                "updated": "2026-11-28T00:00:03Z"}
    assert load(path).records == recs


@pytest.mark.parametrize("block", [StateStore.BLOCK, 4096, 301])
def test_big_snapshot_loads_across_blocks_exactly(tmp_path, monkeypatch, block):
    path = str(tmp_path / "state.json")
    recs = big_records()
    write_state(path, recs)
    assert os.path.getsize(path) > StateStore.BLOCK
    monkeypatch.setattr(StateStore, "BLOCK", block)
    t = load(path)
    assert list(t.records) == list(recs) and t.records == recs
    assert not t.snapshot.old_layout  # the current layout: read line by line, not rewritten


SCHEMA_1 = {"schema": 1, "papers": {"a": {"id": "a", "status": "failed", "bytes": 0, "gone": 1}}}
SCHEMA_2 = {"schema": 2, "fields": ["status", "id", "bytes"], "papers": {"a": ["failed", "a", 0]}}
SCHEMA_3 = {"schema": 3, "fields": ["status", "id", "old", "bytes"],
            "blocks": [{"keys": ["a"], "columns": [["failed"], ["a"], [1], [0]]}]}
SCHEMA_4_PRETTY = {"schema": 4, "papers": {"a": {"id": "a", "status": "failed", "bytes": 0}}}


@pytest.mark.parametrize("doc", [SCHEMA_1, SCHEMA_2, SCHEMA_3, SCHEMA_4_PRETTY],
                         ids=["schema 1", "schema 2", "schema 3", "schema 4 pretty-printed"])
def test_older_layouts_are_upgraded_once(tmp_path, doc):
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc, indent=2))
    s = StateStore.open(str(path), PaperRecord)
    assert s.records == {"a": PaperRecord(id="a", status="failed", bytes=0)}
    s.close()
    assert path.read_text().splitlines()[1] == '"a":{"id":"a","status":"failed","bytes":0,"attempts":0}'
    mtime = os.stat(path).st_mtime_ns
    StateStore.open(str(path), PaperRecord).close()
    assert os.stat(path).st_mtime_ns == mtime  # current layout, nothing new: not rewritten


def test_ragged_schema_2_rows_still_load(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"schema":2,"fields":["id","status","path","bytes"],"papers":{\n'
                    '"a":["a","downloaded","/x",3],\n"b":["b","failed"],\n"c":["c","downloaded","/z",1,"more"]\n}}\n')
    t = load(path)
    assert t.get("b") == PaperRecord(id="b", status="failed")
    assert t.get("c") == PaperRecord(id="c", status="downloaded", path="/z", bytes=1)


def test_journal_lines_of_an_older_papers_are_replayed(tmp_path):
    # Before schema 4 a journal line held the record as an array in FIELDS order.
    path = tmp_path / "state.json"
    old = ["a", "downloaded", "/x/a.pdf", 5] + [None] * (len(FIELDS) - 4)
    (tmp_path / "state.json.journal").write_text(json.dumps({"k": "a", "r": old}) + "\n")
    assert load(path).get("a") == PaperRecord(id="a", status="downloaded", path="/x/a.pdf", bytes=5)


def test_a_record_without_id_or_status_is_corrupt(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"schema":4,"papers":{\n"a":{"id":"a","status":"failed"},\n"b":{"status":"failed"}\n}}\n')
    with pytest.raises(StateError, match="corrupt: not a paper record"):
        load(path)


CUT = lambda text: text[: len(text) // 2]                              # noqa: E731  no closing line
EXTRA = lambda text: text + '{"extra": 1}\n'                           # noqa: E731  after the end
BROKEN = lambda text: text.replace('"downloaded"', '"downloaded"]', 1)  # noqa: E731  bad JSON inside


@pytest.mark.parametrize("damage", [CUT, EXTRA, BROKEN])
def test_damaged_snapshot_is_reported_never_half_loaded(tmp_path, damage):
    path = str(tmp_path / "state.json")
    write_state(path, {f"k{i}": wide(i) for i in range(50)})
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(damage(text))
    with pytest.raises(StateError, match="corrupt"):
        load(path)


def test_a_block_with_a_short_column_is_corrupt(tmp_path):
    path = tmp_path / "state.json"
    path.write_text('{"schema":3,"fields":["id","status"],"blocks":[\n'
                    '{"keys":["a","b"],"columns":[["a","b"],["failed"]]}\n]}\n')
    with pytest.raises(StateError, match="block 1 is not"):
        load(path)


@pytest.mark.parametrize("block", [StateStore.BLOCK, 1000, 37])
def test_a_long_journal_replays_in_runs_and_names_its_bad_line(tmp_path, monkeypatch, block):
    monkeypatch.setattr(StateStore, "BLOCK", block)
    path = str(tmp_path / "state.json")
    s = StateStore(path, PaperRecord)
    s.load()
    for n in range(500):
        s.put(f"k{n % 300}", wide(n))  # later lines overwrite earlier ones
    s.flush()
    with open(path + ".journal", "ab") as f:
        f.write(b'{"k":"torn","r":{"id":')
    t = load(path)
    assert t.records == {f"k{n % 300}": wide(n) for n in range(500)}
    assert t.journal_lines == 501
    with open(path + ".journal", "rb") as f:
        lines = f.read().split(b"\n")
    lines[376] = lines[376].replace(b'"status"', b'"statu"')  # no status: not a record
    with open(path + ".journal", "wb") as f:
        f.write(b"\n".join(lines))
    with pytest.raises(StateError, match="corrupt at line 377;"):
        load(path)


def test_a_big_state_keeps_a_short_journal_and_folds_a_long_one(tmp_path, monkeypatch):
    monkeypatch.setattr(StateStore, "SMALL", 10)
    monkeypatch.setattr(StateStore, "MIN_JOURNAL", 5)
    path = str(tmp_path / "state.json")
    write_state(path, big_records(100))  # no snapshot yet: written at close
    snapshot = os.stat(path).st_mtime_ns
    s = StateStore.open(path, PaperRecord)
    for n in range(5):
        s.put(f"new{n}", wide(n))
    assert not s.compact_due()  # 5 lines over 105 papers: under a sixteenth
    s.close()
    assert os.stat(path).st_mtime_ns == snapshot and os.path.exists(path + ".journal")
    t = StateStore.open(path, PaperRecord)
    assert len(t.records) == 105 and t.journal_lines == 5
    for n in range(4):
        t.put(f"more{n}", wide(n))
    t.flush()
    assert t.compact_due()  # 9 lines over 109 papers: over a sixteenth
    t.close()
    assert not os.path.exists(path + ".journal") and len(load(path).records) == 109


def test_a_small_state_is_compacted_at_every_close(tmp_path):
    path = str(tmp_path / "state.json")
    write_state(path, big_records(100))
    s = StateStore.open(path, PaperRecord)
    s.put("new", wide(1))
    s.close()
    assert not os.path.exists(path + ".journal")
    assert json.load(open(path))["papers"]["new"] == wide(1).to_json()


@pytest.mark.parametrize("block", [1 << 22, 700])  # one run of lines, or many
def test_compaction_copies_unchanged_lines_and_rewrites_changed_ones(tmp_path, monkeypatch, block):
    # An unchanged paper's line is copied from the old snapshot as it is (the marker field
    # below, which records drop when loaded, survives); a paper recorded since is written
    # anew, in the same place; a new paper comes last.
    monkeypatch.setattr(StateStore, "SMALL", 10)
    monkeypatch.setattr(StateStore, "BLOCK", block)
    path = str(tmp_path / "state.json")
    write_state(path, big_records(50))
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    marked = [line.replace(b'"id":', b'"x-marker":1,"id":', 1) if line.startswith(b'"k') else line
              for line in lines]
    with open(path, "wb") as f:
        f.write(b"\n".join(marked))
    s = StateStore.open(path, PaperRecord)
    s.put("k7", wide(1007))
    s.put("k49", wide(1049))  # the old snapshot's last line, which had no comma
    s.put("late", wide(5))
    s.compact()
    s.close()
    papers = json.load(open(path))["papers"]
    assert list(papers) == [f"k{i}" for i in range(50)] + ["late"]
    assert papers["k7"] == wide(1007).to_json() and papers["k49"] == wide(1049).to_json()
    assert papers["k8"] == {"x-marker": 1, **wide(8).to_json()}
    assert sum("x-marker" in p for p in papers.values()) == 48
    assert load(path).records == {**big_records(50), "k7": wide(1007), "k49": wide(1049), "late": wide(5)}
    again = StateStore.open(path, PaperRecord)  # the new snapshot is copied from in turn
    again.put("later", wide(6))
    again.compact()
    again.close()
    assert len(json.load(open(path))["papers"]) == 52 and "x-marker" in json.load(open(path))["papers"]["k8"]


@pytest.mark.parametrize("block", [1 << 22, 700])
def test_compaction_after_a_journal_replay_rewrites_the_replayed_papers(tmp_path, monkeypatch, block):
    # Outcomes that a resume replays from the journal are newer than their snapshot lines.
    monkeypatch.setattr(StateStore, "SMALL", 10)
    monkeypatch.setattr(StateStore, "BLOCK", block)
    path = str(tmp_path / "state.json")
    write_state(path, big_records(50))
    s = StateStore.open(path, PaperRecord)
    s.put("k3", wide(999))
    s.put("k40", wide(998))
    s.close()  # a big state: the two stay in the journal
    assert os.path.exists(path + ".journal")
    t = StateStore.open(path, PaperRecord)
    t.put("k4", wide(997))
    t.compact()
    t.close()
    want = {**big_records(50), "k3": wide(999), "k40": wide(998), "k4": wide(997)}
    assert json.load(open(path))["papers"] == {k: v.to_json() for k, v in want.items()}
    assert not os.path.exists(path + ".journal")


def test_compaction_out_of_step_with_the_snapshot_encodes_every_record(tmp_path):
    # A state whose records were replaced (merge-state) no longer follows the snapshot's
    # lines: nothing is copied from it.
    path = str(tmp_path / "state.json")
    write_state(path, big_records(20))
    s = StateStore.open(path, PaperRecord)
    s.adopt({f"k{i}": wide(100 + i) for i in reversed(range(20))})
    s.compact()
    s.close()
    assert json.load(open(path))["papers"] == {f"k{i}": wide(100 + i).to_json() for i in reversed(range(20))}


def test_compaction_of_a_state_without_papers_and_of_one_paper(tmp_path):
    path = str(tmp_path / "state.json")
    s = StateStore.open(path, PaperRecord)
    s.close()
    assert json.load(open(path)) == {"schema": SCHEMA, "papers": {}}
    for n in range(2):
        t = StateStore.open(path, PaperRecord)
        t.put(f"k{n}", wide(n))
        t.compact()
        t.close()
    assert load(path).records == {"k0": wide(0), "k1": wide(1)}
