"""Signed commands on the controller: operator signatures and the gateway's link tags.

Loaded at start-up with keys and kept; without keys loaded for one command and unloaded after it
(app.py, controller.py). The state it keeps (replay ring and floor, Unix time heard, link
counter) lives in the Controller (or SafeMode). A check needs little heap: `mac` is given the
canonical bytes' fields, not the bytes.

Operator (SIGNED COMMAND): HMAC-SHA256(K, canonical bytes), the canonical bytes rebuilt from the
controller's own site and intersection ids and the command's name (docs/architecture.md, "Signed
commands on the controller"). Replays: a ring of the last _RING accepted (nonce CRC, ts) and a
floor, the largest ts evicted from it; expiry against the largest Unix time heard.

Gateway (COMMAND + link trailer): the first 16 bytes of HMAC-SHA256(link key, b"greenwave-link-1"
+ >IIBB(boot id, counter, code, arg)); the counter must grow within a boot.

MicroPython has `hashlib.sha256` but no `hmac`: the textbook HMAC is written out (`mac`).
"""

import hashlib
import struct
from binascii import crc32

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_RING = const(8)
_EPOCH = 1700000000  # Unix seconds - _EPOCH: a board's small int until 2057 (not one itself)


def mac(key, *msg):
    """HMAC-SHA256 (RFC 2104), sha256((K ^ opad) + sha256((K ^ ipad) + m)), of the message m
    made of the parts `msg` with b"\\n" between them, an int part written in decimal as
    str(x).encode() gives it. The parts are fed to the hash one by one: m is never built, which
    would take heap a check may not have."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    b = bytearray(1)  # the pads go through it byte by byte
    n = len(key)
    d = None  # the inner hash's digest
    for pad in (0x36, 0x5C):  # the inner hash, then the outer: one alive at a time, so a
        h = None  # check needs one free piece of heap for a hash, not two (a collection
        h = hashlib.sha256()  # frees the inner one for the outer)
        for i in range(64):
            b[0] = (key[i] if i < n else 0) ^ pad
            h.update(b)
        if d is None:
            for i in range(len(msg)):
                if i:
                    h.update(b"\n")
                x = msg[i]
                h.update(b"%d" % x if isinstance(x, int) else x)  # (the digits: a few bytes)
            d = h.digest()
        else:
            h.update(d)
    return h.digest()  # pyright: ignore[reportOptionalMemberAccess]


def check(ctl, p, signed):
    """(code, arg, None) for a command whose signature or link tag checks out and is fresh,
    else (0, 0, reason). An accepted one is remembered whatever the sequencer then says."""
    keys = ctl.keys
    n = len(p)
    if not signed:
        if n != 22 and n != 2:
            return 0, 0, "malformed command"
        if n != 22 or not keys:
            return 0, 0, "bad link signature"
        code, arg, ctr = struct.unpack_from(">BBI", p, 0)
        tag = mac(keys[2], struct.pack(">16sIIBB", b"greenwave-link-1", ctl.boot, ctr, code, arg))
        d = 0
        for i in range(16):  # constant time
            d |= tag[i] ^ p[6 + i]
        if d:
            return 0, 0, "bad link signature"
        if ctr <= ctl.link_ctr:
            return 0, 0, "replayed"
        ctl.link_ctr = ctr
        return code, arg, None
    if n < 59 or n - 43 - p[42] < 16 or n - 43 - p[42] > 64:
        return 0, 0, "malformed command"
    code, arg, ts, exp = struct.unpack_from(">BBII", p, 0)
    kid = bytes(p[43 : 43 + p[42]])  # p is a view (protocol.Reader.payload); a dict key is bytes
    nonce = p[43 + p[42] :]
    if not keys or not keys[1]:
        return 0, 0, "no operator keys"
    key = keys[1].get(kid)
    if key is None:
        return 0, 0, "unknown key"
    # operator command names by wire code (canonical bytes): code k's is the slice o[k]:o[k + 1]
    # of one bytes constant (a tuple of them took 320 B more of the resident heap, splitting
    # the constant on every check 450 B of its work); CALL and OMIT are the gateway's only.
    o = b"\x00\x00\x04\x0a\x11\x11\x11\x18\x1d\x28\x2c"
    names = b"holdswitchreleasepreemptflashclear-flashplan"
    name = names[o[code] : o[code + 1]] if code < 10 else 0
    if not name:
        return 0, 0, "not an operator command"
    sig = mac(key, b"greenwave-cmd-1", keys[0], ctl.cfg.id.encode(), name, arg, kid, ts, exp, nonce)
    d = 0
    for i in range(32):  # constant time
        d |= sig[i] ^ p[10 + i]
    if d:
        return 0, 0, "bad signature"
    if not ts < exp <= ts + 300 or ts <= _EPOCH:
        return 0, 0, "malformed command"
    ts -= _EPOCH
    if ts > ctl.unix:
        ctl.unix = ts  # a verified signature vouches for its time
    if ctl.unix >= exp - _EPOCH:
        return 0, 0, "expired"
    if ts <= ctl.floor:
        return 0, 0, "replayed or stale"
    c = crc32(nonce) & 0x3FFFFFFF
    ring = ctl.ring  # _RING nonce CRCs, then their ts (0: empty); made on first use
    if ring is None:
        from array import array

        ring = ctl.ring = array("i", bytes(8 * _RING))  # (from a list: 144 B more work)
    for i in range(_RING):
        if ring[_RING + i] and ring[i] == c:
            return 0, 0, "replayed"
    i = ctl.ring_next
    if ring[_RING + i] > ctl.floor:
        ctl.floor = ring[_RING + i]
    ring[i] = c
    ring[_RING + i] = ts
    ctl.ring_next = (i + 1) % _RING
    return code, arg, None
