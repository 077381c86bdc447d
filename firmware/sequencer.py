"""Phase sequencer: start-up flash -> all-red -> green -> yellow -> all-red -> next green, and a
latched fault flash. Table-driven; actuated by latched detector calls, recalls (min / max /
pedestrian), pedestrian walk and clearance, preemption; gateway requests (HOLD, SWITCH, CLEAR,
CALL, OMIT, PREEMPT) are accepted only inside the timing bounds.

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

Every change happens at a `step` call, at the step's own time, so late ticks only lengthen
intervals. Elapsed times are clamped at _SAT so a green resting for days cannot wrap `ticks.diff`.
"""

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# States, request codes, why a green ended and request results: private consts (on MicroPython a
# public name is a dict entry and an interned string the heap keeps for good); the public names
# (sequencer.GREEN, ...) are found through `__getattr__` at the end of this module.
_STARTUP_FLASH = const(0)
_STARTUP_ALL_RED = const(1)
_GREEN = const(2)
_YELLOW = const(3)
_ALL_RED = const(4)
_FAULT = const(5)

# Request codes, the same numbers as the protocol's COMMAND codes.
_HOLD = const(1)
_SWITCH = const(2)
_CLEAR = const(3)
_CALL = const(4)
_OMIT = const(5)
_PREEMPT = const(6)  # arg = phase, 255 = release
# Why the last green ended (`term`).
_GAP_OUT = const(1)
_MAX_OUT = const(2)
_FORCE_OFF = const(3)
_PREEMPTED = const(4)
# Request results, as in the protocol's ACK.
_OK = const(0)
_REFUSED = const(1)
_UNKNOWN = const(2)

_E_TIMEOUT = const(0)  # a timed state ran out
_E_END = const(1)  # the green phase ends (gap-out, max-out, switch)
_E_FAULT = const(2)
_E_CLEAR = const(3)

_NONE = const(255)  # no transition
# The next state by state and event (_NEXT[4 * state + event]); _NONE is a bug and raises. A bytes
# table, not a dict of dicts: the dicts took half a KB of the resident heap on MicroPython.
# fmt: off
_NEXT = bytes((
    # _E_TIMEOUT        _E_END   _E_FAULT  _E_CLEAR
    _STARTUP_ALL_RED,   _NONE,   _FAULT,   _NONE,            # _STARTUP_FLASH
    _GREEN,             _NONE,   _FAULT,   _NONE,            # _STARTUP_ALL_RED
    _NONE,              _YELLOW, _FAULT,   _NONE,            # _GREEN
    _ALL_RED,           _NONE,   _FAULT,   _NONE,            # _YELLOW
    _GREEN,             _NONE,   _FAULT,   _NONE,            # _ALL_RED
    _NONE,              _NONE,   _FAULT,   _STARTUP_FLASH,   # _FAULT
))
# fmt: on

_G = const(71)  # ord("G")
_Y = const(121)  # ord("y")
_R = const(114)  # ord("r")
_F = const(102)  # ord("f")
_SAT = const(1 << 28)  # elapsed-time clamp, far above any config time, below ticks' half period


class TransitionError(ValueError):
    """An event the current state has no transition for (a bug, never a traffic condition)."""


def _low(m):
    """Index of the lowest set bit of m (> 0)."""
    k = 0
    while not (m >> k) & 1:
        k += 1
    return k


class Sequencer:
    """The phase sequencer for one validated `Config`, starting in start-up flash at `now_ms`.
    For a config with rings it is a rings.RingSequencer (dual-ring/barrier operation), whose
    code is loaded only then."""

    def __new__(cls, cfg, now_ms):
        if cls is Sequencer and cfg.rings is not None:
            from .rings import RingSequencer

            # CPython then runs RingSequencer.__init__ once more (same arguments, same result);
            # MicroPython does not, as the object is not exactly a Sequencer.
            return RingSequencer(cfg, now_ms)
        return object.__new__(cls)

    def __init__(self, cfg, now_ms):
        self.cfg = cfg
        n = cfg.n_phases
        self._n = n
        self._all = (1 << n) - 1
        self._span = [cfg.max_green[p] + cfg.yellow[p] + cfg.all_red[p] for p in range(n)]
        self.call_bound = cfg.max_cycle + max(cfg.yellow[p] + cfg.all_red[p] for p in range(n))
        self.signals = bytearray(cfg.n_groups)
        self.state = _STARTUP_FLASH
        self.phase = -1
        self.next_phase = -1
        self.phase_start = now_ms
        self.state_start = now_ms
        self.latched = 0  # phase bitmask of calls waiting for service
        self.ped_latched = 0  # phase bitmask of pedestrian calls waiting for a walk
        self._latch_t = [now_ms] * n
        self._last_call = now_ms  # last call on the green phase (passage timer)
        self._ped = 0  # ped groups of the green phase: 0 done or none, 1 walk, 2 clearance
        self._walk_t = now_ms  # when the walk (or the ped clearance) began
        self.hold = False
        self.switch_to = -1
        self.omit = 0  # phases the gateway asked to skip
        self.pre_cmd = 0  # phases preempted by command
        self.pre = 0  # phases preempted now (inputs and commands)
        self.term = 0  # why the last green ended (GAP_OUT ...)
        self.fault_reason = None
        self._enter(now_ms)

    # -- state table -------------------------------------------------------------------------

    def _go(self, event, now_ms):
        nxt = _NEXT[4 * self.state + event]
        if nxt == _NONE:
            names = "startup_flash startup_all_red green yellow all_red fault".split()
            raise TransitionError(f"no transition from {names[self.state]} on {event!r}")
        self.state = nxt
        self.state_start = now_ms
        return self._enter(now_ms)

    def _enter(self, now_ms):
        """Set the heads for the state just entered; True if any head changed."""
        st = self.state
        sig = self.signals
        cfg = self.cfg
        if st == _STARTUP_FLASH or st == _FAULT:
            self.phase = -1
            self.next_phase = -1
            self.phase_start = now_ms
            self.hold = False
            self.switch_to = -1
            self._ped = 0
            return self._paint(-1, _F, -1)
        if st == _STARTUP_ALL_RED:
            return self._paint(-1, _R, -1)
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
        return self._paint(-1, _R, -1, _Y)  # ALL_RED

    def _paint(self, m, on, off, only=-1):
        """Groups in mask m get `on`, the others `off` (-1: left as they are), but only groups
        now showing `only` (-1: any). True if a head changed."""
        sig = self.signals
        changed = False
        for i in range(len(sig)):
            c = on if (m >> i) & 1 else off
            if c >= 0 and sig[i] != c and (only < 0 or sig[i] == only):
                sig[i] = c
                changed = True
        return changed

    # -- per tick ----------------------------------------------------------------------------

    def step(self, now_ms, calls, ped=0, pre=0):
        """Advance to `now_ms` with the demand now, as phase bitmasks: `calls` (vehicle
        detectors), `ped` (push buttons), `pre` (preempt inputs). True if the heads changed."""
        st = self.state
        a = self._all
        cfg = self.cfg
        calls &= a
        ped &= a
        pre = (pre | self.pre_cmd) & a
        if pre and not self.pre:
            self.hold = False
            self.switch_to = -1
        elif self.pre and not pre:
            # the max-cycle bound of the calls that waited through a preemption starts again
            for k in range(self._n):
                self._latch_t[k] = now_ms
        self.pre = pre
        own = 0
        b = 0
        if st == _GREEN:
            b = 1 << self.phase
            if calls & b:
                self._last_call = now_ms
            if self._ped == 1:
                ped &= ~b  # walking now: served
            own = (calls | ped) & b
        self.ped_latched |= ped
        # the green phase's own calls extend it, they do not latch
        self._latch((calls | ped | (cfg.recall & ~self.omit)) & ~b, now_ms)
        self._clamp(now_ms)
        el = ticks.diff(now_ms, self.state_start)
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
            term = self._should_end(now_ms)
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
        elif st == _ALL_RED:
            if el >= cfg.all_red[self.phase]:
                if pre:
                    # go straight to the preempt phase if no group kept green needs the other
                    t = _low(pre)
                    mk = cfg.phase_mask
                    if not mk[self.phase] & mk[self.next_phase] & ~mk[t]:
                        self.next_phase = t
                return self._go(_E_TIMEOUT, now_ms)
        elif st == _STARTUP_FLASH:
            if el >= cfg.startup_flash:
                return self._go(_E_TIMEOUT, now_ms)
        elif st == _STARTUP_ALL_RED:
            if el >= cfg.startup_all_red:
                self.next_phase = self._first_phase(now_ms)
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
        if ticks.diff(now_ms, self._walk_t) > _SAT:
            self._walk_t = ticks.add(now_ms, -_SAT)

    def _should_end(self, now_ms):
        """0 to stay green, else why the green ends now."""
        p = self.phase
        cfg = self.cfg
        el = ticks.diff(now_ms, self.phase_start)
        if el < cfg.min_green[p] or self._ped:
            return 0
        if self.pre:
            return 0 if (self.pre >> p) & 1 else _PREEMPTED
        if self.switch_to >= 0:
            return _FORCE_OFF
        if not self.latched:
            return 0  # no other demand: rest in green
        if el >= cfg.max_green[p]:
            return _MAX_OUT
        if self.hold or (cfg.recall_max >> p) & 1:
            return 0
        return _GAP_OUT if ticks.diff(now_ms, self._last_call) >= cfg.passage[p] else 0

    def _first_phase(self, now_ms):
        # The max-cycle bound applies from the first green: start-up time is not service time.
        first = -1
        for k in range(self._n):
            if (self.latched >> k) & 1:
                self._latch_t[k] = now_ms
                if first < 0:
                    first = k
        if self.pre:
            return _low(self.pre)
        return first if first >= 0 else 0

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
            raise TransitionError("green ended with no phase to serve")
        return first

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
        """Gateway request -> (result, reason): 0 accepted, 1 refused, 2 unknown code.
        HOLD, SWITCH(phase) (force-off to it), CLEAR (drops holds, switches, omits and command
        preemption), CALL(phase), OMIT(phase), PREEMPT(phase, 255 releases). Never shortens min
        green, walk, ped clearance, yellow or all-red, never holds past max green."""
        if type(code) is not int or code < _HOLD or code > _PREEMPT:
            return _UNKNOWN, "unknown code"
        st = self.state
        if st == _FAULT:
            return _REFUSED, "fault flash"
        if st == _STARTUP_FLASH or st == _STARTUP_ALL_RED:
            return _REFUSED, "start-up"
        if code == _CLEAR:
            self.hold = False
            self.switch_to = -1
            self.omit = 0
            self.pre_cmd = 0
            return _OK, ""
        if code == _PREEMPT and arg == 255:
            self.pre_cmd = 0
            return _OK, ""
        cfg = self.cfg
        if code == _HOLD:
            if st != _GREEN:
                return _REFUSED, "not green"
            if self.pre:
                return _REFUSED, "preempt"
            if ticks.diff(now_ms, self.phase_start) >= cfg.max_green[self.phase]:
                return _REFUSED, "at max green"
            self.hold = True
            self.switch_to = -1
            return _OK, ""
        if type(arg) is not int or arg < 0 or arg >= self._n:
            return _REFUSED, "unknown phase"
        b = 1 << arg
        if code == _PREEMPT:
            self.pre_cmd |= b
            return _OK, ""
        if code == _OMIT:
            self.omit |= b
            return _OK, ""
        if st == _GREEN and arg == self.phase:
            return _REFUSED, "already green"
        if code == _CALL:
            self._latch(b, now_ms)
            return _OK, ""
        if self.pre:
            return _REFUSED, "preempt"
        if self.omit & b:
            return _REFUSED, "omitted"
        if st == _GREEN:
            end = ticks.add(self.phase_start, cfg.min_green[self.phase])
            if ticks.reached(now_ms, end):
                end = now_ms
            if not self._allows(end, self.phase, arg):
                return _REFUSED, "would starve a call"
        self.switch_to = arg
        self.hold = False
        return _OK, ""

    def fault(self, now_ms, reason):
        """Latch fault flash (all f); the first reason is kept in `fault_reason`."""
        if self.state != _FAULT:
            self.fault_reason = reason
        return self._go(_E_FAULT, now_ms)

    def clear_fault(self, now_ms):
        """Leave fault flash through the start-up sequence. Raises TransitionError if not in
        fault."""
        changed = self._go(_E_CLEAR, now_ms)
        self.fault_reason = None
        return changed

    def ms_in_phase(self, now_ms):
        """ms since the current phase turned green (or the flash state began when phase is -1),
        saturating at about 3 days."""
        return ticks.diff(now_ms, self.phase_start)


def __getattr__(name):
    """The public names of the private consts above (sequencer.GREEN, ...), for tests and tools."""
    w = (
        "STARTUP_FLASH 0 STARTUP_ALL_RED 1 GREEN 2 YELLOW 3 ALL_RED 4 FAULT 5 "
        "HOLD 1 SWITCH 2 CLEAR 3 CALL 4 OMIT 5 PREEMPT 6 "
        "GAP_OUT 1 MAX_OUT 2 FORCE_OFF 3 PREEMPTED 4 OK 0 REFUSED 1 UNKNOWN 2"
    ).split()
    for i in range(0, len(w), 2):
        if w[i] == name:
            return int(w[i + 1])
    raise AttributeError(f"module 'firmware.sequencer' has no attribute {name!r}")
