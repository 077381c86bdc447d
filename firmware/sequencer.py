"""Phase sequencer: start-up flash -> all-red -> green -> yellow -> all-red -> next green, and a
latched fault flash. Table-driven; actuated by latched detector calls, recalls (min / max /
pedestrian), pedestrian walk and clearance, preemption; gateway requests (HOLD, SWITCH, CLEAR,
CALL, OMIT, PREEMPT) are accepted only inside the timing bounds.

This module holds what every config runs: start-up, fault flash, the demand latched on every
step, the starvation bound (`call_bound`) and the gateway's requests. The service itself is a
subclass loaded only for the configs that run it (on MicroPython a module's code takes heap):
free.py (free phase order: green ends, ped walks, preemption, OMIT and the starvation guard are
described there) or, for a config with rings, rings.py (dual-ring/barrier operation).

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
# (sequencer.GREEN, ...) are found through `__getattr__` at the end of this module, in seqnames.py.
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

_NONE = const(255)  # no transition
# The next state by state and event (_NEXT[3 * state + event]); _NONE is a bug and raises. A bytes
# table, not a dict of dicts: the dicts took half a KB of the resident heap on MicroPython. Fault
# flash is terminal: only a reset leaves it (start-up flash -> all-red -> first phase).
# fmt: off
_NEXT = bytes((
    # _E_TIMEOUT        _E_END   _E_FAULT
    _STARTUP_ALL_RED,   _NONE,   _FAULT,   # _STARTUP_FLASH
    _GREEN,             _NONE,   _FAULT,   # _STARTUP_ALL_RED
    _NONE,              _YELLOW, _FAULT,   # _GREEN
    _ALL_RED,           _NONE,   _FAULT,   # _YELLOW
    _GREEN,             _NONE,   _FAULT,   # _ALL_RED
    _NONE,              _NONE,   _FAULT,   # _FAULT
))
# fmt: on

_R = const(114)  # ord("r")
_F = const(102)  # ord("f")
_SAT = const(1 << 28)  # elapsed-time clamp, far above any config time, below ticks' half period


def _low(m):
    """Index of the lowest set bit of m (> 0)."""
    k = 0
    while not (m >> k) & 1:
        k += 1
    return k


class Sequencer:
    """The phase sequencer for one validated `Config`, starting in start-up flash at `now_ms`:
    a free.FreeSequencer (free phase order), or for a config with rings a rings.RingSequencer
    (dual-ring/barrier operation). Each is loaded only for the configs that run it; this class
    holds what both run: start-up, fault flash, demand latching and the gateway's requests."""

    def __new__(cls, cfg, now_ms):
        if cls is Sequencer:
            if cfg.rings is not None:
                from .rings import RingSequencer as cls
            else:
                from .free import FreeSequencer as cls
            # CPython then runs cls.__init__ once more (same arguments, same result);
            # MicroPython does not, as the object is not exactly a Sequencer.
            return cls(cfg, now_ms)
        return object.__new__(cls)

    # What build.sequencer sets (`__init__` is there: start-up code that app.main unloads, as
    # on MicroPython code is heap). Annotations only: MicroPython compiles nothing for them.
    cfg: "Config"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    _n: int
    _all: int
    call_bound: int  # max cycle + the longest clearance
    signals: bytearray
    state: int
    phase: int
    next_phase: int
    phase_start: int
    state_start: int
    latched: int  # phase bitmask of calls waiting for service
    ped_latched: int  # phase bitmask of pedestrian calls waiting for a walk
    _latch_t: "list[int]"  # per phase, when its call latched
    _last_call: int  # last call on the green phase (passage timer)
    _ped: int  # ped groups of the green phase: 0 done or none, 1 walk, 2 clearance
    _walk_t: int  # when the walk (or the ped clearance) began
    hold: bool
    switch_to: int
    omit: int  # phases the gateway asked to skip
    pre_cmd: int  # phases preempted by command
    pre: int  # phases preempted now (inputs and commands)
    term: int  # why the last green ended (GAP_OUT ...)
    fault_reason: "str | None"

    def __init__(self, cfg, now_ms):
        from .build import sequencer

        sequencer(self, cfg, now_ms)

    # -- state table -------------------------------------------------------------------------

    def _go(self, event, now_ms):
        nxt = _NEXT[3 * self.state + event]
        if nxt == _NONE:
            from .seqnames import no_transition  # a bug: its code is loaded only then

            raise no_transition(self.state, event)
        self.state = nxt
        self.state_start = now_ms
        return self._enter(now_ms)

    def _enter(self, now_ms):
        """Set the heads for the state just entered (here start-up and fault flash, start-up
        all-red; a subclass the service states); True if any head changed."""
        if self.state == _STARTUP_ALL_RED:
            return self._paint(-1, _R, -1)
        self.phase = -1  # _STARTUP_FLASH or _FAULT
        self.next_phase = -1
        self.phase_start = now_ms
        self.hold = False
        self.switch_to = -1
        self._ped = 0
        return self._paint(-1, _F, -1)

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
        # Keep every start time within _SAT of now so ticks.diff never wraps negative.
        if ticks.diff(now_ms, self.state_start) > _SAT:
            self.state_start = ticks.add(now_ms, -_SAT)
        if ticks.diff(now_ms, self.phase_start) > _SAT:
            self.phase_start = ticks.add(now_ms, -_SAT)
        if ticks.diff(now_ms, self._last_call) > _SAT:
            self._last_call = ticks.add(now_ms, -_SAT)
        if ticks.diff(now_ms, self._walk_t) > _SAT:
            self._walk_t = ticks.add(now_ms, -_SAT)
        el = ticks.diff(now_ms, self.state_start)
        if st == _STARTUP_FLASH:
            if el >= cfg.startup_flash:
                return self._go(_E_TIMEOUT, now_ms)
        elif st == _STARTUP_ALL_RED:
            if el >= cfg.startup_all_red:
                # The first phase: the lowest preempted, else the first with a call, else 0. The
                # max-cycle bound applies from the first green: start-up time is not service time.
                first = -1
                for k in range(self._n):
                    if (self.latched >> k) & 1:
                        self._latch_t[k] = now_ms
                        if first < 0:
                            first = k
                if pre:
                    first = _low(pre)
                self.next_phase = first if first >= 0 else 0
                return self._go(_E_TIMEOUT, now_ms)
        elif st != _FAULT:  # green, yellow, all-red: free.py (rings.py has its own step)
            return self._run(now_ms, el, own, b)  # pyright: ignore[reportAttributeAccessIssue]
        return False

    def _latch(self, calls, now_ms):
        new = calls & ~self.latched
        if new:
            self.latched |= new
            for k in range(self._n):
                if (new >> k) & 1:
                    self._latch_t[k] = now_ms

    def _term(self, now_ms, p, start, ped, last, force, want):
        """0 to keep phase p green, else why its green ends now (both sequencers): green since
        `start`, `ped` its walk state (0 done or none), its last call at `last`, `force` a
        force-off in its way, `want` the calls its green keeps waiting."""
        cfg = self.cfg
        el = ticks.diff(now_ms, start)
        if el < cfg.min_green[p] or ped:
            return 0
        if self.pre:
            return 0 if (self.pre >> p) & 1 else _PREEMPTED
        if force:
            return _FORCE_OFF
        if not want:
            return 0  # no other demand: rest in green
        if el >= cfg.max_green[p]:
            return _MAX_OUT
        if self.hold or (cfg.recall_max >> p) & 1:
            return 0
        return _GAP_OUT if ticks.diff(now_ms, last) >= cfg.passage[p] else 0

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
            # free.py's guard: rings.py's request answers every SWITCH in green it would see
            if not self._allows(end, self.phase, arg):  # pyright: ignore[reportAttributeAccessIssue]
                return _REFUSED, "would starve a call"
        self.switch_to = arg
        self.hold = False
        return _OK, ""

    def fault(self, now_ms, reason):
        """Latch fault flash (all f); the first reason is kept in `fault_reason`. Only a reset
        leaves it (no event of the state table does)."""
        if self.state != _FAULT:
            self.fault_reason = reason
        return self._go(_E_FAULT, now_ms)


def __getattr__(name):
    """The public names of the private consts above (sequencer.GREEN, ...) and TransitionError,
    for tests and tools: they are in seqnames.py, loaded only when one is asked for."""
    from .seqnames import public

    return public(name)
