"""Dual-ring/barrier sequencing (NEMA TS2 / NTCIP 1202 rings and barriers), loaded only for a
config with `rings` (sequencer.Sequencer returns a RingSequencer then).

Each ring times one phase at a time, green -> yellow -> all-red -> its next phase, with the free
sequencer's per-phase rules (min green, passage, max green, walk and ped clearance, recall, ped
recycle). A signal group belongs to one ring (config.py), so each ring paints only its own
groups and the heads show the union of the rings' phases; phases of different rings in one
barrier group (`side`) never conflict (config.py), so the rings run concurrently there.

Inside a side a ring goes on to the next phase in its order with a call, skipping the others.
Calls that need the barrier (a phase of another side, or one its ring has passed in this side)
end every green as a conflicting call would (gap-out, max-out). A ring whose green has ended
with no call left ahead on its side rests in that green (it waits at the barrier, as in NEMA,
and a later call on its side waits for the next cycle, which keeps every call within the max
cycle); when every ring is there (or red) all cross together: every green goes yellow at
once, and the next side with a call starts when every ring has finished its all-red. A ring
without a call on the new side stays red (no dual entry) and starts a phase later in the side
when a call comes while no crossing is pending. With no demand at all the rings rest in green.

Requests: HOLD holds every ring's green, each to its max green. SWITCH(P)
places a call on P and forces off the greens in its way at min green (P's ring when P is ahead
on this side, else every ring toward the barrier); calls before P in ring order are still served
first, so a SWITCH never skips a call. OMIT(P) drops P's recall and refuses switches to P; a
detector call on P is still served in turn. Preemption: every green but the preempt phase t ends
at min green (after its ped clearance) through full clearance; t's ring goes straight to t when t
is on this side, otherwise t's side starts with t alone once every ring is red; t is held while
called with the other rings red, then normal service resumes.

`state` is GREEN while the rings run; `phase` is the first ring's green phase (-1 when no ring is
green). Per ring r, `ring[r * _W + k]` holds field k (_ST state, _PH phase, ...): one flat list,
as every list and every attribute costs heap; the rest of the ring structure (a ring's order, a
barrier group's phases) is read from `cfg.rings` when needed, and `_at` holds each phase's ring
and barrier group.
"""

from . import ticks
from .sequencer import Sequencer, _low

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_IDLE = const(6)  # a ring showing red with no phase: at the barrier or without a call
# sequencer's numbers, as private consts: inlined, where imported names would take heap
_GREEN = const(2)
_YELLOW = const(3)
_ALL_RED = const(4)
_PREEMPTED = const(4)
_G = const(71)  # ord("G")
_Y = const(121)  # ord("y")
_R = const(114)  # ord("r")
_SAT = const(1 << 28)
_HOLD = const(1)  # request codes
_SWITCH = const(2)
_CALL = const(4)
_REFUSED = const(1)
# fields of a ring in `ring`
_ST = const(0)  # state: _GREEN, _YELLOW, _ALL_RED or _IDLE
_PH = const(1)  # phase (green or clearing), -1 none
_NX = const(2)  # where the clearance goes (-1: red, _IDLE)
_PD = const(3)  # ped groups of the green: 0 done or none, 1 walk, 2 clearance
_TODO = const(4)  # its phases still ahead on this side
_T = const(5)  # state start (ms); _T.._WT are times
_PT = const(6)  # green start
_LC = const(7)  # last call on the green (passage)
_WT = const(8)  # walk (or ped clearance) start
_W = const(9)


class RingSequencer(Sequencer):
    """The dual-ring sequencer; build it with `sequencer.Sequencer(cfg, now_ms)`."""

    # What build.rings sets, then build.sequencer (`__init__` is there: start-up code that
    # app.main unloads). Annotations only: MicroPython compiles nothing for them.
    ring: "list[int]"  # per ring r, field k at [r * _W + k]
    _at: bytearray  # phase p's ring at [p], its barrier group (side) at [n + p]
    side: int  # the barrier group the rings serve
    _cross: bool  # a barrier crossing is under way

    def __init__(self, cfg, now_ms):
        from .build import rings

        rings(self, cfg, now_ms)

    def _enter(self, now_ms):
        if self.state == _GREEN:  # after the start-up all-red: the rings start
            t = self.next_phase  # Sequencer.step's first phase
            self.next_phase = -1
            return self._start(now_ms, self._at[self._n + t], t if self.pre else -1)
        for r in range(len(self.cfg.rings)):  # start-up and fault: every ring red and idle
            self.ring[r * _W + _ST] = _IDLE
            self.ring[r * _W + _PH] = -1
            self.ring[r * _W + _PD] = 0
        self._cross = False
        return Sequencer._enter(self, now_ms)

    def _first(self, r, m):
        """The first phase of ring r in service order that is in mask m, else -1."""
        for g in self.cfg.rings[r]:
            for q in g:
                if (m >> q) & 1:
                    return q
        return -1

    def _mask(self, r, s, q=-1):
        """The phases of ring r in barrier group s as a bitmask; those after phase q there when
        q >= 0."""
        m = 0
        for p in self.cfg.rings[r][s]:
            if q < 0:
                m |= 1 << p
            elif p == q:
                q = -1
        return m

    def _start(self, now_ms, s, only):
        """Enter side s: each ring starts its first phase there with a call (`only` >= 0: that
        phase alone; no call anywhere: every ring's first phase, a rest in green)."""
        self.side = s
        self._cross = False
        lat = self.latched or -1
        c = False
        for r in range(len(self.cfg.rings)):
            todo = self._mask(r, s)
            self.ring[r * _W + _TODO] = todo
            q = self._first(r, (1 << only if only >= 0 else lat) & todo)
            if q >= 0:
                c = self._green(r, q, now_ms) or c
        self._report()
        return c

    def _green(self, r, q, now_ms):
        cfg = self.cfg
        ring = self.ring
        o = r * _W
        b = 1 << q
        self._cross = False
        ring[o + _ST] = _GREEN
        ring[o + _PH] = q
        ring[o + _NX] = -1
        ring[o + _T] = ring[o + _PT] = ring[o + _LC] = now_ms
        ring[o + _TODO] = self._mask(self._at[q], self._at[self._n + q], q)
        self.latched &= ~b
        if self.switch_to == q:
            self.switch_to = -1
        m = cfg.phase_mask[q]
        pm = m & cfg.ped_mask if cfg.walk[q] else 0
        ring[o + _PD] = 0
        if pm:
            # a walk for a ped call or recall, or for ped groups still green from the last phase
            walk = (self.ped_latched | cfg.recall_ped) & b
            sig = self.signals
            for i in range(len(sig)):
                if (pm >> i) & 1 and sig[i] == _G:
                    walk = 1
            ring[o + _PD] = 1 if walk else 0
            ring[o + _WT] = now_ms
            if not walk:
                m &= ~pm
        self.ped_latched &= ~b
        return self._paint(m, _G, -1)

    def _clear(self, r, nx, now_ms, own):
        """Ring r's green ends now, toward phase nx (-1: red)."""
        o = r * _W
        p = self.ring[o + _PH]
        b = 1 << p
        mk = self.cfg.phase_mask
        self.hold = False
        self.ring[o + _ST] = _YELLOW
        self.ring[o + _NX] = nx
        self.ring[o + _T] = now_ms
        # a vehicle still there (or a push button since the walk) waits for the next turn
        self._latch(own & b | self.ped_latched & b, now_ms)
        return self._paint(mk[p] & ~mk[nx] if nx >= 0 else mk[p], _Y, -1, _G)

    def _report(self):
        self.phase = -1
        for r in range(len(self.cfg.rings) - 1, -1, -1):
            if self.ring[r * _W + _ST] == _GREEN:
                self.phase = self.ring[r * _W + _PH]
                self.phase_start = self.ring[r * _W + _PT]

    # -- per tick ----------------------------------------------------------------------------

    def step(self, now_ms, calls, ped=0, pre=0):
        if self.state != _GREEN:  # start-up and fault flash
            return Sequencer.step(self, now_ms, calls, ped, pre)
        cfg = self.cfg
        nr = len(cfg.rings)
        ns = len(cfg.rings[0])
        at = self._at
        n = self._n
        ring = self.ring
        gr = 0
        todo = 0
        for r in range(nr):
            o = r * _W
            todo |= ring[o + _TODO]
            for k in range(o + _T, o + _W):
                if ticks.diff(now_ms, ring[k]) > _SAT:  # days of rest: keep ticks.diff valid
                    ring[k] = ticks.add(now_ms, -_SAT)
            if ring[o + _ST] == _GREEN:
                b = 1 << ring[o + _PH]
                gr |= b
                if calls & b:
                    ring[o + _LC] = now_ms
                if ring[o + _PD] == 1:
                    ped &= ~b  # walking now: served
        own = (calls | ped) & gr
        sw = 1 << self.switch_to if self.switch_to >= 0 else 0
        a = self._all
        pre = (pre | self.pre_cmd) & a
        if pre and not self.pre:
            self.hold = False
            self.switch_to = -1
            sw = 0
        elif self.pre and not pre:
            for k in range(self._n):  # calls that waited through a preemption: timed afresh
                self._latch_t[k] = now_ms
        self.pre = pre
        ped &= a
        self.ped_latched |= ped
        # the green phases' own calls extend them; a SWITCH target is called
        self._latch((calls | ped | sw | (cfg.recall & ~self.omit)) & a & ~gr, now_ms)
        need = self.latched & ~todo  # calls only a barrier crossing can serve
        t = _low(pre) if pre else -1
        here = t >= 0 and at[n + t] == self.side  # the preempt phase is on this side
        c = False
        ready = 0  # rings that may cross the barrier now
        idle = 0
        for r in range(nr):
            o = r * _W
            st = ring[o + _ST]
            p = ring[o + _PH]
            el = ticks.diff(now_ms, ring[o + _T])
            if st == _GREEN:
                b = 1 << p
                want = self.latched & (ring[o + _TODO] | need)
                if not ring[o + _PD] and self.ped_latched & b and cfg.walk[p] and not want:
                    self.ped_latched &= ~b  # a push button while the green rests: walk again
                    ring[o + _PD] = 1
                    ring[o + _WT] = now_ms
                    c = self._paint(cfg.phase_mask[p] & cfg.ped_mask, _G, -1) or c
                if ring[o + _PD]:
                    # walk -> ped clearance (timed from when it began) -> red, for its ped groups
                    pm = cfg.phase_mask[p] & cfg.ped_mask
                    wt = ticks.diff(now_ms, ring[o + _WT])
                    if ring[o + _PD] == 1:
                        if wt >= cfg.walk[p]:
                            ring[o + _PD] = 2
                            ring[o + _WT] = now_ms
                            c = self._paint(pm, _Y, -1, _G) or c
                    elif wt >= cfg.ped_clear[p]:
                        ring[o + _PD] = 0
                        c = self._paint(pm, _R, -1, _Y) or c
                # ends as a conflicting call would end it; a SWITCH target in its way (ahead
                # in its ring on this side, or across the barrier) forces it off
                term = self._term(
                    now_ms,
                    p,
                    ring[o + _PT],
                    ring[o + _PD],
                    ring[o + _LC],
                    sw & (need | ring[o + _TODO]),
                    want,
                )
                if term == _PREEMPTED:
                    self.term = term
                    c = self._clear(r, t if here and at[t] == r else -1, now_ms, own) or c
                elif term:
                    self.term = term
                    nx = self._first(r, self.latched & ring[o + _TODO])
                    if nx >= 0:
                        c = self._clear(r, nx, now_ms, own) or c
                    else:
                        # it rests in green at the barrier and gives up the rest of its side: a
                        # later call there waits for the next cycle, or the side could outlast
                        # its share of the max cycle
                        ready |= 1 << r
                        ring[o + _TODO] = 0
            elif st == _YELLOW:
                if el >= cfg.yellow[p]:
                    ring[o + _ST] = _ALL_RED
                    ring[o + _T] = now_ms
                    gm = 0  # the ring's groups
                    for g in cfg.rings[r]:
                        for q in g:
                            gm |= cfg.phase_mask[q]
                    c = self._paint(gm, _R, -1, _Y) or c
            elif st == _ALL_RED and el >= cfg.all_red[p]:
                nx = ring[o + _NX]
                mk = cfg.phase_mask
                kept = mk[p] & mk[nx] if nx >= 0 else 0  # overlap groups still green
                if pre and not kept & ~mk[t]:
                    nx = t if here and at[t] == r else -1
                if nx >= 0:
                    c = self._green(r, nx, now_ms) or c
                else:
                    ring[o + _ST] = _IDLE
                    ring[o + _PH] = -1
            if ring[o + _ST] == _IDLE:
                if pre:
                    q = t if here and at[t] == r else -1
                else:
                    q = (
                        -1
                        if need or self._cross
                        else self._first(r, self.latched & ring[o + _TODO])
                    )
                if q >= 0:
                    c = self._green(r, q, now_ms) or c
                else:
                    idle |= 1 << r
            elif ring[o + _ST] != _GREEN and ring[o + _NX] < 0:
                ready |= 1 << r  # clearing toward red
        every = (1 << nr) - 1
        if idle == every:
            if pre:
                c = self._start(now_ms, at[n + t], t) or c
            elif self._cross or need:
                s = self.side
                for _ in range(ns):
                    s = s + 1 if s + 1 < ns else 0
                    m = 0  # the side's phases
                    for r in range(nr):
                        m |= self._mask(r, s)
                    if self.latched & m:
                        break
                c = self._start(now_ms, s, -1) or c
        elif need and not pre and not self._cross and (ready | idle) == every:
            self._cross = True  # every ring at the barrier: all cross together
            for r in range(nr):
                if ring[r * _W + _ST] == _GREEN:
                    c = self._clear(r, -1, now_ms, own) or c
        self._report()
        return c

    # -- requests ----------------------------------------------------------------------------

    def request(self, code, arg, now_ms):
        """As Sequencer.request, with the ring meanings of HOLD and SWITCH (module doc)."""
        if self.state == _GREEN:
            gr = 0  # the green phases
            for r in range(len(self.cfg.rings)):
                if self.ring[r * _W + _ST] == _GREEN:
                    gr |= 1 << self.ring[r * _W + _PH]
            if code == _HOLD and not gr:
                return _REFUSED, "not green"
            if (code == _SWITCH or code == _CALL) and type(arg) is int and 0 <= arg < self._n:
                if (gr >> arg) & 1:
                    return _REFUSED, "already green"
                if code == _SWITCH and not (self.pre or (self.omit >> arg) & 1):
                    self.switch_to = arg  # a call and a force-off: it never skips a call
                    self.hold = False
                    return 0, ""
        return Sequencer.request(self, code, arg, now_ms)
