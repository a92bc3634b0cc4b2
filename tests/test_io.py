"""Bad input records are named by line and field and do not stop the job; partial output resumes."""

import json

from spct.io import InputError, JsonlWriter, done_ids, read_items


def test_bad_records_are_reported_and_the_rest_read(tmp_path):
    path = tmp_path / "in.jsonl"
    good = {"id": "a", "query": "q", "responses": ["x", "y"], "best": 1}
    lines = [
        json.dumps(good).encode(),
        b"{not json",
        json.dumps({"id": "b", "query": "q", "responses": []}).encode(),
        json.dumps({"id": "c", "query": "q", "responses": ["x"], "best": 0}).encode(),
        json.dumps({"id": "d", "query": 5, "responses": ["x"]}).encode(),
        b'{"id": "e", "query": "caf\xe9", "responses": ["x"]}',
        b"",
        json.dumps(good).encode(),
        json.dumps({"id": 7, "query": "q", "responses": ["only"], "rating": 0}).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    records = list(read_items(path))
    errors = [str(r) for r in records if isinstance(r, InputError)]
    items = [r for r in records if not isinstance(r, InputError)]
    assert [it.id for it in items] == ["a", "7"]
    assert len(errors) == 6
    assert ":2: not valid JSON" in errors[0]
    assert ":3 (id 'b'): field 'responses'" in errors[1]
    assert ":4 (id 'c')" in errors[2] and "best" in errors[2]
    assert ":5 (id 'd'): field 'query" in errors[3]
    assert ":6: not valid UTF-8" in errors[4]
    assert ":8: field 'id': 'a' appears more than once" in errors[5]


def test_over_long_texts_and_bad_conversations_are_named_by_line_and_field(tmp_path):
    path = tmp_path / "in.jsonl"
    lines = [
        {"id": "long", "query": "q", "responses": ["ok", "x" * 50]},
        {"id": "turn", "query": [{"role": "user", "content": "y" * 50}], "responses": ["a"]},
        {"id": "role", "query": [{"role": "robot", "content": "hi"}], "responses": ["a"]},
        {"id": "last", "query": [{"role": "assistant", "content": "hi"}], "responses": ["a"]},
        {"id": "fine", "query": "q", "responses": ["a"]},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    records = list(read_items(path, max_chars=40))
    errors = [str(r) for r in records if isinstance(r, InputError)]
    assert [r.id for r in records if not isinstance(r, InputError)] == ["fine"]
    assert ":1 (id 'long'): field 'responses.1': 50 characters, over the limit of 40" in errors[0]
    assert ":2 (id 'turn'): field 'query.0.content'" in errors[1]
    assert ":3 (id 'role'): field 'query" in errors[2] and "role" in errors[2]
    assert ":4 (id 'last')" in errors[3] and "user turn" in errors[3]


def test_resume_drops_a_cut_off_last_line(tmp_path):
    path = tmp_path / "out.jsonl"
    with JsonlWriter(path, append=False) as w:
        w.write({"id": "a"})
        w.write({"id": "b"})
    with open(path, "a") as f:
        f.write('{"id": "c", "rew')  # killed mid-write
    assert done_ids(path) == {"a", "b"}
    with JsonlWriter(path, append=True) as w:
        w.write({"id": "c"})
    assert [json.loads(x)["id"] for x in path.read_text().splitlines()] == ["a", "b", "c"]
    assert done_ids(tmp_path / "missing.jsonl") == set()
