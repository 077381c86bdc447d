# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.

from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware import ticks
from firmware.link import CommandDedup, LinkState

T0 = 5000


def test_down_until_the_first_frame():
    link = LinkState(T0)
    assert not link.up(T0)
    assert not link.up(T0 + 10_000)
    assert link.changed(T0 + 10_000) == 0  # never up: nothing to report, not even "down"


def test_up_after_a_frame_and_down_after_three_missed_heartbeats():
    link = LinkState(T0)
    link.heard(T0 + 100)
    assert link.up(T0 + 100)
    assert link.up(T0 + 100 + 2999)
    assert not link.up(T0 + 100 + 3000)
    assert not link.up(T0 + 100 + 2999)  # once down, it stays down until heard again
    link.heard(T0 + 4000)
    assert link.up(T0 + 4000)


def test_custom_heartbeat_and_misses():
    link = LinkState(0, heartbeat_ms=200, misses=2)
    link.heard(0)
    assert link.up(399) and not link.up(400)


def test_changed_reports_each_transition_once():
    link = LinkState(T0)
    assert link.changed(T0) == 0
    link.heard(T0 + 10)
    assert link.changed(T0 + 10) == 1
    assert link.changed(T0 + 20) == 0
    link.heard(T0 + 1000)
    assert link.changed(T0 + 1000) == 0  # staying up is not a change
    assert link.changed(T0 + 3999) == 0
    assert link.changed(T0 + 4000) == -1
    assert link.changed(T0 + 5000) == 0
    link.heard(T0 + 6000)
    assert link.changed(T0 + 6000) == 1
    assert link.changed(T0 + 6000) == 0


def test_outage_between_polls_reports_down_then_up():
    link = LinkState(T0)
    link.heard(T0)
    assert link.changed(T0) == 1
    link.heard(T0 + 9000)  # silent for 9 s, but nobody asked in between
    assert link.changed(T0 + 9000) == -1
    assert link.changed(T0 + 9001) == 1
    assert link.changed(T0 + 9002) == 0
    assert link.up(T0 + 9002)


def test_heartbeat_schedule():
    link = LinkState(T0)
    assert link.heartbeat_due(T0)  # announce ourselves at once
    link.sent_heartbeat(T0 + 5)
    assert not link.heartbeat_due(T0 + 5)
    assert not link.heartbeat_due(T0 + 1004)
    assert link.heartbeat_due(T0 + 1005)
    link.sent_heartbeat(T0 + 1010)
    assert not link.heartbeat_due(T0 + 2009)
    assert link.heartbeat_due(T0 + 2010)


def test_next_seq_wraps_at_65536():
    link = LinkState(T0, first_seq=65534)
    assert [link.next_seq() for _ in range(4)] == [65534, 65535, 0, 1]
    assert LinkState(T0).next_seq() == 0


def test_tick_wrap_seconds_before_2_30():
    # Two peers heart-beating every second across the board's counter wrap, then silence.
    start = ticks.PERIOD - 2500
    link = LinkState(start)
    sent = 0
    changes = []
    for step in range(0, 8000, 10):
        now = ticks.add(start, step)
        if step % 1000 == 0:
            link.heard(now)  # the peer's heartbeat
        if link.heartbeat_due(now):
            link.sent_heartbeat(now)
            sent += 1
        assert link.up(now), step
        c = link.changed(now)
        if c:
            changes.append((step, c))
    assert changes == [(0, 1)]
    assert sent == 8  # at 0, 1000, ... 7000: the wrap neither stalls nor floods them
    last = ticks.add(start, 7000)
    assert link.up(ticks.add(last, 2999))
    assert not link.up(ticks.add(last, 3000))
    assert link.changed(ticks.add(last, 3000)) == -1


def test_silence_across_the_wrap():
    start = ticks.PERIOD - 1000
    link = LinkState(start)
    link.heard(start)
    assert link.up(ticks.add(start, 2999))  # 1999 after the wrap
    assert not link.up(ticks.add(start, 3000))


def test_very_long_silence_stays_down():
    # More than half the tick period without a poll must not look like "just heard".
    link = LinkState(0)
    link.heard(0)
    link.sent_heartbeat(0)
    later = ticks.add(0, ticks.PERIOD // 2 + 100)
    assert not link.up(later)
    assert link.heartbeat_due(later)


def test_dedup_answers_a_retry_with_the_stored_answer():
    dd = CommandDedup()
    assert dd.lookup(7) is None
    dd.store(7, P.ACK_OK, "")
    assert dd.lookup(7) == (P.ACK_OK, "")
    assert dd.lookup(8) is None


def test_dedup_is_a_bounded_ring():
    dd = CommandDedup(size=4)
    for seq in range(6):
        dd.store(seq, P.ACK_OK, "")
    assert dd.lookup(0) is None and dd.lookup(1) is None  # oldest made room
    assert [dd.lookup(s) for s in range(2, 6)] == [(P.ACK_OK, "")] * 4
    dd.store(5, P.ACK_REFUSED, "again")  # same seq: replaced in place, nothing evicted
    assert dd.lookup(2) is not None and dd.lookup(5) == (P.ACK_REFUSED, "again")
    dd.clear()
    assert [dd.lookup(s) for s in range(6)] == [None] * 6


def test_dedup_tells_a_reused_seq_from_a_retry():
    dd = CommandDedup()
    hold = G.pack_command(P.CMD_HOLD, 0)
    dd.store(3, P.ACK_OK, "", hold)
    assert dd.lookup(3, hold) == (P.ACK_OK, "")
    assert dd.lookup(3, G.pack_command(P.CMD_SWITCH, 1)) is None  # a restarted peer's new command


def test_dedup_tells_short_and_long_payloads_apart():
    dd = CommandDedup()
    cases = [b"", b"\x01", b"\x00\x01", b"\x01\x00", b"\x00\x00\x01", b"\x01" * 4, b"\x02" * 200]
    for seq, cmd in enumerate(cases):
        dd.store(seq, P.ACK_MALFORMED, "x", cmd)
    for seq, cmd in enumerate(cases):
        assert dd.lookup(seq, bytearray(cmd)) == (P.ACK_MALFORMED, "x"), cmd
        for other in cases:
            if other != cmd:
                assert dd.lookup(seq, other) is None, (cmd, other)


def _controller(runs):
    """A minimal controller side: decode commands, run each seq once, ACK every copy."""
    dec = P.Decoder()
    dd = CommandDedup()
    link = LinkState(0)

    def rx(now, data):
        out = b""
        for mtype, seq, payload in dec.feed(data):
            link.heard(now)
            if mtype != P.T_COMMAND:
                continue
            answer = dd.lookup(seq, payload)
            if answer is None:
                code, arg = P.unpack_command(payload)
                runs.append((code, arg))
                answer = (P.ACK_OK, "")
                dd.store(seq, answer[0], answer[1], payload)
            out += P.encode(P.T_ACK, link.next_seq(), P.pack_ack(seq, *answer))
        return out

    return rx, link


def test_retried_command_runs_once_and_is_acked_twice():
    runs = []
    rx, link = _controller(runs)
    cmd = P.encode(P.T_COMMAND, 41, G.pack_command(P.CMD_SWITCH, 2))
    first = rx(100, cmd)
    retry = rx(600, cmd)  # the first ACK was lost; the gateway sends the same seq again
    assert runs == [(P.CMD_SWITCH, 2)]
    gw = P.Decoder()
    (a1,), (a2,) = gw.feed(first), gw.feed(retry)
    assert a1[2] == a2[2] and G.unpack_ack(a1[2]) == (41, P.ACK_OK, "")
    assert (a1[1], a2[1]) == (0, 1)  # each ACK frame has its own seq
    rx(700, P.encode(P.T_COMMAND, 42, G.pack_command(P.CMD_CLEAR, 0)))
    assert runs == [(P.CMD_SWITCH, 2), (P.CMD_CLEAR, 0)]
    assert link.up(700) and link.changed(700) == 1
