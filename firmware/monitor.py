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
            gn = new == _G or new == _g  # green (G and g count as one)
            go = old == _G or old == _g
            if new != _F:
                all_f = False
            if gn:
                any_green = True
            if ticks.diff(now_ms, since[i]) > _SAT:
                since[i] = ticks.add(now_ms, -_SAT)
            if ticks.diff(now_ms, red_at[i]) > _SAT:
                red_at[i] = ticks.add(now_ms, -_SAT)
            if new == old or (gn and go):
                continue
            lasted = ticks.diff(now_ms, since[i])
            if lasted < 0:  # a clock that ran backwards: trust nothing measured
                lasted = 0
            # the transition old -> new after `lasted` ms in old (flash is the safe state)
            name = names[i]
            if new == _F:
                pass
            elif new == _O:
                if not self._quiet:
                    return self._fault(_FAULT_DARK, f"dark {name}")
            elif new == _R:
                if go:
                    return self._fault(_FAULT_NO_YELLOW, f"no yellow {name}")
                need = self._min_yellow[i]
                if old == _Y and lasted < need:
                    detail = f"short yellow {name}: {lasted} < {need} ms"
                    return self._fault(_FAULT_SHORT_YELLOW, detail)
            elif new == _Y:
                if not go:
                    detail = f"bad transition {name} {chr(old)}->y"
                    return self._fault(_FAULT_BAD_TRANSITION, detail)
                need = cfg.g_min_green[i]
                if lasted < need:
                    detail = f"short green {name}: {lasted} < {need} ms"
                    return self._fault(_FAULT_SHORT_GREEN, detail)
            elif gn:
                if old != _R:
                    detail = f"bad transition {name} {chr(old)}->{chr(new)}"
                    return self._fault(_FAULT_BAD_TRANSITION, detail)
            else:
                return self._fault(_FAULT_BAD_TRANSITION, f"bad signal {name} {chr(new)!r}")
            if new == _R:
                red_at[i] = now_ms
            elif gn:
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


def __getattr__(name):
    """The public names of the fault codes (monitor.FAULT_CONFLICT, ...), for tests and tools:
    they are in seqnames.py, loaded only when one is asked for."""
    from .seqnames import public

    return public(name, "monitor")
