"""Intersection model: signal groups, conflicts, phases, detectors, and what is derived from them.

Times are seconds here (NTCIP 1202 terms, units in the field names). `to_compact()` produces the
controller's JSON form in integer milliseconds; `record_header()` the run-record header.
Validation (every problem at once, with field paths as in the TOML config) is edge.validation.

Phases run one at a time in free cyclic order unless `rings` is given: rings and barriers (NEMA
TS2 / NTCIP 1202 dual-ring operation). Each ring is a list of barrier groups, each a list of
phase names in service order; the k-th barrier group of every ring is one side of the barrier,
and the controller times one phase per ring at once. A NEMA 8-phase dual ring is
`((("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8")))`: ring 1 = 1 2 | 3 4, ring 2 =
5 6 | 7 8, the barrier between 2/6 and 3/7. docs/config.md has the rules edge.validation checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

KINDS = ("vehicle", "pedestrian")
MOVEMENTS = ("thru", "left", "right", "thru_right", "crossing")
ROLES = ("stop_bar", "advance", "count", "ped_button", "preempt")
RECALLS = ("none", "min", "max", "pedestrian")  # NTCIP 1202 phase recall modes
FAIL_ACTIONS = ("call", "none")  # what a failed detector does: a permanent call, or nothing
MAX_ERRATIC_PER_MIN = 1000
MIN_YELLOW_S = 3.0
COMPACT_VERSION = 1
TIMING_FIELDS = ("min_green_s", "max_green_s", "passage_s", "yellow_s", "all_red_s")
MQTT_SCHEMES = ("mqtt://", "mqtts://")
MAX_RINGS = 4  # the controller's limit (firmware/config.py)
MAX_PLANS = 16  # timing plans besides the base (plan 0); the controller's limit too


class _Missing:
    def __repr__(self):
        return "<missing>"


MISSING = _Missing()  # the value of a required config key that was not given


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (`field`), what was there (`value`), and why."""

    field: str
    value: object
    message: str

    def __str__(self):
        return f"{self.field} = {self.value!r}: {self.message}"


class ConfigError(ValueError):
    """An intersection config with problems; `.problems` lists all of them."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        lines = [f"{where}{len(self.problems)} config problem(s)"]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


def _tuple(value):
    # Lists from TOML or callers become tuples so models compare and hash; anything else is
    # kept as given for validate() to report.
    return tuple(value) if isinstance(value, list) else value


def _deep_tuple(value):
    if isinstance(value, (list, tuple)):
        return tuple(_deep_tuple(v) for v in value)
    return value


def _pair(value):
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise TypeError(f"a conflict pair must be two group names, got {value!r}")
    return frozenset(value)


@dataclass(frozen=True)
class SignalGroup:
    """One output driving a signal head: one character of the signal string."""

    name: str
    kind: str = "vehicle"
    approach: str = ""
    movement: str = "thru"


@dataclass(frozen=True)
class Phase:
    """Groups that are green together, with their NTCIP 1202 timing in seconds."""

    name: str
    groups: tuple[str, ...]
    min_green_s: float
    max_green_s: float
    passage_s: float
    yellow_s: float
    all_red_s: float
    recall: str = "none"
    walk_s: float = 0.0
    ped_clear_s: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "groups", _tuple(self.groups))


@dataclass(frozen=True)
class Detector:
    """A detector on controller input `input` placing calls for the groups in `calls`.

    Role `ped_button` places pedestrian calls (a walk), `preempt` an emergency preemption of the
    phases holding `calls`. Diagnostics (0 = off): no activity for `no_activity_s`, presence
    longer than `max_presence_s`, more than `erratic_per_min` counts a minute; a failed detector
    then calls its phases all the time (`fail_action` call) or never (none).
    """

    name: str
    input: int
    calls: tuple[str, ...]
    role: str = "stop_bar"
    no_activity_s: float = 0.0
    max_presence_s: float = 0.0
    erratic_per_min: int = 0
    fail_action: str = "call"

    def __post_init__(self):
        object.__setattr__(self, "calls", _tuple(self.calls))


@dataclass(frozen=True)
class LinkSettings:
    """Serial link from the cabinet computer to the controller."""

    port: str = "/dev/ttyUSB0"
    baud: int = 115200


@dataclass(frozen=True)
class BrokerSettings:
    """MQTT broker; topics are greenwave/<site>/<intersection id>/..."""

    url: str = "mqtt://localhost:1883"
    site: str = "demo"


@dataclass(frozen=True)
class Plan:
    """A timing plan an operator may put in force (`greenwave ctl plan ID --set N`): its max
    green per phase name, in seconds; a phase it does not name keeps the base max green. Plans
    are numbered 1.. in config order; plan 0 is the config's own timing. A plan only trims: each
    value lies between the phase's floor (`Intersection.green_floor_s`) and its base max green,
    so the base stays the envelope the max cycle and the starvation guard are built from."""

    name: str
    max_green_s: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        v = self.max_green_s
        if isinstance(v, dict):
            v = tuple(v.items())
        elif isinstance(v, list):
            v = tuple(tuple(x) if isinstance(x, list) else x for x in v)
        object.__setattr__(self, "max_green_s", v)


@dataclass(frozen=True)
class Intersection:
    """One intersection. `groups` order is the signal-string order; `rings` (per ring, per
    barrier group, phase names) is empty for free phase order."""

    id: str
    groups: tuple[SignalGroup, ...]
    conflicts: frozenset[frozenset[str]]
    phases: tuple[Phase, ...]
    detectors: tuple[Detector, ...] = ()
    rings: tuple[tuple[tuple[str, ...], ...], ...] = ()
    plans: tuple[Plan, ...] = ()
    startup_flash_s: float = 5.0
    startup_all_red_s: float = 3.0
    link: LinkSettings = field(default_factory=LinkSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)

    def __post_init__(self):
        for name in ("groups", "phases", "detectors", "plans"):
            object.__setattr__(self, name, _tuple(getattr(self, name)))
        object.__setattr__(self, "rings", _deep_tuple(self.rings))
        object.__setattr__(self, "conflicts", frozenset(_pair(p) for p in self.conflicts))

    def group_names(self) -> list[str]:
        """Group names in signal-string order."""
        return [g.name for g in self.groups]

    def group_index(self, name: str) -> int:
        """Position of group `name` in the signal string."""
        for i, g in enumerate(self.groups):
            if g.name == name:
                return i
        raise KeyError(f"no signal group {name!r} in intersection {self.id!r}")

    def conflicting(self, a: str, b: str) -> bool:
        """True when groups `a` and `b` may never show green or yellow together."""
        return frozenset((a, b)) in self.conflicts

    def conflict_pairs(self) -> list[tuple[str, str]]:
        """Conflict pairs as name tuples, each and the list ordered by signal-string position."""
        order = {g.name: i for i, g in enumerate(self.groups)}

        def key(name):
            return (order.get(name, len(order)), str(name))

        pairs = (tuple(sorted(p, key=key)) for p in self.conflicts)
        return sorted(pairs, key=lambda p: [key(n) for n in p])

    def group_bounds(self) -> dict[str, tuple[float, float, float]]:
        """Per group (min_green_s, yellow_s, all_red_s): the minimum over its phases."""
        bounds: dict[str, tuple[float, float, float]] = {}
        for ph in self.phases:
            for g in ph.groups:
                mg, y, ar = bounds.get(g, (math.inf, math.inf, math.inf))
                bounds[g] = (min(mg, ph.min_green_s), min(y, ph.yellow_s), min(ar, ph.all_red_s))
        return {g.name: bounds[g.name] for g in self.groups if g.name in bounds}

    @staticmethod
    def green_floor_s(ph: Phase) -> float:
        """The least max green phase `ph` may have: its min green, or with a walk the walk (at
        least min green) and its pedestrian clearance, which must fit in the green."""
        if ph.walk_s:
            return max(ph.walk_s, ph.min_green_s) + ph.ped_clear_s
        return ph.min_green_s

    def plan_max_green_s(self, plan: int) -> list[float]:
        """Max green per phase (s) under plan number `plan` (0: the base timing)."""
        base = [ph.max_green_s for ph in self.phases]
        if plan == 0:
            return base
        if not 0 < plan <= len(self.plans):
            raise KeyError(f"no plan {plan!r} in intersection {self.id!r}")
        given = dict(self.plans[plan - 1].max_green_s)
        return [given.get(ph.name, b) for ph, b in zip(self.phases, base, strict=True)]

    def to_compact(self) -> dict:
        """The compact controller config of docs/architecture.md (integer ms, 0-based indices)."""
        from edge.validation import check  # here: edge.validation imports this module

        check(self)
        index = {g.name: i for i, g in enumerate(self.groups)}
        phases = [sorted(index[g] for g in ph.groups) for ph in self.phases]
        detectors = []
        dets = sorted(self.detectors, key=lambda d: d.input)
        for det in dets:
            calls = set(det.calls)
            detectors.append([i for i, ph in enumerate(self.phases) if calls & set(ph.groups)])
        out = {
            "v": COMPACT_VERSION,
            "id": self.id,
            "groups": self.group_names(),
            "ped": [1 if g.kind == "pedestrian" else 0 for g in self.groups],
            "conflicts": [[index[a], index[b]] for a, b in self.conflict_pairs()],
            "phases": phases,
            "timing": [[_ms(getattr(ph, f)) for f in TIMING_FIELDS] for ph in self.phases],
            "detectors": detectors,
            "startup_flash": _ms(self.startup_flash_s),
            "startup_all_red": _ms(self.startup_all_red_s),
        }
        # optional keys, only when used: older controllers and configs stay as they were
        if any(ph.recall != "none" for ph in self.phases):
            out["recall"] = [RECALLS.index(ph.recall) for ph in self.phases]
        if any(ph.walk_s for ph in self.phases):
            out["ped_timing"] = [[_ms(ph.walk_s), _ms(ph.ped_clear_s)] for ph in self.phases]
        kinds = [{"ped_button": 1, "preempt": 2}.get(d.role, 0) for d in dets]
        if any(kinds):
            out["det_kind"] = kinds
        diag = [
            [
                _ms(d.no_activity_s),
                _ms(d.max_presence_s),
                d.erratic_per_min,
                int(d.fail_action == "none"),
            ]
            for d in dets
        ]
        if any(any(row) for row in diag):
            out["det_diag"] = diag
        if self.rings:
            order = {ph.name: i for i, ph in enumerate(self.phases)}
            out["rings"] = [[[order[n] for n in grp] for grp in ring] for ring in self.rings]
        if self.plans:  # every phase's max green, ms, in phase order, per plan 1..
            out["plans"] = [
                [_ms(s) for s in self.plan_max_green_s(k)] for k in range(1, len(self.plans) + 1)
            ]
        return out

    def record_header(self) -> dict:
        """The run-record header: groups, conflict index pairs, per-group bounds in seconds."""
        from edge.validation import check  # here: edge.validation imports this module

        check(self)
        index = {g.name: i for i, g in enumerate(self.groups)}
        bounds = self.group_bounds()
        names = self.group_names()
        return {
            "type": "header",
            "intersection": self.id,
            "groups": names,
            "conflicts": [[index[a], index[b]] for a, b in self.conflict_pairs()],
            "min_green": {g: float(bounds[g][0]) for g in names},
            "yellow": {g: float(bounds[g][1]) for g in names},
            "all_red": {g: float(bounds[g][2]) for g in names},
        }


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
