"""The gateway's half of the serial protocol: names for the codes, decoders for what the
controller sends, and the COMMAND encoder. No I/O, no clock.

Also the allocating STATE / DETECTORS / HEARTBEAT packers (the controller writes those in place,
protocol.Encoder), and, from protocol_frames.py, the whole-frame helpers: `encode`,
`Decoder.feed`, COBS of a whole buffer.

The controller never runs this code, and on MicroPython every loaded function takes heap, so
`protocol` loads this module only when one of its names is asked for (a module `__getattr__`):
`firmware.protocol.encode` and the rest work as before, and the controller never pays for them.
"""

import binascii
import struct

from .protocol import MAX_PAYLOAD, SCHEMA_HASH

# the whole-frame helpers, found here (and so through protocol's __getattr__) by the gateway
from .protocol_frames import Decoder, cobs_decode, cobs_encode, encode  # noqa: F401

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# protocol.py's private layout constant (MicroPython folds `_X = const()` away, so it cannot be
# imported): one DETECTORS row (>HHB).
_DETECTOR_ROW = const(5)

# The codes (protocol.py's names for them; the controller keeps private copies).
T_HEARTBEAT = 1
T_STATE = 2
T_DETECTORS = 3
T_EVENT = 4
T_COMMAND = 5
T_ACK = 6
T_SIGNED = 7  # an operator's command with its signature (docs/architecture.md)

MODE_STARTUP = 0
MODE_REMOTE = 1
MODE_LOCAL = 2
MODE_FLASH = 3

CMD_HOLD = 1
CMD_SWITCH = 2
CMD_CLEAR = 3
CMD_CALL = 4
CMD_OMIT = 5
CMD_PREEMPT = 6
CMD_FLASH = 7  # operator only, like PREEMPT: flash, latched until CLEAR_FLASH
CMD_CLEAR_FLASH = 8  # operator only: end a latched flash (a reset, then start-up)
CMD_PLAN = 9  # operator only: arg = timing plan number (0: the config's own timing)

ACK_OK = 0
ACK_REFUSED = 1
ACK_UNKNOWN = 2
ACK_MALFORMED = 3

EV_BOOT = 1
EV_MODE = 2
EV_FAULT = 3
EV_LINK_UP = 4
EV_LINK_DOWN = 5
EV_DETECTOR = 6
EV_REFUSED = 7

PHASE_NONE = 255
MAX_DETECTORS = (MAX_PAYLOAD - 5) // _DETECTOR_ROW

# Every layout and code the two peers must agree on. Change it with the layouts: its hash is in
# every header, so a peer built from another schema is refused instead of misread.
SCHEMA = (
    "greenwave-serial;max 256;hdr >BIBH;crc >I;"
    "1 heartbeat >I [up >II boot link_ctr|down >I unix-1700000000];"
    "2 state >BBI ascii;"
    "3 detectors >IB n*>HHB;"
    "4 event >BI ascii;"
    "5 command >BB [>I ctr 16 link_mac];"
    "6 ack >HB ascii;"
    "7 signed >BBII code arg ts exp 32 sig B n n key_id ascii nonce;"
    "mode 0 startup 1 remote 2 local 3 flash;"
    "cmd 1 hold 2 switch 3 clear 4 call 5 omit 6 preempt 7 flash 8 clear_flash 9 plan;"
    "ack 0 ok 1 refused 2 unknown 3 malformed;"
    "ev 1 boot 2 mode 3 fault 4 link_up 5 link_down 6 detector 7 refused"
)
if binascii.crc32(SCHEMA.encode()) & 0xFFFFFFFF != SCHEMA_HASH:  # the controller's copy
    raise ImportError("protocol.SCHEMA_HASH is not the CRC-32 of protocol_gateway.SCHEMA")

MODE_NAMES = {0: "startup", 1: "remote", 2: "local", 3: "flash"}
TYPE_NAMES = {
    1: "heartbeat",
    2: "state",
    3: "detectors",
    4: "event",
    5: "command",
    6: "ack",
    7: "signed",
}
CMD_NAMES = {1: "hold", 2: "switch", 3: "clear", 4: "call", 5: "omit", 6: "preempt", 7: "flash",
             8: "clear_flash", 9: "plan"}  # fmt: skip
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


def _u32(x):
    return 0 if x < 0 else (x if x <= 0xFFFFFFFF else 0xFFFFFFFF)


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
    """-> (t_ms,), the gateway's (t_ms, unix - UNIX_EPOCH) or the controller's (t_ms, boot id,
    last accepted link counter)."""
    n = len(payload)
    if n not in (4, 8, 12):
        raise ValueError(f"heartbeat payload of {n!r} bytes, want 4, 8 or 12")
    return struct.unpack(">" + "I" * (n // 4), payload)


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


def unpack_command(payload):
    """-> (code, arg) of a plain COMMAND."""
    if len(payload) != 2:
        raise ValueError(f"command payload of {len(payload)!r} bytes, want 2")
    return struct.unpack(">BB", payload)


def pack_command(code, arg=0, link_key=None, boot=0, ctr=0):
    """COMMAND: code (CMD_*), arg (the phase for SWITCH, CALL, OMIT, PREEMPT); with a link key
    also the counter and the 16-byte link tag for the controller's boot id."""
    code &= 0xFF
    arg &= 0xFF
    if link_key is None:
        return struct.pack(">BB", code, arg)
    return struct.pack(">BBI", code, arg, ctr) + link_mac(link_key, boot, ctr, code, arg)


def link_mac(key, boot, ctr, code, arg):
    """The 16-byte link tag of a gateway COMMAND (firmware/auth.py checks it)."""
    from .auth import mac

    return mac(key, b"greenwave-link-1" + struct.pack(">IIBB", boot, ctr, code, arg))[:16]


def unpack_link_command(payload):
    """-> (code, arg, counter, tag) of a link-signed COMMAND."""
    _need(payload, 22, "link-signed command")
    code, arg, ctr = struct.unpack_from(">BBI", payload, 0)
    return (code, arg, ctr, bytes(payload[6:22]))


def pack_signed(code, arg, key_id, ts, exp, nonce, sig):
    """SIGNED COMMAND: an operator's command as signed (key id and nonce ASCII, sig 32 bytes)."""
    k = key_id.encode()
    n = nonce.encode()
    if len(sig) != 32 or not 1 <= len(k) <= 32 or not 16 <= len(n) <= 64:
        raise ValueError("signed command: sig 32 bytes, key id 1-32 and nonce 16-64 characters")
    head = struct.pack(">BBII", code & 0xFF, arg & 0xFF, ts, exp)
    return head + bytes(sig) + bytes((len(k),)) + k + n


def unpack_signed(payload):
    """-> (code, arg, key_id, ts, exp, nonce, sig)"""
    _at_least(payload, 43 + 16, "signed")
    code, arg, ts, exp = struct.unpack_from(">BBII", payload, 0)
    n = payload[42]
    _at_least(payload, 43 + n + 16, "signed")
    return (code, arg, _text(payload[43 : 43 + n], 0), ts, exp, _text(payload, 43 + n),
            bytes(payload[10:42]))  # fmt: skip


def unpack_ack(payload):
    """-> (seq, result, reason)"""
    _at_least(payload, 3, "ack")
    seq, result = struct.unpack_from(">HB", payload, 0)
    return (seq, result, _text(payload, 3))


UNIX_EPOCH = 1700000000  # the gateway's heartbeat says Unix time - this (a board's small int)


def pack_heartbeat(t_ms, *more):
    """HEARTBEAT: the sender's clock in ms, then the gateway's Unix time - UNIX_EPOCH or the
    controller's boot id and link counter."""
    words = [t_ms & 0xFFFFFFFF] + [x & 0xFFFFFFFF for x in more]
    return struct.pack(">" + "I" * len(words), *words)


def pack_state(mode, phase, ms_in_phase, signals):
    """STATE: mode, phase (None or 255 for none), ms in phase, signal string."""
    if phase is None:
        phase = PHASE_NONE
    b = signals.encode()
    if len(b) > MAX_PAYLOAD - 6 or len(b) != len(signals):
        raise ValueError(f"signal string does not fit a frame: {signals!r}")
    return struct.pack(">BBI", mode & 0xFF, phase & 0xFF, _u32(ms_in_phase)) + b


def pack_detectors(t_ms, rows):
    """DETECTORS: t_ms, then per detector (count, occupancy per mille, presence)."""
    if len(rows) > MAX_DETECTORS:
        raise ValueError(f"{len(rows)!r} detectors, a frame holds {MAX_DETECTORS!r}")
    out = bytearray(5 + _DETECTOR_ROW * len(rows))
    struct.pack_into(">IB", out, 0, t_ms & 0xFFFFFFFF, len(rows))
    o = 5
    for count, occ, presence in rows:
        occ = 0 if occ < 0 else (occ if occ < 1000 else 1000)
        struct.pack_into(">HHB", out, o, count & 0xFFFF, occ, 1 if presence else 0)
        o += _DETECTOR_ROW
    return bytes(out)
