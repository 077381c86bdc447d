"""Independent safety oracle over timed signal strings (the rig's, the demo's and
`greenwave record check`'s). Written apart from the firmware's monitor on purpose: two
implementations of docs/architecture.md "Safety checks" that must agree.

It knows only a run-record header (groups, conflict index pairs, per-group min green, yellow and
all-red in seconds) and the signal strings; it assumes the trace starts at power-on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge.record import RecordError, read_record

RULES = ("conflict", "green_end", "yellow_time", "min_green", "all_red", "dark", "sequence")
TOLERANCE_S = 0.001  # times are float seconds rounded to the millisecond
MIN_YELLOW_S = 3.0
_CLASS = {"G": "green", "g": "green", "y": "yellow", "r": "red", "f": "flash", "o": "dark"}
_SHOWN = frozenset("Ggy")  # what rule 1 forbids for two conflicting groups at once


@dataclass(frozen=True)
class Violation:
    """A broken safety rule at time `t` (s) involving `groups`."""

    t: float
    rule: str
    groups: tuple[str, ...]
    detail: str

    def __str__(self):
        return f"t={self.t:.3f} s {self.rule} [{', '.join(self.groups)}]: {self.detail}"


class HeaderError(ValueError):
    """A run-record header the oracle cannot check against."""


def _bounds(header, key, groups, floor=0.0):
    """Per-group bounds, written {group: seconds}, as a list in signal-string order."""
    by_name = header.get(key)
    ok = isinstance(by_name, dict) and set(by_name) == set(groups)
    values = [by_name[g] for g in groups] if ok else None
    ok = ok and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= floor
        for v in values
    )
    if not ok:
        raise HeaderError(f"{key!r} must map every group to seconds >= {floor}, got {by_name!r}")
    return [float(v) for v in values]


def _parse(header):
    if not isinstance(header, dict):
        raise HeaderError(f"a header is a JSON object, got {header!r}")
    groups = header.get("groups")
    if (
        not isinstance(groups, list)
        or not groups
        or not all(isinstance(g, str) and g for g in groups)
        or len(set(groups)) != len(groups)
    ):
        raise HeaderError(f"'groups' must be a list of unique names, got {groups!r}")
    n = len(groups)
    pairs = header.get("conflicts")
    if not isinstance(pairs, list):
        raise HeaderError(f"'conflicts' must be a list of index pairs, got {pairs!r}")
    for pair in pairs:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
            and 0 <= pair[0] < pair[1] < n
        ):
            raise HeaderError(f"conflict {pair!r} is not a pair of group indices i < j < {n}")
    return (
        groups,
        [tuple(p) for p in pairs],
        _bounds(header, "min_green", groups),
        _bounds(header, "yellow", groups, MIN_YELLOW_S),
        _bounds(header, "all_red", groups),
    )


class SafetyOracle:
    """Feed it every change of one intersection's heads; it reports broken rules."""

    def __init__(self, header: dict):
        self.groups, self.pairs, self.min_green, self.yellow, self.all_red = _parse(header)
        self.intersection = header.get("intersection")
        n = len(self.groups)
        self.conflicts = [set() for _ in range(n)]
        for i, j in self.pairs:
            self.conflicts[i].add(j)
            self.conflicts[j].add(i)
        self.violations: list[Violation] = []
        self._signals = None
        self._t = None
        self._since = [0.0] * n  # when each group entered its current colour
        self._red_at = [None] * n  # last red onset (from yellow, a fault, or start-up flash)
        self._running = False  # False during start-up flash/all-red and in fault flash

    def feed(self, t_s: float, signals: str) -> list[Violation]:
        """Check the heads showing `signals` from `t_s` seconds on; return new violations."""
        n = len(self.groups)
        if not isinstance(signals, str) or len(signals) != n or not set(signals) <= set(_CLASS):
            raise ValueError(f"signals must be {n} of the characters G g y r f o, got {signals!r}")
        if self._t is not None and t_s < self._t:
            raise ValueError(f"time went backwards: {t_s!r} s after {self._t!r} s")
        self._t = t_s
        prev = self._signals
        if prev == signals:
            return []
        found: list[Violation] = []
        was_running = self._running
        if all(c in "fo" for c in signals):
            self._running = False  # start-up flash, or a fault flash: both latch the heads
        elif any(c in _SHOWN for c in signals):
            self._running = True
        for i, c in enumerate(signals):
            before = prev[i] if prev else None
            if before is None or _CLASS[before] != _CLASS[c]:
                self._leave(found, t_s, i, before, c)
            elif self._running and not was_running and c in "fo":
                self._bad_idle(found, t_s, i, c)
        for i, c in enumerate(signals):
            entered = prev is None or _CLASS[prev[i]] != "green"
            if _CLASS[c] == "green" and entered:
                self._check_all_red(found, t_s, i, signals)
        self._check_conflicts(found, t_s, prev, signals)
        self._signals = signals
        self.violations += found
        return found

    def _v(self, found, t, rule, idx, detail):
        found.append(Violation(round(t, 3), rule, tuple(self.groups[i] for i in idx), detail))

    def _bad_idle(self, found, t, i, c):
        if c == "o":
            self._v(found, t, "dark", [i], "dark while the intersection runs")
        else:
            self._v(found, t, "sequence", [i], "flashing while the intersection runs (no fault)")

    def _leave(self, found, t, i, before, c):
        """Group i changes colour class from `before` (None at the first string) to `c`."""
        new = _CLASS[c]
        old = _CLASS[before] if before else None
        lasted = t - self._since[i]
        self._since[i] = t
        if new == "red":
            self._red_at[i] = t
        if not self._running:
            return  # start-up and fault flash may pass through flash, dark and red freely
        if old == "green":
            if lasted + TOLERANCE_S < self.min_green[i]:
                msg = f"green lasted {lasted:.3f} s, min green is {self.min_green[i]} s"
                self._v(found, t, "min_green", [i], msg)
            if new in ("red", "flash"):
                self._v(found, t, "green_end", [i], f"green went to {c!r} without yellow")
        if old == "yellow":
            need = max(self.yellow[i], MIN_YELLOW_S)
            if lasted + TOLERANCE_S < need:
                msg = f"yellow lasted {lasted:.3f} s, needs {need} s"
                self._v(found, t, "yellow_time", [i], msg)
            if new != "red" and new != "dark":
                self._v(found, t, "sequence", [i], f"yellow went to {c!r}, not to red")
        if old == "red" and new in ("yellow", "flash"):
            self._v(found, t, "sequence", [i], f"red went to {c!r}, not to green")
        if old in ("flash", "dark", None) and new in ("green", "yellow"):
            was = f"went from {before!r}" if before else "started"
            self._v(found, t, "sequence", [i], f"{was} to {c!r} without start-up all-red")
        if new == "dark":
            self._v(found, t, "dark", [i], "went dark while the intersection runs")
        elif new == "flash" and old in ("flash", "dark", None):
            self._bad_idle(found, t, i, c)

    def _check_all_red(self, found, t, i, signals):
        for h in sorted(self.conflicts[i]):
            red_at = self._red_at[h]
            if red_at is None or _CLASS[signals[h]] != "red":
                continue  # a conflicting group still showing is rule 1's business
            gap = t - red_at
            if gap + TOLERANCE_S < self.all_red[h]:
                msg = (
                    f"green {gap:.3f} s after conflicting {self.groups[h]!r} turned red; "
                    f"all-red needs {self.all_red[h]} s"
                )
                self._v(found, t, "all_red", [i, h], msg)

    def _check_conflicts(self, found, t, prev, signals):
        for i, j in self.pairs:
            if signals[i] in _SHOWN and signals[j] in _SHOWN:
                if prev is None or not (prev[i] in _SHOWN and prev[j] in _SHOWN):
                    msg = f"conflicting groups show {signals[i]!r} and {signals[j]!r} together"
                    self._v(found, t, "conflict", [i, j], msg)


def check_record(path) -> dict[str, list[Violation]]:
    """Run the oracle over a run record; violations per intersection id (empty when safe).

    Raises RecordError for a record that cannot be read or checked.
    """
    headers, rows = read_record(path)
    return check_rows(headers, rows, source=str(path))


def check_rows(headers: dict, rows: list, source: str = "<record>") -> dict[str, list[Violation]]:
    """Like check_record, over `read_record`'s (headers, rows)."""
    oracles = {}
    for ident, header in headers.items():
        try:
            oracles[ident] = SafetyOracle(header)
        except HeaderError as e:
            raise RecordError(f"{source}: header of {ident!r}: {e}") from None
    for row in rows:
        try:
            oracles[row["intersection"]].feed(row["t"], row["signals"])
        except ValueError as e:
            where = f"{source}: {row['intersection']!r} at t={row['t']!r}"
            raise RecordError(f"{where}: {e}") from None
    return {ident: oracle.violations for ident, oracle in oracles.items()}
