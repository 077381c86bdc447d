# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.safemode import SafeMode


def _frames(sm):
    data = bytes(sm.out[: sm.out_n])
    sm.out_n = 0
    return G.Decoder().feed(data)


def _feed(sm, t, data):
    buf = bytearray(data)
    sm.step(t, buf, len(buf))


def test_says_why_shows_flash_and_keeps_the_heartbeat():
    sm = SafeMode(3, "safe mode: 3 abnormal resets in a row", 0)
    sm.step(0)
    frames = _frames(sm)
    kinds = [t for t, _, _ in frames]
    assert kinds == [P.T_EVENT, P.T_STATE, P.T_HEARTBEAT], kinds
    assert G.unpack_event(frames[0][2]) == (P.EV_FAULT, 0, "safe mode: 3 abnormal resets in a row")
    assert G.unpack_state(frames[1][2]) == (P.MODE_FLASH, P.PHASE_NONE, 0, "fff")
    states = 0
    for t in range(10, 5000, 10):
        sm.step(t)
        states += sum(1 for k, _, _ in _frames(sm) if k == P.T_STATE)
    assert states == 4  # one a second


def test_refuses_commands_with_the_reason_and_repeats_it_when_the_link_comes_up():
    sm = SafeMode(2, "maintenance (strap)", 0, P.EV_MODE)
    _frames(sm)
    _feed(sm, 100, G.encode(P.T_HEARTBEAT, 7, P.pack_heartbeat(100)))
    frames = _frames(sm)
    ev = [G.unpack_event(p) for t, _, p in frames if t == P.T_EVENT]
    assert ev == [(P.EV_MODE, 100, "maintenance (strap)")], frames
    _feed(sm, 200, G.encode(P.T_COMMAND, 8, G.pack_command(P.CMD_HOLD)))
    acks = [G.unpack_ack(p) for t, _, p in _frames(sm) if t == P.T_ACK]
    assert acks == [(8, P.ACK_REFUSED, "maintenance (strap)")]
