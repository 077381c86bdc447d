# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import sys

from mpcompat import raises

from firmware import protocol as P
from firmware import protocol_gateway as G

GATEWAY_NAMES = (
    "TYPE_NAMES",
    "CMD_NAMES",
    "ACK_NAMES",
    "EVENT_NAMES",
    "pack_command",
    "unpack_heartbeat",
    "unpack_state",
    "unpack_detectors",
    "unpack_event",
    "unpack_ack",
)


def test_protocol_finds_the_gateway_half_but_loads_it_only_when_asked():
    import firmware

    saved = sys.modules.pop("firmware.protocol_gateway")
    delattr(firmware, "protocol_gateway")
    try:
        # what the controller uses does not load the gateway's code (heap on MicroPython)
        enc = P.Encoder()
        enc.frame_into(bytearray(64), 0, 4, 1, enc.put(P.pack_event(1, 2, "x")))  # T_EVENT
        P.Reader().push(b"\x01\x00", 0, 2)
        assert "firmware.protocol_gateway" not in sys.modules
        for name in GATEWAY_NAMES + ("T_EVENT", "MODE_FLASH", "CMD_HOLD", "ACK_OK", "EV_BOOT"):
            assert getattr(P, name) is getattr(sys.modules["firmware.protocol_gateway"], name)
        assert raises(AttributeError, getattr, P, "no_such_name")
    finally:
        sys.modules["firmware.protocol_gateway"] = saved
        firmware.protocol_gateway = saved


def test_names_cover_every_code_the_protocol_defines():
    assert sorted(G.TYPE_NAMES) == [
        P.T_HEARTBEAT,
        P.T_STATE,
        P.T_DETECTORS,
        P.T_EVENT,
        P.T_COMMAND,
        P.T_ACK,
        P.T_SIGNED,
    ]
    assert sorted(G.CMD_NAMES) == [
        P.CMD_HOLD,
        P.CMD_SWITCH,
        P.CMD_CLEAR,
        P.CMD_CALL,
        P.CMD_OMIT,
        P.CMD_PREEMPT,
        P.CMD_FLASH,
        P.CMD_CLEAR_FLASH,
        P.CMD_PLAN,
    ]
    assert sorted(G.ACK_NAMES) == [P.ACK_OK, P.ACK_REFUSED, P.ACK_UNKNOWN, P.ACK_MALFORMED]
    assert sorted(G.EVENT_NAMES) == list(range(P.EV_BOOT, P.EV_REFUSED + 1))
    assert G.CMD_NAMES[P.CMD_SWITCH] == "switch" and G.TYPE_NAMES[P.T_ACK] == "ack"


def test_command_layout_matches_the_controller_decoder():
    for code, arg in ((P.CMD_HOLD, 0), (P.CMD_SWITCH, 3), (P.CMD_CLEAR, 0), (300, 257)):
        assert P.unpack_command(G.pack_command(code, arg)) == (code & 0xFF, arg & 0xFF)


def test_decoders_read_what_the_controller_encodes():
    assert G.unpack_heartbeat(P.pack_heartbeat(7)) == (7,)
    assert G.unpack_state(P.pack_state(P.MODE_FLASH, None, 9, "ff")) == (3, 255, 9, "ff")
    assert G.unpack_detectors(P.pack_detectors(4, [(1, 500, 1)])) == (4, [(1, 500, 1)])
    assert G.unpack_event(P.pack_event(P.EV_FAULT, 5, "dark n")) == (3, 5, "dark n")
    assert G.unpack_ack(P.pack_ack(9, P.ACK_REFUSED, "start-up")) == (9, 1, "start-up")


def test_decoder_errors_name_the_message_and_the_length():
    e = raises(ValueError, G.unpack_heartbeat, b"\x00\x00")
    assert "heartbeat" in str(e) and "2" in str(e)
    e = raises(ValueError, G.unpack_ack, b"\x00")
    assert "ack" in str(e) and ">= 3" in str(e)
    e = raises(ValueError, G.unpack_event, b"\x01\x00\x00\x00\x00\xc3\xa9")
    assert "non-ASCII" in str(e)
