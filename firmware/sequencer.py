"""Phase sequencer: start-up flash -> all-red -> green -> yellow -> all-red -> next green, and a
latched fault flash. Table-driven; actuated by latched detector calls; gateway requests (HOLD,
SWITCH, CLEAR) are accepted only inside the timing bounds.

Starvation guard: a call latched at time L must see its phase green by L + max cycle + the
longest clearance. Pure cyclic actuated service (each phase at most max green, other phases'
calls latched) meets that bound by construction, so the gateway's SWITCH target is taken only
when, assuming every phase after it runs to max green in cyclic order, every waiting call still
meets its bound; and never once a call has waited longer than the max cycle. Otherwise the
sequencer serves the next latched call in cyclic order.

Every change happens at a `step` call, at the step's own time, so late ticks only lengthen
intervals. Elapsed times are clamped at _SAT so a green resting for days cannot wrap `ticks.diff`.
"""

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


STARTUP_FLASH = const(0)
STARTUP_ALL_RED = const(1)
GREEN = const(2)
YELLOW = const(3)
ALL_RED = const(4)
FAULT = const(5)
STATE_NAMES = ("startup_flash", "startup_all_red", "green", "yellow", "all_red", "fault")

# Request codes, the same numbers as the protocol's COMMAND codes.
HOLD = const(1)
SWITCH = const(2)
CLEAR = const(3)
# Request results, as in the protocol's ACK.
OK = const(0)
REFUSED = const(1)
UNKNOWN = const(2)

_TIMEOUT = const(0)  # a timed state ran out
_END = const(1)  # the green phase ends (gap-out, max-out, switch)
_FAULT = const(2)
_CLEAR = const(3)

# {state: {event: next state}}; anything else is a bug and raises.
_NEXT = {
    STARTUP_FLASH: {_TIMEOUT: STARTUP_ALL_RED, _FAULT: FAULT},
    STARTUP_ALL_RED: {_TIMEOUT: GREEN, _FAULT: FAULT},
    GREEN: {_END: YELLOW, _FAULT: FAULT},
    YELLOW: {_TIMEOUT: ALL_RED, _FAULT: FAULT},
    ALL_RED: {_TIMEOUT: GREEN, _FAULT: FAULT},
    FAULT: {_FAULT: FAULT, _CLEAR: STARTUP_FLASH},
}

_G = const(71)  # ord("G")
_Y = const(121)  # ord("y")
_R = const(114)  # ord("r")
_F = const(102)  # ord("f")
_SAT = const(1 << 28)  # elapsed-time clamp, far above any config time, below ticks' half period


class TransitionError(ValueError):
    """An event the current state has no transition for (a bug, never a traffic condition)."""


class Sequencer:
    """The phase sequencer for one validated `Config`, starting in start-up flash at `now_ms`."""

    def __init__(self, cfg, now_ms):
        self.cfg = cfg
        n = cfg.n_phases
        self._n = n
        self._all = (1 << n) - 1
        self._span = [cfg.max_green[p] + cfg.yellow[p] + cfg.all_red[p] for p in range(n)]
        self.call_bound = cfg.max_cycle + max(cfg.yellow[p] + cfg.all_red[p] for p in range(n))
        self.signals = bytearray(cfg.n_groups)
        self.state = STARTUP_FLASH
        self.phase = -1
        self.next_phase = -1
        self.phase_start = now_ms
        self.state_start = now_ms
        self.latched = 0  # phase bitmask of calls waiting for service
        self._latch_t = [now_ms] * n
        self._last_call = now_ms  # last call on the green phase (passage timer)
        self.hold = False
        self.switch_to = -1
        self.fault_reason = None
        self._enter(now_ms)

    # -- state table -------------------------------------------------------------------------

    def _go(self, event, now_ms):
        nxt = _NEXT[self.state].get(event)
        if nxt is None:
            raise TransitionError(f"no transition from {STATE_NAMES[self.state]} on {event!r}")
        self.state = nxt
        self.state_start = now_ms
        return self._enter(now_ms)

    def _enter(self, now_ms):
        """Set the heads for the state just entered; True if any head changed."""
        st = self.state
        sig = self.signals
        changed = False
        if st == STARTUP_FLASH or st == FAULT:
            self.phase = -1
            self.next_phase = -1
            self.phase_start = now_ms
            self.hold = False
            self.switch_to = -1
            for i in range(len(sig)):
                if sig[i] != _F:
                    sig[i] = _F
                    changed = True
        elif st == STARTUP_ALL_RED:
            for i in range(len(sig)):
                if sig[i] != _R:
                    sig[i] = _R
                    changed = True
        elif st == GREEN:
            p = self.next_phase
            self.phase = p
            self.next_phase = -1
            self.phase_start = now_ms
            self._last_call = now_ms
            self.latched &= ~(1 << p)
            self.hold = False
            if self.switch_to == p:
                self.switch_to = -1
            m = self.cfg.phase_mask[p]
            for i in range(len(sig)):
                c = _G if (m >> i) & 1 else _R
                if sig[i] != c:
                    sig[i] = c
                    changed = True
        elif st == YELLOW:
            # Groups that stay green into the next phase (overlaps) keep G.
            m = self.cfg.phase_mask[self.phase] & ~self.cfg.phase_mask[self.next_phase]
            for i in range(len(sig)):
                if (m >> i) & 1:
                    sig[i] = _Y
                    changed = True
            self.hold = False
        else:  # ALL_RED
            for i in range(len(sig)):
                if sig[i] == _Y:
                    sig[i] = _R
                    changed = True
        return changed

    # -- per tick ----------------------------------------------------------------------------

    def step(self, now_ms, calls):
        """Advance to `now_ms` with `calls` (phase bitmask of detector demand now); True if the
        heads changed."""
        st = self.state
        calls &= self._all
        own = 0
        if st == GREEN:
            own = calls & (1 << self.phase)
            if own:
                self._last_call = now_ms
            calls &= ~own  # the green phase's own calls extend it, they do not latch
        self._latch(calls, now_ms)
        self._clamp(now_ms)
        el = ticks.diff(now_ms, self.state_start)
        cfg = self.cfg
        if st == GREEN:
            if self._should_end(now_ms):
                self.next_phase = self._choose(now_ms)
                # A vehicle still there as its green ends waits for the next turn.
                self._latch(own, now_ms)
                return self._go(_END, now_ms)
        elif st == YELLOW:
            if el >= cfg.yellow[self.phase]:
                return self._go(_TIMEOUT, now_ms)
        elif st == ALL_RED:
            if el >= cfg.all_red[self.phase]:
                return self._go(_TIMEOUT, now_ms)
        elif st == STARTUP_FLASH:
            if el >= cfg.startup_flash:
                return self._go(_TIMEOUT, now_ms)
        elif st == STARTUP_ALL_RED:
            if el >= cfg.startup_all_red:
                self.next_phase = self._first_phase(now_ms)
                return self._go(_TIMEOUT, now_ms)
        return False

    def _latch(self, calls, now_ms):
        new = calls & ~self.latched
        if new:
            self.latched |= new
            for k in range(self._n):
                if (new >> k) & 1:
                    self._latch_t[k] = now_ms

    def _clamp(self, now_ms):
        # Keep every start time within _SAT of now so ticks.diff never wraps negative.
        if ticks.diff(now_ms, self.state_start) > _SAT:
            self.state_start = ticks.add(now_ms, -_SAT)
        if ticks.diff(now_ms, self.phase_start) > _SAT:
            self.phase_start = ticks.add(now_ms, -_SAT)
        if ticks.diff(now_ms, self._last_call) > _SAT:
            self._last_call = ticks.add(now_ms, -_SAT)

    def _should_end(self, now_ms):
        p = self.phase
        cfg = self.cfg
        el = ticks.diff(now_ms, self.phase_start)
        if el < cfg.min_green[p]:
            return False
        if self.switch_to >= 0:
            return True
        if not self.latched:
            return False  # no other demand: rest in green
        if el >= cfg.max_green[p]:
            return True
        if self.hold:
            return False
        return ticks.diff(now_ms, self._last_call) >= cfg.passage[p]

    def _first_phase(self, now_ms):
        # The max-cycle bound applies from the first green: start-up time is not service time.
        first = -1
        for k in range(self._n):
            if (self.latched >> k) & 1:
                self._latch_t[k] = now_ms
                if first < 0:
                    first = k
        return first if first >= 0 else 0

    def _choose(self, now_ms):
        """The phase to serve after the current one (which is ending now)."""
        p = self.phase
        c = self.switch_to
        if c >= 0 and self._allows(now_ms, p, c):
            return c
        k = p
        for _ in range(self._n):
            k = k + 1 if k + 1 < self._n else 0
            if (self.latched >> k) & 1:
                return k
        raise TransitionError("green ended with no phase to serve")

    def _allows(self, end_ms, p, c):
        """True if serving c after p (ending at end_ms) keeps every other waiting call within
        call_bound, assuming max green everywhere afterwards in cyclic order."""
        others = self.latched & ~(1 << c)
        if not others:
            return True
        n = self._n
        base = self.cfg.yellow[p] + self.cfg.all_red[p] + self._span[c]
        for k in range(n):
            if not (others >> k) & 1:
                continue
            waited = ticks.diff(end_ms, self._latch_t[k])
            if waited > self.cfg.max_cycle:
                return False
            # Phases strictly between c and k in cyclic order may each run a full span first.
            total = waited + base
            j = c + 1 if c + 1 < n else 0
            while j != k:
                total += self._span[j]
                j = j + 1 if j + 1 < n else 0
            if total > self.call_bound:
                return False
        return True

    # -- requests and faults -----------------------------------------------------------------

    def request(self, code, arg, now_ms):
        """Gateway request HOLD / SWITCH(arg) / CLEAR -> (result, reason): 0 accepted, 1 refused,
        2 unknown code. Never shortens min green, yellow or all-red, never holds past max green."""
        if code != HOLD and code != SWITCH and code != CLEAR:
            return UNKNOWN, "unknown code"
        st = self.state
        if st == FAULT:
            return REFUSED, "fault flash"
        if st == STARTUP_FLASH or st == STARTUP_ALL_RED:
            return REFUSED, "start-up"
        if code == CLEAR:
            self.hold = False
            self.switch_to = -1
            return OK, ""
        cfg = self.cfg
        if code == HOLD:
            if st != GREEN:
                return REFUSED, "not green"
            if ticks.diff(now_ms, self.phase_start) >= cfg.max_green[self.phase]:
                return REFUSED, "at max green"
            self.hold = True
            self.switch_to = -1
            return OK, ""
        if type(arg) is not int or arg < 0 or arg >= self._n:
            return REFUSED, "unknown phase"
        if st == GREEN:
            if arg == self.phase:
                return REFUSED, "already green"
            end = ticks.add(self.phase_start, cfg.min_green[self.phase])
            if ticks.reached(now_ms, end):
                end = now_ms
            if not self._allows(end, self.phase, arg):
                return REFUSED, "would starve a call"
        self.switch_to = arg
        self.hold = False
        return OK, ""

    def fault(self, now_ms, reason):
        """Latch fault flash (all f); the first reason is kept in `fault_reason`."""
        if self.state != FAULT:
            self.fault_reason = reason
        return self._go(_FAULT, now_ms)

    def clear_fault(self, now_ms):
        """Leave fault flash through the start-up sequence. Raises TransitionError if not in
        fault."""
        changed = self._go(_CLEAR, now_ms)
        self.fault_reason = None
        return changed

    def ms_in_phase(self, now_ms):
        """ms since the current phase turned green (or the flash state began when phase is -1),
        saturating at about 3 days."""
        return ticks.diff(now_ms, self.phase_start)
