"""Link bookkeeping without I/O: is the peer there, when to send a heartbeat, which seq is next,
and which commands were already answered.

Time comes in as `now_ms` on the board's wrapping tick counter and is only ever compared
through `ticks.diff`, so the link survives the 2^30 wrap.
"""

import binascii
from array import array

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_NEW = const(0)  # nothing heard yet
_UP = const(1)
_DOWN = const(2)

_HEARD = const(0)  # any valid frame from the peer
_SILENT = const(1)  # misses * heartbeat_ms without one

_NONE = const(255)  # no transition
# The next state by state and event (_NEXT[2 * state + event]); _NONE is a bug in this module and
# raises. Bytes, not a dict of dicts: on MicroPython the dicts stayed in the heap.
# fmt: off
_NEXT = bytes((
    # _HEARD  _SILENT
    _UP,      _NONE,   # _NEW
    _UP,      _DOWN,   # _UP
    _UP,      _NONE,   # _DOWN
))
# fmt: on


class LinkState:
    """Peer presence from frames heard, plus our own heartbeat schedule and sequence numbers."""

    def __init__(self, now_ms, heartbeat_ms=1000, misses=3, first_seq=0):
        # heartbeat_ms and misses > 0: constants of the callers, not checked (code takes heap)
        self.heartbeat_ms = heartbeat_ms
        self.timeout_ms = heartbeat_ms * misses
        self._state = _NEW
        self._heard_at = now_ms
        self._sent_at = now_ms
        self._hb_due = True  # announce ourselves at once
        self._seq = first_seq & 0xFFFF
        # Transitions between up and not-up, and how many of them changed() has reported.
        self._flips = 0
        self._reported = 0

    def _go(self, event):
        nxt = _NEXT[2 * self._state + event]
        if nxt == _NONE:
            raise ValueError("link: no transition", self._state, event)  # a bug
        if (nxt == _UP) != (self._state == _UP):
            self._flips += 1
        self._state = nxt

    def _check_silence(self, now_ms):
        if self._state == _UP:
            d = ticks.diff(now_ms, self._heard_at)
            # d < 0 only after more than half the tick period of silence: long dead.
            if d >= self.timeout_ms or d < 0:
                self._go(_SILENT)

    def heard(self, now_ms):
        """Record a valid frame from the peer."""
        self._check_silence(now_ms)  # an outage that nobody polled still counts as one
        self._go(_HEARD)
        self._heard_at = now_ms

    def up(self, now_ms):
        """True once the peer was heard and for misses * heartbeat_ms after each frame."""
        self._check_silence(now_ms)
        return self._state == _UP

    def changed(self, now_ms):
        """1 if the link came up, -1 if it went down since the last call, else 0.

        Each transition is reported exactly once, in order: an outage that began and ended
        between two calls gives -1 then 1.
        """
        self._check_silence(now_ms)
        pending = self._flips - self._reported
        if pending <= 0:
            return 0
        self._reported += 1
        # Flips alternate starting with up (from _NEW), so odd counts are "came up".
        return 1 if self._reported & 1 else -1

    def heartbeat_due(self, now_ms):
        """True when our next heartbeat should go out."""
        if self._hb_due:
            return True
        d = ticks.diff(now_ms, self._sent_at)
        return d >= self.heartbeat_ms or d < 0

    def sent_heartbeat(self, now_ms):
        """Record that a heartbeat went out at now_ms."""
        self._hb_due = False
        self._sent_at = now_ms

    def next_seq(self):
        """Sequence number for the next frame we send; wraps at 65536."""
        s = self._seq
        self._seq = (s + 1) & 0xFFFF
        return s


def _key(cmd):
    """A small int standing for a command payload, so remembering one allocates nothing.

    Payloads of up to 3 bytes (commands are 2) map one-to-one. Longer ones are malformed (they
    are answered, never run) and compare by CRC-32: kept as bytes, a stream of long junk could
    hold 16 x 250 bytes of a 64 KiB heap.
    """
    n = len(cmd)
    if n <= 3:
        return n << 24 | int.from_bytes(cmd, "big")
    return ~(binascii.crc32(cmd) & 0x3FFFFFFF)  # negative: never a short payload's key


class CommandDedup:
    """The answers to the last `size` commands, so a retried seq gets the same ACK without a
    rerun: its result (ACK_*) and reason. The controller's reasons are constant strings, so
    keeping one allocates nothing (a stored ACK's bytes took 64 bytes of heap per entry).

    `cmd` (the command payload) guards against a restarted peer reusing a seq for a new
    command: a stored answer is returned only when seq and command both match.
    """

    def __init__(self, size=16):
        # size > 0 (the controller's constant, not checked: code takes heap). int arrays, not
        # lists: a third of the size (seq -1: empty slot, its key never read)
        self._seqs = array("i", [-1] * size)
        self._cmds = array("i", bytes(4 * size))  # _key(cmd): fits 32 bits
        self._results = bytearray(size)
        self._reasons = [""] * size
        self._next = 0

    def lookup(self, seq, cmd=b""):
        """(result, reason) stored for this seq (and command), or None if it is new."""
        seqs = self._seqs
        key = _key(cmd)
        for i in range(len(seqs)):
            if seqs[i] == seq and self._cmds[i] == key:
                return self._results[i], self._reasons[i]
        return None

    def store(self, seq, result, reason, cmd=b""):
        """Remember the answer to seq; the oldest entry makes room."""
        seqs = self._seqs
        for i in range(len(seqs)):
            if seqs[i] == seq:
                break
        else:
            i = self._next
            self._next = (i + 1) % len(seqs)
        seqs[i] = seq
        self._cmds[i] = _key(cmd)
        self._results[i] = result
        self._reasons[i] = reason

    def clear(self):
        """Forget every answer (e.g. when the link comes back: the peer may have restarted)."""
        for i in range(len(self._seqs)):
            self._seqs[i] = -1
            self._cmds[i] = 0
            self._reasons[i] = ""
        self._next = 0
