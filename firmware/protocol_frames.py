"""Whole frames for the gateway: COBS of a whole buffer, `encode` of one message, `Decoder.feed`.

These allocate (a new bytes per frame), so the controller never runs them: it frames in place
with protocol.Encoder and decodes byte by byte with protocol.Reader. The gateway finds them as
`firmware.protocol.encode`, `.Decoder`, ... through protocol_gateway.py, which loads this module;
on MicroPython loaded code takes heap, and neither is ever loaded on the controller. The frame is
protocol.py's: COBS(header + payload + CRC-32) + b"\\x00". No I/O, no clock.
"""

import binascii
import struct

from .protocol import (
    _PREFIX,
    MAX_FRAME,
    MAX_PAYLOAD,
    SCHEMA_HASH,
    VERSION,
    Reader,
)

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# protocol.py's private layout constants (MicroPython folds `_X = const()` away, so they cannot
# be imported): header, CRC, both.
_HEADER = const(8)
_CRC = const(4)
_OVERHEAD = const(12)


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


class Decoder(Reader):
    """Turns a byte stream into (mtype, seq, payload) messages; bad frames are counted.

    Memory is fixed at construction: a run longer than any valid frame (garbage, or a lost
    delimiter) is discarded up to the next delimiter and counted once as "long".
    """

    def reset(self):
        """Forget a partial frame (e.g. after reopening the port)."""
        self._n = 0
        self._skip = False
        self._left = 0
        self._code = 0

    def __init__(self, max_frame=MAX_FRAME):
        if max_frame < 12:  # the controller's Reader leaves this to its callers' constants
            raise ValueError(f"max_frame below the 12-byte overhead: {max_frame!r}")
        super().__init__(max_frame)
        self._raw = bytearray(_max_encoded(max_frame))
        self._raw_mv = memoryview(self._raw)

    @property
    def dropped(self):
        """Frames dropped for any reason."""
        return sum(self.errors.values())

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
