"""Software conflict monitor: sees only the signal strings and the Config, never the sequencer.

`check(now_ms, signals)` runs the seven safety checks of docs/architecture.md on every change of
the heads and returns a fault code (0 ok). The first fault latches for good (a reset
starts a new Monitor). Going to `f` is
always allowed (flash is the safe state); `f -> r` counts as the group's red onset. Call `check`
at least once a day even without changes (every tick is fine): it also keeps the stored times
within the tick counter's range.
"""

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


# Fault codes: private consts (a public name would be a dict entry and an interned string the
# heap keeps for good); monitor.FAULT_CONFLICT and the rest are found through `__getattr__` below.
_FAULT_CONFLICT = const(1)
_FAULT_NO_YELLOW = const(2)
_FAULT_SHORT_YELLOW = const(3)
_FAULT_SHORT_GREEN = const(4)
_FAULT_ALL_RED = const(5)
_FAULT_DARK = const(6)
_FAULT_BAD_TRANSITION = const(7)

_G = const(71)  # ord("G")
_g = const(103)  # ord("g")
_Y = const(121)  # ord("y")
_R = const(114)  # ord("r")
_F = const(102)  # ord("f")
_O = const(111)  # ord("o")
_MIN_YELLOW = const(3000)
_SAT = const(1 << 28)  # stored times never fall further behind than this (ticks.diff range)


def _green(c):
    return c == _G or c == _g


class Monitor:
    """Independent safety monitor for one Config, starting from `signals` at `now_ms`."""

    # What build.monitor sets (`__init__` is there: start-up code that app.main unloads, as on
    # MicroPython code is heap). Annotations only: MicroPython compiles nothing for them.
    cfg: "Config"  # noqa: F821  # pyright: ignore[reportUndefinedVariable]
    _n: int
    _last: bytearray  # the signal seen last, per group
    _since: "list[int]"  # when the group's current colour began (G and g count as one)
    _red_at: "list[int]"  # red onset: y -> r, f -> r, o -> r
    _min_yellow: "list[int]"
    _quiet: bool  # start-up or flash: until the first green, dark heads are allowed
    fault_code: int
    fault_detail: str

    def __init__(self, cfg, now_ms, signals):
        from .build import monitor

        monitor(self, cfg, now_ms, signals)

    def _reset(self, now_ms, signals):
        if isinstance(signals, str):
            signals = signals.encode()
        quiet = True
        for i in range(self._n):
            c = signals[i] if i < len(signals) else _F
            self._last[i] = c
            self._since[i] = now_ms
            self._red_at[i] = now_ms  # unknown history: assume red only just began
            if _green(c):
                quiet = False
        # Quiet = start-up or flash: until the first green, dark heads are allowed.
        self._quiet = quiet

    def _fault(self, code, detail):
        self.fault_code = code
        self.fault_detail = detail
        return code

    def check(self, now_ms, signals):
        """Check the heads `signals` (str or bytes-like, one char per group) shown from `now_ms`;
        return 0 or the latched fault code."""
        if self.fault_code:
            return self.fault_code
        if isinstance(signals, str):
            signals = signals.encode()
        n = self._n
        cfg = self.cfg
        names = cfg.groups
        if len(signals) != n:
            return self._fault(_FAULT_BAD_TRANSITION, f"{len(signals)} signals for {n} groups")
        last = self._last
        since = self._since
        red_at = self._red_at
        # 1. conflicts, on the new string alone
        active = 0
        for i in range(n):
            c = signals[i]
            if c == _G or c == _g or c == _Y:
                active |= 1 << i
        for i in range(n):
            clash = (active >> i) & 1 and cfg.conflict_mask[i] & active
            if clash:
                j = 0
                while not (clash >> j) & 1:
                    j += 1
                return self._fault(_FAULT_CONFLICT, f"conflict {names[i]}/{names[j]}")
        # 2, 3, 4, 6, 7: each group's own transition
        turned_green = 0
        all_f = True
        any_green = False
        for i in range(n):
            new = signals[i]
            old = last[i]
            if new != _F:
                all_f = False
            if _green(new):
                any_green = True
            if ticks.diff(now_ms, since[i]) > _SAT:
                since[i] = ticks.add(now_ms, -_SAT)
            if ticks.diff(now_ms, red_at[i]) > _SAT:
                red_at[i] = ticks.add(now_ms, -_SAT)
            if new == old or (_green(new) and _green(old)):
                continue
            lasted = ticks.diff(now_ms, since[i])
            if lasted < 0:  # a clock that ran backwards: trust nothing measured
                lasted = 0
            code = self._transition(i, old, new, lasted)
            if code:
                return code
            if new == _R:
                red_at[i] = now_ms
            elif _green(new):
                turned_green |= 1 << i
            last[i] = new
            since[i] = now_ms
        # 5. all-red: a group turning green needs every conflicting group red for its all-red
        for i in range(n):
            if not (turned_green >> i) & 1:
                continue
            for h in range(n):
                if (cfg.conflict_mask[i] >> h) & 1:
                    red = ticks.diff(now_ms, red_at[h])
                    if red < cfg.g_all_red[h]:
                        return self._fault(
                            _FAULT_ALL_RED,
                            f"all-red {names[i]} after {names[h]}: {red} < {cfg.g_all_red[h]} ms",
                        )
        if all_f:
            self._quiet = True
        elif any_green:
            self._quiet = False
        return 0

    def _transition(self, i, old, new, lasted):
        """Fault code for group i going old -> new after `lasted` ms in old, else 0."""
        name = self.cfg.groups[i]
        if new == _F:
            return 0  # flash is the safe state
        if new == _O:
            if self._quiet:
                return 0
            return self._fault(_FAULT_DARK, f"dark {name}")
        if new == _R:
            if _green(old):
                return self._fault(_FAULT_NO_YELLOW, f"no yellow {name}")
            if old == _Y and lasted < self._min_yellow[i]:
                need = self._min_yellow[i]
                detail = f"short yellow {name}: {lasted} < {need} ms"
                return self._fault(_FAULT_SHORT_YELLOW, detail)
            return 0
        if new == _Y:
            if not _green(old):
                return self._fault(_FAULT_BAD_TRANSITION, f"bad transition {name} {chr(old)}->y")
            if lasted < self.cfg.g_min_green[i]:
                need = self.cfg.g_min_green[i]
                return self._fault(_FAULT_SHORT_GREEN, f"short green {name}: {lasted} < {need} ms")
            return 0
        if _green(new):
            if old == _R:
                return 0
            return self._fault(
                _FAULT_BAD_TRANSITION, f"bad transition {name} {chr(old)}->{chr(new)}"
            )
        return self._fault(_FAULT_BAD_TRANSITION, f"bad signal {name} {chr(new)!r}")


def __getattr__(name):
    """The public names of the fault codes (monitor.FAULT_CONFLICT, ...), for tests and tools."""
    w = "CONFLICT NO_YELLOW SHORT_YELLOW SHORT_GREEN ALL_RED DARK BAD_TRANSITION".split()
    for i in range(len(w)):
        if name == "FAULT_" + w[i]:
            return i + 1
    raise AttributeError(f"module 'firmware.monitor' has no attribute {name!r}")
