import io
import json

import pytest

from edge.factories import cross, tee
from edge.record import RecordError, RecordWriter, read_record


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_writes_header_then_changes_only(tmp_path):
    path = tmp_path / "run.jsonl"
    with RecordWriter(path) as rec:
        rec.header(cross())
        assert rec.change(0.0, "cross", "f" * 8)
        assert not rec.change(0.5, "cross", "f" * 8)
        assert rec.change(5.00049, "cross", "r" * 8)
        # flushed at once: readable while the writer is open
        assert len(path.read_text().splitlines()) == 3
    got = lines(path)
    assert got[0] == {"type": "header", **cross().record_header()}
    assert got[1:] == [
        {"t": 0.0, "intersection": "cross", "signals": "ffffffff"},
        {"t": 5.0, "intersection": "cross", "signals": "rrrrrrrr"},
    ]


def test_changes_are_tracked_per_intersection():
    buf = io.StringIO()
    rec = RecordWriter(buf)
    rec.header(cross())
    rec.header(tee())
    assert rec.change(1.0, "cross", "r" * 8)
    assert rec.change(1.0, "tee", "r" * 5)
    assert not rec.change(2.0, "tee", "r" * 5)
    assert rec.change(2.0, "tee", "Grrrr")
    rec.close()
    assert not buf.closed  # a file we were given stays open
    rows = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [r.get("intersection") for r in rows] == ["cross", "tee", "cross", "tee", "tee"]


def test_change_rejects_bad_input():
    rec = RecordWriter(io.StringIO())
    with pytest.raises(ValueError, match="no header.*'cross'"):
        rec.change(0.0, "cross", "r" * 8)
    rec.header(cross())
    with pytest.raises(ValueError, match="'rrr'"):
        rec.change(0.0, "cross", "rrr")
    with pytest.raises(ValueError, match="'GGGGGGGX'"):
        rec.change(0.0, "cross", "GGGGGGGX")


def test_owned_file_is_closed(tmp_path):
    rec = RecordWriter(tmp_path / "r.jsonl")
    rec.close()
    rec.close()  # twice is fine
    with pytest.raises(ValueError, match="closed file"):
        rec.header(tee())


def test_read_record_round_trip(tmp_path):
    path = tmp_path / "run.jsonl"
    with RecordWriter(str(path)) as rec:
        rec.header(tee())
        rec.change(0.0, "tee", "fffff")
        rec.change(5.0, "tee", "rrrrr")
    with path.open("a") as f:
        f.write("\n")  # blank lines are ignored
    headers, rows = read_record(path)
    assert headers == {"tee": tee().record_header()}
    assert [r["signals"] for r in rows] == ["fffff", "rrrrr"]


@pytest.mark.parametrize(
    "bad_line, match",
    [
        ('{"t": 1.0, "intersection": "tee", "signals": "rrr', "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"t": 1.0, "signals": "rrrrr"}', "'intersection' must be a string"),
        ('{"t": "x", "intersection": "tee", "signals": "rrrrr"}', "'t' must be a number"),
        ('{"t": 1.0, "intersection": "tee", "signals": 5}', "'signals' must be a string"),
        ('{"t": 1.0, "intersection": "cross", "signals": "rrrr"}', "'cross' has no header"),
        ('{"type": "footer", "intersection": "tee"}', "unknown line type 'footer'"),
        ('{"type": "header", "intersection": "tee", "groups": []}', "different second header"),
    ],
)
def test_read_record_errors_name_the_line(tmp_path, bad_line, match):
    path = tmp_path / "bad.jsonl"
    header = json.dumps(tee().record_header())
    row = '{"t": 0.0, "intersection": "tee", "signals": "fffff"}'
    path.write_text("\n".join([header, row, bad_line, row]) + "\n")
    with pytest.raises(RecordError, match=match) as err:
        read_record(path)
    assert f"{path}:3:" in str(err.value)


def test_repeated_identical_header_is_accepted(tmp_path):
    path = tmp_path / "two.jsonl"
    header = json.dumps(tee().record_header())
    path.write_text(header + "\n" + header + "\n")
    headers, rows = read_record(path)
    assert list(headers) == ["tee"] and rows == []
