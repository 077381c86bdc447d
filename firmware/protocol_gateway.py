"""The gateway's half of the serial protocol: names for the codes, decoders for what the
controller sends, and the COMMAND encoder. No I/O, no clock.

The controller never runs this code, and on MicroPython every loaded function takes heap, so
`protocol` imports this module only on CPython and re-exports every name here: the gateway keeps
using `firmware.protocol` as before. On MicroPython import it directly (the firmware tests do).
It imports nothing from `protocol`, so either may be imported first.
"""

import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_DETECTOR_ROW = const(5)  # >HHB, as in protocol.pack_detectors

TYPE_NAMES = {1: "heartbeat", 2: "state", 3: "detectors", 4: "event", 5: "command", 6: "ack"}
CMD_NAMES = {1: "hold", 2: "switch", 3: "clear"}
ACK_NAMES = {0: "ok", 1: "refused", 2: "unknown", 3: "malformed"}
EVENT_NAMES = {
    1: "boot",
    2: "mode",
    3: "fault",
    4: "link_up",
    5: "link_down",
    6: "detector",
    7: "refused",
}


def _text(payload, start):
    b = payload[start:]
    for c in b:
        if c > 127:
            raise ValueError(f"non-ASCII byte in text: {bytes(b)!r}")
    return bytes(b).decode()


def _need(payload, n, name):
    if len(payload) != n:
        raise ValueError(f"{name} payload of {len(payload)!r} bytes, want {n!r}")


def _at_least(payload, n, name):
    if len(payload) < n:
        raise ValueError(f"{name} payload of {len(payload)!r} bytes, want >= {n!r}")


def unpack_heartbeat(payload):
    """-> (t_ms,)"""
    _need(payload, 4, "heartbeat")
    return struct.unpack(">I", payload)


def unpack_state(payload):
    """-> (mode, phase, ms_in_phase, signals); phase 255 means none."""
    _at_least(payload, 6, "state")
    mode, phase, ms = struct.unpack_from(">BBI", payload, 0)
    return (mode, phase, ms, _text(payload, 6))


def unpack_detectors(payload):
    """-> (t_ms, [(count, occupancy_permille, presence), ...])"""
    _at_least(payload, 5, "detectors")
    t_ms, n = struct.unpack_from(">IB", payload, 0)
    _need(payload, 5 + _DETECTOR_ROW * n, "detectors")
    rows = []
    for i in range(n):
        rows.append(struct.unpack_from(">HHB", payload, 5 + _DETECTOR_ROW * i))
    return (t_ms, rows)


def unpack_event(payload):
    """-> (code, t_ms, detail)"""
    _at_least(payload, 5, "event")
    code, t_ms = struct.unpack_from(">BI", payload, 0)
    return (code, t_ms, _text(payload, 5))


def pack_command(code, arg=0):
    """COMMAND: code (CMD_*), arg (the phase for SWITCH)."""
    return struct.pack(">BB", code & 0xFF, arg & 0xFF)


def unpack_ack(payload):
    """-> (seq, result, reason)"""
    _at_least(payload, 3, "ack")
    seq, result = struct.unpack_from(">HB", payload, 0)
    return (seq, result, _text(payload, 3))
