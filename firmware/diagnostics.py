"""Detector diagnostics as NTCIP 1202 describes them, for detectors.Detectors.

Once a second: no activity (presence unchanged for the no-activity time while absent), max
presence (present longer than the max-presence time), erratic counts (more rising edges in the
last full minute than allowed). A detector recovers when its condition ends. Loaded only when
the config sets a limit, so controllers without diagnostics do not carry the code.
"""

from array import array

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


OK = const(0)
NO_ACTIVITY = const(1)
MAX_PRESENCE = const(2)
ERRATIC = const(3)
NAMES = ("ok", "no activity", "max presence", "erratic counts")
_EVERY = const(1000)
_MINUTE = const(60000)
_SAT = const(1 << 28)  # a change this old stays this old (ticks.diff range)
_COUNT_MASK = const(0xFFFF)


class Diagnostics:
    """Diagnostics of `n` detectors; `limits` is Config.det_diag: per detector i, [3i]
    no-activity ms, [3i+1] max-presence ms, [3i+2] erratic counts per minute (0: off)."""

    def __init__(self, n, limits):
        self.n = n
        self.limits = limits
        self.why = bytearray(n)  # the reason each detector fails now (OK if it does not)
        self.chg_t = array("i", bytes(4 * n))  # when presence last changed (< 2^30)
        self._c0 = array("H", bytes(2 * n))  # counts at the start of this minute
        self._cpm = array("H", bytes(2 * n))  # rising edges in the last full minute
        self.failed = 0  # bitmask
        self._t = 0
        self._min_t = 0

    def start(self, now_ms):
        self._t = self._min_t = now_ms
        for i in range(self.n):
            self.chg_t[i] = now_ms

    def check(self, now_ms, presence, counts):
        """The bitmask of failed detectors (checked once a second; in between the last one)."""
        if ticks.diff(now_ms, self._t) < _EVERY:
            return self.failed
        self._t = now_ms
        minute = ticks.diff(now_ms, self._min_t) >= _MINUTE
        if minute:
            self._min_t = now_ms
        lim = self.limits
        failed = 0
        for i in range(self.n):
            if minute:
                self._cpm[i] = (counts[i] - self._c0[i]) & _COUNT_MASK
                self._c0[i] = counts[i]
            d = ticks.diff(now_ms, self.chg_t[i])
            if d > _SAT:
                self.chg_t[i] = ticks.add(now_ms, -_SAT)
            why = OK
            k = 3 * i
            if (presence >> i) & 1:
                if lim[k + 1] and d >= lim[k + 1]:
                    why = MAX_PRESENCE
            elif lim[k] and d >= lim[k]:
                why = NO_ACTIVITY
            if lim[k + 2] and self._cpm[i] > lim[k + 2]:
                why = ERRATIC
            self.why[i] = why
            if why:
                failed |= 1 << i
        self.failed = failed
        return failed
