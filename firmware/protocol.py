"""Serial wire protocol between the controller and the gateway. No I/O, no clock.

Frame = COBS(header + payload + crc32) + b"\\x00". Header `>BIBH`: version, schema hash
(CRC-32 of SCHEMA), message type, sequence number. The CRC-32 covers header + payload and
follows the payload big-endian. A bad frame is dropped and counted in `Decoder.errors` by reason.
This one file runs on MicroPython and CPython; the gateway imports it unchanged. The gateway's
half (decoders, code names, the COMMAND encoder) lives in protocol_gateway.py and is re-exported
here on CPython only, so the controller's heap does not carry it.
"""

import binascii
import struct
import sys

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


VERSION = const(1)
MAX_FRAME = const(256)  # decoded bytes: header + payload + crc

T_HEARTBEAT = const(1)
T_STATE = const(2)
T_DETECTORS = const(3)
T_EVENT = const(4)
T_COMMAND = const(5)
T_ACK = const(6)

MODE_STARTUP = const(0)
MODE_REMOTE = const(1)
MODE_LOCAL = const(2)
MODE_FLASH = const(3)

CMD_HOLD = const(1)
CMD_SWITCH = const(2)
CMD_CLEAR = const(3)

ACK_OK = const(0)
ACK_REFUSED = const(1)
ACK_UNKNOWN = const(2)
ACK_MALFORMED = const(3)

EV_BOOT = const(1)
EV_MODE = const(2)
EV_FAULT = const(3)
EV_LINK_UP = const(4)
EV_LINK_DOWN = const(5)
EV_DETECTOR = const(6)
EV_REFUSED = const(7)

PHASE_NONE = const(255)

# The names of the other codes (for logs and MQTT) are in protocol_gateway.py, re-exported at the
# end of this file; the controller itself puts a mode's name in its EV_MODE event.
MODE_NAMES = {0: "startup", 1: "remote", 2: "local", 3: "flash"}

# Every layout and code the two peers must agree on. Change it with the layouts: its hash is in
# every header, so a peer built from another schema is refused instead of misread.
SCHEMA = (
    "greenwave-serial;max 256;hdr >BIBH;crc >I;"
    "1 heartbeat >I;"
    "2 state >BBI ascii;"
    "3 detectors >IB n*>HHB;"
    "4 event >BI ascii;"
    "5 command >BB;"
    "6 ack >HB ascii;"
    "mode 0 startup 1 remote 2 local 3 flash;"
    "cmd 1 hold 2 switch 3 clear;"
    "ack 0 ok 1 refused 2 unknown 3 malformed;"
    "ev 1 boot 2 mode 3 fault 4 link_up 5 link_down 6 detector 7 refused"
)
SCHEMA_HASH = binascii.crc32(SCHEMA.encode()) & 0xFFFFFFFF

_HEADER = const(8)
_CRC = const(4)
_OVERHEAD = const(12)  # header + crc
MAX_PAYLOAD = MAX_FRAME - _OVERHEAD
_PREFIX = struct.pack(">BI", VERSION, SCHEMA_HASH)
_DETECTOR_ROW = const(5)
MAX_DETECTORS = (MAX_PAYLOAD - 5) // _DETECTOR_ROW
REASONS = ("cobs", "crc", "short", "version", "schema", "long")


# --- COBS -------------------------------------------------------------------------------------


def _max_encoded(n):
    """Largest COBS encoding of n bytes (one code byte per started 254-byte block)."""
    return n + n // 254 + 1


def _stuff(data, out, o):
    """COBS-encode data into out starting at o; return the end offset."""
    n = len(data)
    i = 0
    while True:
        j = data.find(b"\x00", i)
        end = n if j < 0 else j
        run = i
        while end - i >= 254:
            out[o] = 0xFF
            out[o + 1 : o + 255] = data[i : i + 254]
            o += 255
            i += 254
        if j < 0 and i == end and end > run:
            # A final run that filled its last block needs no empty block after it (the
            # encoding of the COBS paper and Wikipedia's examples).
            return o
        k = end - i
        out[o] = k + 1
        out[o + 1 : o + 1 + k] = data[i:end]
        o += k + 1
        if j < 0:
            return o
        i = j + 1


def _unstuff(src, n, dst):
    """COBS-decode src[:n] into dst; return the length, -1 on a bad code, -2 if dst overflows."""
    cap = len(dst)
    i = 0
    o = 0
    while i < n:
        c = src[i]
        if c == 0 or i + c > n:
            return -1
        k = c - 1
        if o + k > cap:
            return -2
        dst[o : o + k] = src[i + 1 : i + c]
        o += k
        i += c
        if c < 0xFF and i < n:
            if o >= cap:
                return -2
            dst[o] = 0
            o += 1
    return o


def cobs_encode(data):
    """COBS-encode data (no delimiter added): the result holds no zero byte."""
    data = bytes(data)
    out = bytearray(_max_encoded(len(data)))
    return bytes(memoryview(out)[: _stuff(data, out, 0)])


def cobs_decode(data):
    """Undo cobs_encode; ValueError on a zero byte or a code that runs past the end."""
    data = bytes(data)
    if data.find(b"\x00") >= 0:
        raise ValueError("zero byte inside a COBS block")
    out = bytearray(len(data))
    n = _unstuff(data, len(data), memoryview(out))
    if n < 0:
        raise ValueError("bad COBS code")
    return bytes(memoryview(out)[:n])


# --- frames -----------------------------------------------------------------------------------


def encode(mtype, seq, payload=b""):
    """The complete frame for one message, including the trailing 0x00 delimiter."""
    if not 0 <= mtype <= 255:
        raise ValueError(f"message type out of range: {mtype!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)!r} bytes over {MAX_PAYLOAD!r}")
    body = _PREFIX + struct.pack(">BH", mtype, seq & 0xFFFF) + bytes(payload)
    body += struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)
    out = bytearray(_max_encoded(len(body)) + 1)
    o = _stuff(body, out, 0)
    out[o] = 0
    return bytes(memoryview(out)[: o + 1])


class Decoder:
    """Turns a byte stream into (mtype, seq, payload) messages; bad frames are counted.

    Memory is fixed at construction: a run longer than any valid frame (garbage, or a lost
    delimiter) is discarded up to the next delimiter and counted once as "long".
    """

    def __init__(self, max_frame=MAX_FRAME):
        if max_frame < _OVERHEAD:
            raise ValueError(f"max_frame below the 12-byte overhead: {max_frame!r}")
        self._raw = bytearray(_max_encoded(max_frame))
        self._raw_mv = memoryview(self._raw)
        self._dec = bytearray(max_frame)
        self._dec_mv = memoryview(self._dec)
        self._n = 0
        self._skip = False
        self.frames = 0
        self.errors = {}
        for r in REASONS:
            self.errors[r] = 0

    @property
    def dropped(self):
        """Frames dropped for any reason."""
        return sum(self.errors.values())

    def reset(self):
        """Forget a partial frame (e.g. after reopening the port)."""
        self._n = 0
        self._skip = False

    def feed(self, data):
        """Add received bytes; return the list of complete good messages in them."""
        if not isinstance(data, (bytes, bytearray)):
            data = bytes(data)
        out = []
        n = len(data)
        i = 0
        while i < n:
            j = data.find(b"\x00", i)
            end = n if j < 0 else j
            k = end - i
            if k and not self._skip:
                if self._n + k > len(self._raw):
                    self._skip = True
                    self.errors["long"] += 1
                else:
                    self._raw_mv[self._n : self._n + k] = data[i:end]
                    self._n += k
            if j < 0:
                break
            if self._n and not self._skip:  # empty frames (repeated delimiters) are harmless
                msg = self._frame()
                if msg is not None:
                    out.append(msg)
            self._n = 0
            self._skip = False
            i = j + 1
        return out

    def _frame(self):
        dec = self._dec
        n = _unstuff(self._raw, self._n, self._dec_mv)
        if n == -2:
            return self._drop("long")
        if n < 0:
            return self._drop("cobs")
        if n < _OVERHEAD:
            return self._drop("short")
        body = self._dec_mv[: n - _CRC]
        if binascii.crc32(body) & 0xFFFFFFFF != struct.unpack_from(">I", dec, n - _CRC)[0]:
            return self._drop("crc")
        if dec[0] != VERSION:
            return self._drop("version")
        if struct.unpack_from(">I", dec, 1)[0] != SCHEMA_HASH:
            return self._drop("schema")
        mtype, seq = struct.unpack_from(">BH", dec, 5)
        self.frames += 1
        return (mtype, seq, bytes(self._dec_mv[_HEADER : n - _CRC]))

    def _drop(self, reason):
        self.errors[reason] += 1
        return None


# --- payloads ---------------------------------------------------------------------------------


def _u32(x):
    return 0 if x < 0 else (x if x <= 0xFFFFFFFF else 0xFFFFFFFF)


def _ascii(s, limit):
    """s as ASCII bytes, at most limit long; anything else becomes '?'."""
    b = s.encode()
    if len(b) > limit:
        b = b[:limit]
    for c in b:
        if c > 127:
            return bytes(c if c < 128 else 63 for c in b)
    return b


def pack_heartbeat(t_ms):
    """HEARTBEAT: the sender's clock in ms."""
    return struct.pack(">I", t_ms & 0xFFFFFFFF)


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


def pack_event(code, t_ms, detail=""):
    """EVENT: code, t_ms, ASCII detail (truncated to fit a frame)."""
    return struct.pack(">BI", code & 0xFF, t_ms & 0xFFFFFFFF) + _ascii(detail, MAX_PAYLOAD - 5)


def unpack_command(payload):
    """-> (code, arg)"""
    if len(payload) != 2:
        raise ValueError(f"command payload of {len(payload)!r} bytes, want 2")
    return struct.unpack(">BB", payload)


def pack_ack(seq, result, reason=""):
    """ACK: the acknowledged seq, result (ACK_*), ASCII reason (truncated to fit a frame)."""
    return struct.pack(">HB", seq & 0xFFFF, result & 0xFF) + _ascii(reason, MAX_PAYLOAD - 3)


# The gateway's half (code names, decoders of the controller's messages, the COMMAND encoder)
# lives in protocol_gateway.py: the controller never runs it and on MicroPython loaded code takes
# heap. The gateway is CPython and finds every name here, as before.
if sys.implementation.name != "micropython":
    from .protocol_gateway import (  # noqa: E402, F401 (re-exported)
        ACK_NAMES,
        CMD_NAMES,
        EVENT_NAMES,
        TYPE_NAMES,
        pack_command,
        unpack_ack,
        unpack_detectors,
        unpack_event,
        unpack_heartbeat,
        unpack_state,
    )
