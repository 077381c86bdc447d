"""Polled, debounced detector inputs: presence, rising-edge counts, occupancy.

The HAL samples the raw input levels each tick (an int bitmask, bit i = detector i) and hands
them to `sample`. A level change is accepted once it has been seen unchanged for `debounce_ms`
across samples. Occupancy is the share of time present over a sliding window, kept in a fixed
ring of buckets (the window slides a bucket at a time), so sampling never allocates.

With `diag` limits (Config.det_diag) the NTCIP 1202 diagnostics of diagnostics.py run once a
second: `failed` is the bitmask of detectors failing now and `why[i]` the reason. A failed
detector places a permanent call (as if present) unless its fail action is "none", then it
places no call at all (`calls`). Without limits that module is never loaded.
"""

from array import array

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_BUCKETS = const(10)  # window = the last _BUCKETS - 1 full buckets plus the current one
_COUNT_MASK = const(0xFFFF)


class Detectors:
    """Debounced state of `n` detector inputs."""

    def __init__(self, n, debounce_ms=50, window_ms=60000, diag=None, fail_none=0):
        if type(n) is not int or not 0 <= n <= 30:
            raise ValueError(f"n must be 0..30 detectors: {n!r}")
        if type(debounce_ms) is not int or not 0 <= debounce_ms <= 60000:
            raise ValueError(f"debounce_ms must be 0..60000: {debounce_ms!r}")
        # <= 600 s keeps occupied_ms * 1000 a small int on 32-bit boards.
        if type(window_ms) is not int or not _BUCKETS <= window_ms <= 600000:
            raise ValueError(f"window_ms must be {_BUCKETS}..600000: {window_ms!r}")
        self.n = n
        self.debounce_ms = debounce_ms
        self.window_ms = window_ms
        self._mask = (1 << n) - 1
        self.presence = 0  # debounced
        self._cand = 0  # raw level seen last, waiting to be stable
        # Per-detector numbers live in arrays, not lists: no boxed ints, and half the bytes or
        # less on a 64-bit build. Ticks are < 2^30, counts wrap at 2^16.
        self._cand_t = array("i", bytes(4 * n))  # when each detector's raw level last changed
        self.counts = array("H", bytes(2 * n))
        self._bucket_ms = window_ms // _BUCKETS
        # Occupied ms per full bucket, per detector: at most one bucket (<= 60000 ms), so 16 bits.
        # It is the biggest per-detector allocation; a list would take 4-8 bytes an item.
        self._ring = array("H", bytes(2 * n * (_BUCKETS - 1)))
        self._ring_sum = array("i", bytes(4 * n))  # at most 9 full buckets of 60000 ms
        self._cur = array("i", bytes(4 * n))  # occupied ms in the current bucket
        self._cur_ms = 0  # ms elapsed in the current bucket
        self._full = 0  # full buckets in the ring (grows to _BUCKETS - 1 after start)
        self._slot = 0  # ring slot the next full bucket goes into
        self._t = None  # time of the last sample
        self.failed = 0
        self.fail_none = fail_none
        self.diag = None
        self.why = bytearray(0)  # per detector: why it fails (diagnostics.NAMES), with diag
        if diag:
            from .diagnostics import Diagnostics

            self.diag = Diagnostics(n, diag)
            self.why = self.diag.why

    def sample(self, now_ms, levels):
        """Take the raw input levels (bitmask) seen at `now_ms`."""
        levels &= self._mask
        if self._t is None:
            self._t = now_ms
            for i in range(self.n):
                self._cand_t[i] = now_ms
            if self.diag:
                self.diag.start(now_ms)
        else:
            self._advance(now_ms)
        changed = levels ^ self._cand
        if changed:
            for i in range(self.n):
                if (changed >> i) & 1:
                    self._cand_t[i] = now_ms
            self._cand = levels
        pending = self._cand ^ self.presence
        if pending:
            for i in range(self.n):
                bit = 1 << i
                if pending & bit and ticks.diff(now_ms, self._cand_t[i]) >= self.debounce_ms:
                    if self._cand & bit:
                        self.presence |= bit
                        self.counts[i] = (self.counts[i] + 1) & _COUNT_MASK
                    else:
                        self.presence &= ~bit
                    if self.diag:
                        self.diag.chg_t[i] = now_ms
        if self.diag:
            self.failed = self.diag.check(now_ms, self.presence, self.counts)

    def _advance(self, now_ms):
        """Account presence (unchanged since the last sample) up to now_ms."""
        dt = ticks.diff(now_ms, self._t)
        if dt <= 0:
            return  # same tick, or a clock that went back: nothing to add
        self._t = now_ms
        bm = self._bucket_ms
        span = (_BUCKETS - 1) * bm
        if dt > span + bm:
            # Everything older than the window is gone anyway; keep the bucket phase.
            dt = span + bm + dt % bm
        pres = self.presence
        while dt > 0:
            step = bm - self._cur_ms
            if step > dt:
                step = dt
            if pres:
                for i in range(self.n):
                    if (pres >> i) & 1:
                        self._cur[i] += step
            self._cur_ms += step
            dt -= step
            if self._cur_ms >= bm:
                self._rotate()

    def _rotate(self):
        nb = _BUCKETS - 1
        base = self._slot
        for i in range(self.n):
            k = i * nb + base
            self._ring_sum[i] += self._cur[i] - self._ring[k]
            self._ring[k] = self._cur[i]
            self._cur[i] = 0
        self._slot = base + 1 if base + 1 < nb else 0
        if self._full < nb:
            self._full += 1
        self._cur_ms = 0

    def occupancy_permille(self, i, now_ms):
        """Share of the last window (or of the time since the first sample, if shorter) that
        detector i was present, in 0..1000."""
        if self._t is None:
            return 0
        self._advance(now_ms)
        total = self._full * self._bucket_ms + self._cur_ms
        if total <= 0:
            return 0
        return (self._ring_sum[i] + self._cur[i]) * 1000 // total

    def calls(self, det_phases, sel=-1):
        """Phase bitmask called by the detectors in bitmask `sel` present now (`det_phases`
        from the Config); a failed detector calls always, or never if its fail action is none."""
        m = 0
        f = self.failed
        pres = (self.presence & ~f | f & ~self.fail_none) & sel
        if pres:
            for i in range(self.n):
                if (pres >> i) & 1:
                    m |= det_phases[i]
        return m
