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

    # What build.detectors sets (`__init__` is there: start-up code that app.main unloads, as
    # on MicroPython code is heap). Annotations only: MicroPython compiles nothing for them.
    n: int
    debounce_ms: int
    window_ms: int
    _mask: int
    presence: int  # debounced
    _cand: int  # raw level seen last, waiting to be stable
    # Per-detector numbers live in arrays, not lists: no boxed ints, and half the bytes or
    # less on a 64-bit build. Ticks are < 2^30, counts wrap at 2^16.
    # when each detector's raw level last changed; counts
    _cand_t: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    counts: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    _bucket_ms: int
    # Occupied ms per full bucket, per detector: at most one bucket (<= 60000 ms), so 16 bits.
    _ring: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    # at most 9 full buckets of 60000 ms; occupied ms in the current bucket
    _ring_sum: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    _cur: "array"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    _cur_ms: int  # ms elapsed in the current bucket
    _full: int  # full buckets in the ring (grows to _BUCKETS - 1 after start)
    _slot: int  # ring slot the next full bucket goes into
    _t: "int | None"  # time of the last sample
    failed: int
    reported: int  # the failures the controller has reported (controller.step)
    fail_none: int
    diag: "Diagnostics | None"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    why: bytearray  # per detector: why it fails (diagnostics.NAMES), with diag

    def __init__(self, n, debounce_ms=50, window_ms=60000, diag=None, fail_none=0):
        from .build import detectors

        detectors(self, n, debounce_ms, window_ms, diag, fail_none)

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
            if self._cur_ms >= bm:  # the bucket is full: into the ring (here, not in a
                nb = _BUCKETS - 1  # function of its own: on MicroPython each is heap)
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
