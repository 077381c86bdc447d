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


def test_a_signed_clear_flash_is_checked_only_where_it_can_clear_something():
    from test_auth import KEYS, T, nonce, signed

    clear = G.encode(P.T_SIGNED, 9, signed("clear-flash", P.CMD_CLEAR_FLASH, 0, T, nonce(1)))
    # maintenance mode (or safe mode without a usable config): refused with its reason
    sm = SafeMode(2, "maintenance (strap)", 0, P.EV_MODE)
    _frames(sm)
    _feed(sm, 100, clear)
    acks = [G.unpack_ack(p) for t, _, p in _frames(sm) if t == P.T_ACK]
    assert acks == [(9, P.ACK_REFUSED, "maintenance (strap)")] and not sm.cleared
    # safe mode after a latched fault: checked against the keys, then cleared
    sm = SafeMode(2, "safe mode: latched fault: x", 0, P.EV_FAULT, "two", KEYS, 0)
    _frames(sm)
    forged = bytearray(signed("clear-flash", P.CMD_CLEAR_FLASH, 0, T, nonce(2)))
    forged[20] ^= 1
    _feed(sm, 100, G.encode(P.T_SIGNED, 10, bytes(forged)))
    _feed(sm, 110, G.encode(P.T_SIGNED, 11, signed("flash", P.CMD_FLASH, 0, T, nonce(3))))
    _feed(sm, 120, clear)
    acks = [G.unpack_ack(p) for t, _, p in _frames(sm) if t == P.T_ACK]
    assert acks == [
        (10, P.ACK_REFUSED, "bad signature"),
        (11, P.ACK_REFUSED, "safe mode: latched fault: x"),
        (9, P.ACK_OK, ""),
    ], acks
    assert sm.cleared == 1
    _feed(sm, 130, clear)  # a replay: its nonce is in the ring
    acks = [G.unpack_ack(p) for t, _, p in _frames(sm) if t == P.T_ACK]
    assert acks == [(9, P.ACK_REFUSED, "replayed")], acks
    # the gateway's heartbeats bring the time: a command past its exp is refused
    sm = SafeMode(2, "safe mode: latched fault: x", 0, P.EV_FAULT, "two", KEYS, 0)
    _feed(sm, 100, G.encode(P.T_HEARTBEAT, 1, G.pack_heartbeat(100, T + 30 - G.UNIX_EPOCH)))
    _frames(sm)
    _feed(sm, 110, clear)
    acks = [G.unpack_ack(p) for t, _, p in _frames(sm) if t == P.T_ACK]
    assert acks == [(9, P.ACK_REFUSED, "expired")] and not sm.cleared, acks
