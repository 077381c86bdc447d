"""Serial wire protocol between the controller and the gateway. No I/O, no clock.

Frame = COBS(header + payload + crc32) + b"\\x00". Header `>BIBH`: version, schema hash
(CRC-32 of protocol_gateway.SCHEMA), message type, sequence number. The CRC-32 covers header +
payload and follows the payload big-endian. A bad frame is dropped and counted in
`Reader.errors` by reason. This one file runs on MicroPython and CPython; the gateway imports it
unchanged. Here is what the controller runs, none of it allocating per tick: `Encoder` frames
into a caller's buffer and `Reader.push` decodes in place. The gateway's half (the SCHEMA text,
code names, unpackers, the COMMAND encoder, whole-frame `encode` and `Decoder.feed`) lives in
protocol_gateway.py and loads on first use of one of its names through this module, so the
controller's heap does not carry it.
"""

import binascii
import struct

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


VERSION = const(1)
MAX_FRAME = const(256)  # decoded bytes: header + payload + crc

# The codes (T_*, MODE_*, CMD_*, ACK_*, EV_*, PHASE_NONE) are in protocol_gateway.py and found
# here through `__getattr__` below: on MicroPython every module-level name is a dict entry and an
# interned string the controller's heap keeps for good, so the controller's modules use them
# as private `_X = const(...)` copies instead (tests/firmware/test_controller.py checks them).

# CRC-32 of protocol_gateway.SCHEMA, the text of every layout and code the two peers must agree
# on; it is in every header, so a peer built from another schema is refused instead of misread.
# The text and the code names (MODE_NAMES, ...) live in protocol_gateway.py (the controller's heap
# does not carry them); protocol_gateway checks this value against the text when it loads.
SCHEMA_HASH = 0x7B9A7D26

_HEADER = const(8)
_CRC = const(4)
_OVERHEAD = const(12)  # header + crc
MAX_PAYLOAD = MAX_FRAME - _OVERHEAD
_PREFIX = struct.pack(">BI", VERSION, SCHEMA_HASH)
REASONS = ("cobs", "crc", "short", "version", "schema", "long")


# --- frames -----------------------------------------------------------------------------------


class Encoder:
    """Frames messages into a caller's buffer without allocating (once each length was seen).

    Write the payload into `body` from `PAYLOAD` on (or hand bytes to `put`), then call
    `frame_into`. The CRC runs over a memoryview of the body (see _Views).
    """

    dropped: int  # the controller's: frames that found its output buffer full (build.parts)

    def __init__(self):
        self.body = bytearray(MAX_FRAME)
        self._views = _Views(self.body, 3)

    def put(self, payload):
        """Copy `payload` into the body; return its length."""
        n = len(payload)
        if n > MAX_PAYLOAD:
            raise ValueError(f"payload of {n!r} bytes over {MAX_PAYLOAD!r}")
        self.body[_HEADER : _HEADER + n] = payload
        return n

    def frame_into(self, out, o, mtype, seq, plen):
        """Frame the message whose payload is body[PAYLOAD:PAYLOAD + plen] into out[o:], with
        its 0x00 delimiter; return the end offset, or -1 (nothing written) when it does not fit."""
        m = _HEADER + plen
        n = m + _CRC  # COBS: one code byte per started 254-byte block, then the delimiter
        if n + n // 254 + 2 > len(out) - o:
            return -1
        body = self.body
        struct.pack_into(">BIBH", body, 0, VERSION, SCHEMA_HASH, mtype, seq & 0xFFFF)
        struct.pack_into(">I", body, m, binascii.crc32(self._views.get(m)) & 0xFFFFFFFF)
        return _stuff_into(body, m + _CRC, out, o)


PAYLOAD = _HEADER  # where a payload starts in Encoder.body


class _Views:
    """buf[:n] as a memoryview, kept for the last `size` lengths asked for (round robin): on
    MicroPython slicing a memoryview allocates, and a controller sends and receives the same
    few lengths over and over (state, telemetry, heartbeat out; heartbeat, command in)."""

    def __init__(self, buf, size):
        self._mv = memoryview(buf)
        self._v = [self._mv[:0]] * size
        self._next = 0

    def get(self, n):
        v = self._v
        for i in range(len(v)):
            if len(v[i]) == n:
                return v[i]
        i = self._next
        v[i] = self._mv[:n]
        self._next = i + 1 if i + 1 < len(v) else 0
        return v[i]


def _stuff_into(src, n, out, o):
    """COBS-encode src[:n] into out from o, add the 0x00 delimiter; return the end offset.

    Byte by byte, so it allocates nothing; the same bytes as `encode` (no empty block after a
    final full one)."""
    code_at = o
    o += 1
    code = 1
    for i in range(n):
        c = src[i]
        if c == 0:
            out[code_at] = code
            code_at = o
            o += 1
            code = 1
        else:
            out[o] = c
            o += 1
            code += 1
            if code == 0xFF:
                out[code_at] = code
                if i == n - 1:
                    out[o] = 0
                    return o + 1
                code_at = o
                o += 1
                code = 1
    out[code_at] = code
    out[o] = 0
    return o + 1


class Reader:
    """The controller's decoder: COBS undone byte by byte as bytes arrive (`push`), frames
    checked in place, bad ones counted by reason in `errors`; nothing allocated per byte or per
    frame. Memory is fixed at construction: a frame longer than max_frame is discarded up to
    the next delimiter and counted once as "long". The gateway's `Decoder` adds `feed`.
    """

    def __init__(self, max_frame=MAX_FRAME):
        # max_frame >= the 12-byte overhead: the callers' constants, not checked (code is heap)
        self._dec = bytearray(max_frame)
        self._dec_mv = memoryview(self._dec)
        self._n = 0
        self._skip = False
        self._left = 0  # push: bytes still due in the current COBS block
        self._code = 0  # push: the current block's code byte (0 before the first)
        self._views = _Views(self._dec, 1)  # heartbeats; commands allocate anyway
        self.mtype = -1
        self.seq = 0
        self.plen = 0
        self.frames = 0
        self.errors = {}
        for r in REASONS:
            self.errors[r] = 0

    def push(self, data, i, n):
        """Consume data[i:n] up to and including the next delimiter; return where it stopped.

        COBS is undone as the bytes arrive, straight into the decode buffer. When a good frame
        ended there, `mtype` is its type (else -1), `seq` its sequence number, `plen` its payload
        length, and `payload()` is a view of the payload. Use either `push` or `feed` on one
        Decoder (the gateway's subclass), not both.
        """
        self.mtype = -1
        dec = self._dec
        cap = len(dec)
        o = self._n
        left = self._left
        code = self._code
        skip = self._skip
        while i < n:
            c = data[i]
            i += 1
            if c == 0:
                if skip:
                    pass
                elif left:
                    self.errors["cobs"] += 1
                elif o or code:
                    self._check(o)
                self._n = 0
                self._left = 0
                self._code = 0
                self._skip = False
                return i
            if skip:
                continue
            if left == 0:  # a code byte
                if code and code < 0xFF:
                    if o >= cap:
                        skip = True
                        self.errors["long"] += 1
                        continue
                    dec[o] = 0
                    o += 1
                code = c
                left = c - 1
            else:
                if o >= cap:
                    skip = True
                    self.errors["long"] += 1
                    continue
                dec[o] = c
                o += 1
                left -= 1
        self._n = o
        self._left = left
        self._code = code
        self._skip = skip
        return i

    def _check(self, n):
        """Check the frame of n decoded bytes in the buffer; set mtype/seq/plen when good."""
        dec = self._dec
        if n < _OVERHEAD:
            self.errors["short"] += 1
            return
        m = n - _CRC
        crc = dec[m] << 24 | dec[m + 1] << 16 | dec[m + 2] << 8 | dec[m + 3]
        if binascii.crc32(self._views.get(m)) & 0xFFFFFFFF != crc:
            self.errors["crc"] += 1
            return
        if dec[0] != VERSION:
            self.errors["version"] += 1
            return
        p = _PREFIX
        if dec[1] != p[1] or dec[2] != p[2] or dec[3] != p[3] or dec[4] != p[4]:
            self.errors["schema"] += 1
            return
        self.frames += 1
        self.mtype = dec[5]
        self.seq = dec[6] << 8 | dec[7]
        self.plen = m - _HEADER

    def u32(self, at):
        """The big-endian u32 at payload offset `at` of the frame `push` just completed, read
        in place (no allocation while it is below 2^30, a board's small int)."""
        d = self._dec
        o = _HEADER + at
        return d[o] << 24 | d[o + 1] << 16 | d[o + 2] << 8 | d[o + 3]

    def payload(self):
        """The payload of the frame `push` just completed, a view of the decode buffer good until
        the next `push`: a copy of a signed command would be 140 bytes in one piece, which a
        heap that has run for a while may not have (the view is 32 bytes)."""
        return self._dec_mv[_HEADER : _HEADER + self.plen]


# --- payloads ---------------------------------------------------------------------------------


def _ascii(s, limit):
    """s as ASCII bytes, at most limit long; anything else becomes '?'."""
    b = s.encode()
    if len(b) > limit:
        b = b[:limit]
    for c in b:
        if c > 127:
            return bytes(c if c < 128 else 63 for c in b)
    return b


def pack_event(code, t_ms, detail=""):
    """EVENT: code, t_ms, ASCII detail (truncated to fit a frame)."""
    return struct.pack(">BI", code & 0xFF, t_ms & 0xFFFFFFFF) + _ascii(detail, MAX_PAYLOAD - 5)


def pack_ack(seq, result, reason=""):
    """ACK: the acknowledged seq, result (ACK_*), ASCII reason (truncated to fit a frame)."""
    return struct.pack(">HB", seq & 0xFFFF, result & 0xFF) + _ascii(reason, MAX_PAYLOAD - 3)


# The gateway's half (code names, decoders of the controller's messages, the COMMAND encoder,
# whole-frame encode/Decoder.feed) lives in protocol_gateway.py: the controller never runs it and
# on MicroPython loaded code takes heap. It is loaded on the first use of one of its names, so the
# gateway finds every name here, as before.
def __getattr__(name):
    from . import protocol_gateway

    try:
        return getattr(protocol_gateway, name)
    except AttributeError:
        raise AttributeError(f"module 'firmware.protocol' has no attribute {name!r}") from None
