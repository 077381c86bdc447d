"""Free phase order: one phase at a time, cyclic, skipping phases without a call (the configs
without rings, e.g. SUMO programs). Loaded only for such a config: `sequencer.Sequencer(cfg, t)`
returns a FreeSequencer then; start-up, fault flash, demand latching and the gateway's requests
are sequencer.py's.

A green ends by gap-out, max-out, force-off (SWITCH) or preemption (`term` says which).
It never ends before its min green nor while its pedestrian walk or clearance runs: the ped
groups show walk (G) for max(walk, min green), then clearance (y) for ped_clear (timed from
when it began), then r, all inside the vehicle green, so the ped clearance always ends before
the vehicle yellow starts (config.py checks that it fits in max green). A walk needs a ped call
or pedestrian recall; ped groups without one stay red. A push button while the green rests
with no other demand walks again (ped recycle); otherwise it waits for the phase's next turn.

Preemption (`pre`, phases called by preempt inputs or commands): the running green ends at min
green (and after its ped clearance) through its full yellow and all-red, then the lowest called
preempt phase is held green while its call lasts. Min green is never cut: the monitor and the
rig's oracle check it on every green. A clearance under way when the call comes runs in full; at
its all-red end it goes straight to the preempt phase unless a group kept green needs the
planned phase. Waiting calls are timed afresh when the preemption ends.

OMIT skips a phase in favour of other waiting calls only while the starvation guard below
allows; it never makes a green rest, and an omitted phase gets no recall.

Starvation guard: a call latched at time L must see its phase green by L + max cycle + the
longest clearance. Pure cyclic actuated service (each phase at most max green, other phases'
calls latched) meets that bound by construction, so the gateway's SWITCH target is taken only
when, assuming every phase after it runs to max green in cyclic order, every waiting call still
meets its bound; and never once a call has waited longer than the max cycle. Otherwise the
sequencer serves the next latched call in cyclic order.
"""

from . import ticks
from .sequencer import Sequencer, _low

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# sequencer's numbers, as private consts: inlined, where imported names would take heap
_GREEN = const(2)
_YELLOW = const(3)
_ALL_RED = const(4)
_E_TIMEOUT = const(0)
_E_END = const(1)
_G = const(71)  # ord("G")
_Y = const(121)  # ord("y")
_R = const(114)  # ord("r")


class FreeSequencer(Sequencer):
    """The free-order sequencer; build it with `sequencer.Sequencer(cfg, now_ms)`."""

    def _enter(self, now_ms):
        st = self.state
        sig = self.signals
        cfg = self.cfg
        if st == _GREEN:
            p = self.next_phase
            b = 1 << p
            self.phase = p
            self.next_phase = -1
            self.phase_start = now_ms
            self._last_call = now_ms
            self.latched &= ~b
            self.hold = False
            if self.switch_to == p:
                self.switch_to = -1
            m = cfg.phase_mask[p]
            pm = m & cfg.ped_mask if cfg.walk[p] else 0
            if pm:
                # a walk for a ped call or recall, or for ped groups still green from the last
                # phase (they may not go straight to red)
                walk = (self.ped_latched | cfg.recall_ped) & b
                for i in range(len(sig)):
                    if (pm >> i) & 1 and sig[i] == _G:
                        walk = 1
                self._ped = 1 if walk else 0
                self._walk_t = now_ms
                if not walk:
                    m &= ~pm
            self.ped_latched &= ~b
            return self._paint(m, _G, _R)
        if st == _YELLOW:
            # Groups that stay green into the next phase (overlaps) keep G.
            self.hold = False
            return self._paint(
                cfg.phase_mask[self.phase] & ~cfg.phase_mask[self.next_phase], _Y, -1, _G
            )
        if st == _ALL_RED:
            return self._paint(-1, _R, -1, _Y)
        return Sequencer._enter(self, now_ms)  # start-up and fault flash, start-up all-red

    # -- per tick ----------------------------------------------------------------------------

    def _run(self, now_ms, el, own, b):
        """Sequencer.step in green, yellow and all-red, `el` ms into the state; `own`: the
        green phase's own calls now, `b` its bit."""
        cfg = self.cfg
        st = self.state
        if st == _GREEN:
            changed = False
            p = self.phase
            if not self._ped and self.ped_latched & b and cfg.walk[p] and not self.latched:
                # a push button while the green rests: walk again (ped recycle)
                self.ped_latched &= ~b
                self._ped = 1
                self._walk_t = now_ms
                changed = self._paint(cfg.phase_mask[p] & cfg.ped_mask, _G, -1)
            if self._ped:
                changed = self._ped_step(now_ms) or changed
            term = self._term(
                now_ms,
                p,
                self.phase_start,
                self._ped,
                self._last_call,
                self.switch_to >= 0,
                self.latched,
            )
            if term:
                self.term = term
                self.next_phase = self._choose(now_ms)
                # A vehicle still there (or a push button since the walk) waits for the next turn.
                self._latch(own | self.ped_latched & b, now_ms)
                return self._go(_E_END, now_ms) or changed
            return changed
        if st == _YELLOW:
            if el >= cfg.yellow[self.phase]:
                return self._go(_E_TIMEOUT, now_ms)
        elif el >= cfg.all_red[self.phase]:  # _ALL_RED
            pre = self.pre
            if pre:
                # go straight to the preempt phase if no group kept green needs the other
                t = _low(pre)
                mk = cfg.phase_mask
                if not mk[self.phase] & mk[self.next_phase] & ~mk[t]:
                    self.next_phase = t
            return self._go(_E_TIMEOUT, now_ms)
        return False

    def _ped_step(self, now_ms):
        """Walk -> ped clearance -> red for the green phase's ped groups."""
        p = self.phase
        cfg = self.cfg
        el = ticks.diff(now_ms, self._walk_t)
        pm = cfg.phase_mask[p] & cfg.ped_mask
        if self._ped == 1:
            if el < cfg.walk[p]:
                return False
            self._ped = 2
            self._walk_t = now_ms  # the clearance is timed from when it began
            return self._paint(pm, _Y, -1, _G)
        if el < cfg.ped_clear[p]:
            return False
        self._ped = 0
        return self._paint(pm, _R, -1, _Y)

    def _choose(self, now_ms):
        """The phase to serve after the current one (which is ending now)."""
        if self.pre:
            return _low(self.pre)
        p = self.phase
        c = self.switch_to
        if c >= 0 and self._allows(now_ms, p, c):
            return c
        first = -1
        k = p
        for _ in range(self._n):
            k = k + 1 if k + 1 < self._n else 0
            if (self.latched >> k) & 1:
                if first < 0:
                    first = k
                # skipping omitted phases is allowed only inside the starvation guard
                if not (self.omit >> k) & 1 and (k == first or self._allows(now_ms, p, k)):
                    return k
        if first < 0:
            from .seqnames import TransitionError  # a bug: its code is loaded only then

            raise TransitionError("green ended with no phase to serve")
        return first

    def _allows(self, end_ms, p, c):
        """True if serving c after p (ending at end_ms) keeps every other waiting call within
        call_bound, assuming max green everywhere afterwards in cyclic order."""
        others = self.latched & ~(1 << c)
        if not others:
            return True
        n = self._n
        cfg = self.cfg
        mg = cfg.plans or cfg.max_green  # the base max greens (a plan only trims them)
        yl = cfg.yellow
        ar = cfg.all_red
        base = yl[p] + ar[p] + mg[c] + yl[c] + ar[c]
        for k in range(n):
            if not (others >> k) & 1:
                continue
            waited = ticks.diff(end_ms, self._latch_t[k])
            if waited > cfg.max_cycle:
                return False
            # Phases strictly between c and k in cyclic order may each run a full span (max
            # green, yellow, all-red) first.
            total = waited + base
            j = c + 1 if c + 1 < n else 0
            while j != k:
                total += mg[j] + yl[j] + ar[j]
                j = j + 1 if j + 1 < n else 0
            if total > self.call_bound:
                return False
        return True
