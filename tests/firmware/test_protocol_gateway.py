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


def test_protocol_re_exports_the_gateway_half_on_cpython_only():
    for name in GATEWAY_NAMES:
        if sys.implementation.name == "micropython":
            # the controller's heap never holds the gateway's code
            assert not hasattr(P, name), name
        else:
            assert getattr(P, name) is getattr(G, name), name


def test_names_cover_every_code_the_protocol_defines():
    assert sorted(G.TYPE_NAMES) == [
        P.T_HEARTBEAT,
        P.T_STATE,
        P.T_DETECTORS,
        P.T_EVENT,
        P.T_COMMAND,
        P.T_ACK,
    ]
    assert sorted(G.CMD_NAMES) == [P.CMD_HOLD, P.CMD_SWITCH, P.CMD_CLEAR]
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
