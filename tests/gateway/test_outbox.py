"""gateway.outbox: order, acknowledgement, the bound policy, and surviving a crash."""

import sqlite3

import pytest

from gateway.outbox import DECISIONS, EVENTS, STREAMS, TELEMETRY, Outbox, OutboxFull


class Clock:
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture
def path(tmp_path):
    return tmp_path / "outbox.sqlite3"


def put_tel(box, n):
    return [box.put(TELEMETRY, {"n": i}, topic="x/telemetry") for i in range(n)]


def test_rows_come_back_in_order_with_session_and_seq_per_stream(path):
    box = Outbox(path)
    a = box.put(TELEMETRY, {"t": 1.0}, topic="x/telemetry")
    b = box.put(EVENTS, {"t": 1.5, "event": "boot"}, topic="x/events")
    c = box.put(TELEMETRY, {"t": 2.0}, topic="x/telemetry")
    rows = box.pending()
    assert [r.id for r in rows] == [a, b, c]
    assert [(r.stream, r.seq) for r in rows] == [(TELEMETRY, 1), (EVENTS, 1), (TELEMETRY, 2)]
    assert rows[1].topic == "x/events"
    assert rows[1].payload == {"t": 1.5, "event": "boot", "session": 1, "seq": 1}
    assert {r.session for r in rows} == {box.session} == {1}
    assert [r.id for r in box.pending(after=a)] == [b, c]
    assert [r.id for r in box.pending(limit=1)] == [a]


def test_ack_removes_only_the_acknowledged_rows(path):
    box = Outbox(path)
    ids = put_tel(box, 4)
    assert box.ack(ids[1], ids[3]) == 2
    assert [r.id for r in box.pending()] == [ids[0], ids[2]]
    assert box.ack(ids[1]) == 0  # a second PUBACK for the same row changes nothing
    assert box.depth() == 2 and box.depth(TELEMETRY) == 2 and box.depth(EVENTS) == 0


def test_oldest_age_is_measured_from_the_oldest_unsent_row(path):
    clock = Clock(1000.0)
    box = Outbox(path, clock=clock)
    assert box.oldest_age_s() == 0.0
    first = box.put(EVENTS, {"event": "boot"}, topic="x/events")
    clock.t = 1004.0
    box.put(EVENTS, {"event": "mode"}, topic="x/events")
    clock.t = 1010.0
    assert box.oldest_age_s() == pytest.approx(10.0)
    box.ack(first)
    assert box.oldest_age_s() == pytest.approx(6.0)
    assert box.oldest_age_s(now=1005.0) == pytest.approx(1.0)


def test_full_outbox_thins_the_oldest_telemetry_first(path):
    box = Outbox(path, max_rows=3)
    event = box.put(EVENTS, {"event": "boot"}, topic="x/events")
    ids = put_tel(box, 2)
    newest = box.put(TELEMETRY, {"n": 99}, topic="x/telemetry")
    assert [r.id for r in box.pending()] == [event, ids[1], newest]
    assert box.thinned == 1
    # an event also pushes out the oldest telemetry, never another event
    ev2 = box.put(EVENTS, {"event": "mode"}, topic="x/events")
    assert [r.id for r in box.pending()] == [event, newest, ev2]
    assert box.thinned == 2 and box.refused == 0


def test_full_outbox_of_events_refuses_the_next_event_loudly(path):
    box = Outbox(path, max_rows=2)
    ids = [box.put(EVENTS, {"event": "e"}, topic="x/events") for _ in range(2)]
    with pytest.raises(OutboxFull, match="full with 2 unsent events"):
        box.put(EVENTS, {"event": "lost?"}, topic="x/events")
    with pytest.raises(OutboxFull):
        box.put(TELEMETRY, {"n": 1}, topic="x/telemetry")
    assert box.refused == 2
    assert [r.id for r in box.pending()] == ids  # nothing already queued was dropped
    box.ack(ids[0])
    box.put(EVENTS, {"event": "room again"}, topic="x/events")
    assert box.depth(EVENTS) == 2
    # the refused ones used no sequence numbers: a consumer sees no false gap
    assert [r.seq for r in box.pending()] == [2, 3]


def test_decisions_are_their_own_stream_numbered_apart_from_events(path):
    box = Outbox(path)
    box.put(EVENTS, {"event": "mode"}, topic="x/events")
    box.put(DECISIONS, {"request": "hold", "result": "ok"}, topic="x/decision")
    box.put(EVENTS, {"event": "refused"}, topic="x/events")
    box.put(DECISIONS, {"request": "switch", "result": "refused: not green"}, topic="x/decision")
    rows = box.pending()
    assert [(r.stream, r.seq) for r in rows] == [
        (EVENTS, 1), (DECISIONS, 1), (EVENTS, 2), (DECISIONS, 2),
    ]  # fmt: skip
    assert rows[3].payload == {"request": "switch", "result": "refused: not green",
                               "session": 1, "seq": 2}  # fmt: skip
    assert box.depth(DECISIONS) == 2 and set(STREAMS) == {TELEMETRY, EVENTS, DECISIONS}


def test_a_full_outbox_thins_telemetry_for_a_decision_but_never_drops_one(path):
    box = Outbox(path, max_rows=2)
    tel = put_tel(box, 1)[0]
    d1 = box.put(DECISIONS, {"request": "hold"}, topic="x/decision")
    d2 = box.put(DECISIONS, {"request": "hold"}, topic="x/decision")  # telemetry makes room
    assert [r.id for r in box.pending()] == [d1, d2] and tel not in [r.id for r in box.pending()]
    assert box.thinned == 1
    with pytest.raises(OutboxFull, match="unsent events and decisions; the decisions message"):
        box.put(DECISIONS, {"request": "switch"}, topic="x/decision")
    with pytest.raises(OutboxFull, match="the events message"):
        box.put(EVENTS, {"event": "mode"}, topic="x/events")  # decisions are not thinned either
    assert box.refused == 2 and [r.id for r in box.pending()] == [d1, d2]


def test_a_second_open_after_a_crash_sees_the_unacked_rows_in_a_new_session(path):
    box = Outbox(path)
    ids = put_tel(box, 3)
    box.ack(ids[0])
    # No close(): a kill -9 leaves the WAL as it is. A second process opens the same file.
    again = Outbox(path)
    assert again.session == box.session + 1
    rows = again.pending()
    assert [(r.id, r.session, r.seq) for r in rows] == [(ids[1], 1, 2), (ids[2], 1, 3)]
    assert rows[0].payload == {"n": 1, "session": 1, "seq": 2}
    new = again.put(TELEMETRY, {"n": 9}, topic="x/telemetry")
    assert new > ids[2]  # after the backlog, never reusing an id
    assert again.pending()[-1].seq == 1  # a new session counts from 1 again


def test_sessions_count_up_across_clean_reopens(path):
    sessions = []
    for _ in range(3):
        box = Outbox(path)
        sessions.append(box.session)
        box.close()
    assert sessions == [1, 2, 3]


def test_the_file_is_in_wal_mode_with_full_sync(path):
    box = Outbox(path)
    box.put(EVENTS, {"event": "boot"}, topic="x/events")
    assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # another reader (a second process) sees the committed row without any close()
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    other.close()


@pytest.mark.parametrize("bad", [0, -1, 1.5, None])
def test_max_rows_must_be_a_positive_whole_number(path, bad):
    with pytest.raises(ValueError, match=f"not {bad!r}"):
        Outbox(path, max_rows=bad)


def test_an_unknown_stream_is_refused(path):
    with pytest.raises(ValueError, match="'decision'"):
        Outbox(path).put("decision", {}, topic="x/decision")


def test_a_path_that_cannot_be_opened_names_it(tmp_path):
    bad = tmp_path / "no-such-dir" / "outbox.sqlite3"
    with pytest.raises(OSError, match="no-such-dir"):
        Outbox(bad)


def test_notes_outlive_a_restart_and_leave_the_session_alone(path):
    box = Outbox(path)
    assert box.noted("plan") is None
    box.note(plan=2, plan_boot=0x51D)
    box.note(plan_boot=None)  # forgotten
    assert (box.noted("plan"), box.noted("plan_boot")) == (2, None)
    with pytest.raises(ValueError, match="session"):
        box.note(session=7)
    box.close()
    again = Outbox(path)
    assert again.session == 2 and again.noted("plan") == 2
