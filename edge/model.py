"""Intersection model: signal groups, conflicts, phases, detectors, and what is derived from them.

Times are seconds here (NTCIP 1202 terms, units in the field names). `to_compact()` produces the
controller's JSON form in integer milliseconds; `record_header()` the run-record header.
Validation reports every problem at once, with field paths as they appear in the TOML config.

Phases run one at a time in free cyclic order unless `rings` is given: rings and barriers (NEMA
TS2 / NTCIP 1202 dual-ring operation). Each ring is a list of barrier groups, each a list of
phase names in service order; the k-th barrier group of every ring is one side of the barrier,
and the controller times one phase per ring at once. A NEMA 8-phase dual ring is
`((("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8")))`: ring 1 = 1 2 | 3 4, ring 2 =
5 6 | 7 8, the barrier between 2/6 and 3/7. docs/config.md has the rules `_rings` checks.
"""

from __future__ import annotations

import itertools
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


def check(ix: Intersection) -> None:
    """Raise ConfigError listing every problem of `ix`, if it has any."""
    problems = validate(ix)
    if problems:
        raise ConfigError(problems, source=f"intersection {ix.id!r}")


def validate(ix: Intersection) -> list[Problem]:
    """Every problem of `ix` at once (an empty list when it is valid)."""
    out: list[Problem] = []
    _name(out, "intersection.id", ix.id)
    _time(out, "intersection.startup_flash_s", ix.startup_flash_s, zero_ok=True)
    _time(out, "intersection.startup_all_red_s", ix.startup_all_red_s)
    names = _groups(out, ix.groups)
    _conflicts(out, ix.conflicts, names)
    _phases(out, ix, names)
    _rings(out, ix)
    _plans(out, ix)
    _detectors(out, ix.detectors, names)
    _link_and_broker(out, ix.link, ix.broker)
    return out


def _name(out, path, value) -> bool:
    if not isinstance(value, str) or not value:
        out.append(Problem(path, value, "must be a non-empty string"))
        return False
    # Names end up in MQTT topics, logs and signal-string legends.
    if not value.isprintable() or any(c.isspace() or c in "+#/" for c in value):
        out.append(Problem(path, value, "may not contain spaces or the MQTT characters + # /"))
        return False
    return True


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _time(out, path, value, zero_ok=False) -> bool:
    if not _number(value):
        out.append(Problem(path, value, "must be a number of seconds"))
        return False
    if value < 0 or (value == 0 and not zero_ok):
        out.append(Problem(path, value, "must be positive" if not zero_ok else "must be >= 0"))
        return False
    return True


def _choice(out, path, value, choices) -> bool:
    if value not in choices:
        out.append(Problem(path, value, f"must be one of {', '.join(choices)}"))
        return False
    return True


def _unique(out, what, items, path_of):
    """Report repeated names; return the set of valid unique-or-first names."""
    first: dict[str, int] = {}
    for i, item in enumerate(items):
        n = item.name
        if not _name(out, path_of(i), n):
            continue
        if n in first:
            out.append(Problem(path_of(i), n, f"duplicate {what} name (also {path_of(first[n])})"))
        else:
            first[n] = i
    return set(first)


def _names_list(out, path, value, known, what) -> list[str]:
    """Check a list of group names; return the known ones."""
    if not isinstance(value, tuple) or not value:
        out.append(Problem(path, value, f"must be a non-empty list of {what}"))
        return []
    good = []
    for n in value:
        if not isinstance(n, str):
            out.append(Problem(path, value, f"{n!r} is not a group name"))
        elif n not in known:
            out.append(Problem(path, value, f"unknown signal group {n!r}"))
        elif n in good:
            out.append(Problem(path, value, f"group {n!r} is listed twice"))
        else:
            good.append(n)
    return good


def _groups(out, groups) -> set[str]:
    if not isinstance(groups, tuple) or not groups:
        out.append(Problem("groups", groups, "at least one signal group is needed"))
        return set()
    for i, g in enumerate(groups):
        p = f"groups[{i}]"
        _choice(out, f"{p}.kind", g.kind, KINDS)
        if not isinstance(g.approach, str):
            out.append(Problem(f"{p}.approach", g.approach, "must be a string"))
        if _choice(out, f"{p}.movement", g.movement, MOVEMENTS):
            if g.kind == "pedestrian" and g.movement != "crossing":
                out.append(Problem(f"{p}.movement", g.movement, "a pedestrian group is crossing"))
            if g.kind == "vehicle" and g.movement == "crossing":
                out.append(Problem(f"{p}.movement", g.movement, "crossing is for pedestrians"))
    return _unique(out, "signal group", groups, lambda i: f"groups[{i}].name")


def _conflicts(out, conflicts, names):
    for pair in sorted(conflicts, key=lambda p: sorted(map(str, p))):
        shown = tuple(sorted(pair, key=str))
        if len(pair) != 2:
            out.append(Problem("conflicts.pairs", shown, "a pair names two different groups"))
        for n in shown:
            if n not in names:
                out.append(Problem("conflicts.pairs", shown, f"unknown signal group {n!r}"))


def _phases(out, ix, names):
    phases = ix.phases
    if not isinstance(phases, tuple) or not phases:
        out.append(Problem("phases", phases, "at least one phase is needed"))
        return
    _unique(out, "phase", phases, lambda i: f"phases[{i}].name")
    served: set[str] = set()
    longest_red = 0.0
    for i, ph in enumerate(phases):
        p = f"phases[{i}]"
        good = _names_list(out, f"{p}.groups", ph.groups, names, "signal group names")
        served.update(good)
        for a, b in itertools.combinations(good, 2):
            if ix.conflicting(a, b):
                out.append(Problem(f"{p}.groups", ph.groups, f"{a!r} and {b!r} conflict"))
        ok = {f: _time(out, f"{p}.{f}", getattr(ph, f)) for f in TIMING_FIELDS}
        if ok["yellow_s"] and ph.yellow_s < MIN_YELLOW_S:
            out.append(Problem(f"{p}.yellow_s", ph.yellow_s, f"must be >= {MIN_YELLOW_S} s"))
        if ok["min_green_s"] and ok["max_green_s"] and ph.min_green_s > ph.max_green_s:
            msg = f"is below min_green_s = {ph.min_green_s!r}"
            out.append(Problem(f"{p}.max_green_s", ph.max_green_s, msg))
        if ok["all_red_s"]:
            longest_red = max(longest_red, ph.all_red_s)
        _ped_phase(out, ix, p, ph, ok)
    for i, g in enumerate(ix.groups):
        if g.name in names and g.name not in served:
            out.append(Problem(f"groups[{i}].name", g.name, "group is in no phase (never green)"))
    if _number(ix.startup_all_red_s) and ix.startup_all_red_s < longest_red:
        msg = f"shorter than the longest all_red_s ({longest_red!r})"
        out.append(Problem("intersection.startup_all_red_s", ix.startup_all_red_s, msg))


def _ped_phase(out, ix, p, ph, ok):
    """Recall and pedestrian timing of phase `ph` (path `p`)."""
    _choice(out, f"{p}.recall", ph.recall, RECALLS)
    w_ok = _time(out, f"{p}.walk_s", ph.walk_s, zero_ok=True)
    c_ok = _time(out, f"{p}.ped_clear_s", ph.ped_clear_s, zero_ok=True)
    if not (w_ok and c_ok):
        return
    if ph.recall == "pedestrian" and not ph.walk_s:
        out.append(Problem(f"{p}.recall", ph.recall, "pedestrian recall needs walk_s > 0"))
    if not ph.walk_s and not ph.ped_clear_s:
        return
    if not ph.walk_s or not ph.ped_clear_s:
        msg = f"walk_s and ped_clear_s are both 0 or both > 0 (walk_s = {ph.walk_s!r})"
        out.append(Problem(f"{p}.ped_clear_s", ph.ped_clear_s, msg))
        return
    kinds = {g.name: g.kind for g in ix.groups if isinstance(g.name, str)}
    if isinstance(ph.groups, tuple) and not any(kinds.get(g) == "pedestrian" for g in ph.groups):
        out.append(Problem(f"{p}.walk_s", ph.walk_s, "the phase has no pedestrian group"))
    if ok["yellow_s"] and ph.ped_clear_s < ph.yellow_s:
        msg = f"must be >= yellow_s = {ph.yellow_s!r} (the monitor checks it as a yellow)"
        out.append(Problem(f"{p}.ped_clear_s", ph.ped_clear_s, msg))
    if ok["min_green_s"] and ok["max_green_s"]:
        need = max(ph.walk_s, ph.min_green_s) + ph.ped_clear_s
        if need > ph.max_green_s + 1e-9:
            msg = f"max(walk_s, min_green_s) + ped_clear_s = {need!r} must fit in max_green_s"
            out.append(Problem(f"{p}.max_green_s", ph.max_green_s, msg))


def _is_names(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(n, str) for n in value)


def _rings(out, ix):
    """Rings and barriers; their phases' own problems are _phases' to report."""
    rings = ix.rings
    if rings == ():
        return
    if not isinstance(rings, tuple) or len(rings) > MAX_RINGS:
        out.append(Problem("rings", rings, f"must be 1..{MAX_RINGS} [[rings]] tables"))
        return
    phases = {ph.name: ph for ph in ix.phases if isinstance(ph.name, str)}
    ring_of: dict[str, int] = {}
    side_of: dict[str, int] = {}
    n_sides = None
    for r, ring in enumerate(rings):
        path = f"rings[{r}].sequence"
        if not isinstance(ring, tuple) or not ring or not all(_is_names(g) for g in ring):
            msg = "must be a list of barrier groups, each a list of phase names"
            out.append(Problem(path, ring, msg))
            continue
        if not any(ring):
            out.append(Problem(path, ring, "holds no phase"))
        if n_sides is None:
            n_sides = len(ring)
        elif len(ring) != n_sides:
            msg = f"has {len(ring)} barrier groups, rings[0] has {n_sides}: every ring crosses "
            out.append(Problem(path, ring, msg + "the same barriers"))
        for b, grp in enumerate(ring):
            for name in grp:
                if name not in phases:
                    out.append(Problem(f"{path}[{b}]", name, "unknown phase"))
                elif name in ring_of:
                    msg = f"phase already in rings[{ring_of[name]}]"
                    out.append(Problem(f"{path}[{b}]", name, msg))
                else:
                    ring_of[name], side_of[name] = r, b
    for i, ph in enumerate(ix.phases):
        if ph.name in phases and ph.name not in ring_of:
            msg = "phase is in no ring (with [[rings]] every phase is in exactly one)"
            out.append(Problem(f"phases[{i}].name", ph.name, msg))
    for b in range(n_sides or 0):
        if b not in side_of.values():
            out.append(Problem("rings", b, f"barrier group {b} holds no phase in any ring"))
    # a signal group belongs to one ring: each ring drives its own heads
    owner: dict[str, str] = {}
    for i, ph in enumerate(ix.phases):
        if ph.name not in ring_of or not _is_names(ph.groups):
            continue
        for g in ph.groups:
            other = owner.setdefault(g, ph.name)
            if ring_of[other] != ring_of[ph.name]:
                msg = (
                    f"group {g!r} is also in phase {other!r} of rings[{ring_of[other]}]; "
                    "a signal group belongs to one ring"
                )
                out.append(Problem(f"phases[{i}].groups", ph.groups, msg))
    # phases of one barrier group in different rings run at the same time: no conflicts
    for a, b in itertools.combinations(list(ring_of), 2):
        ga, gb = phases[a].groups, phases[b].groups
        if ring_of[a] == ring_of[b] or side_of[a] != side_of[b]:
            continue
        if not (_is_names(ga) and _is_names(gb)):
            continue
        for x, y in itertools.product(ga, gb):
            if ix.conflicting(x, y):
                msg = (
                    f"conflicts with phase {a!r} of rings[{ring_of[a]}] in barrier group "
                    f"{side_of[a]} (groups {x!r} and {y!r}): phases on one side of a barrier "
                    "run at the same time"
                )
                out.append(Problem(f"rings[{ring_of[b]}].sequence[{side_of[b]}]", b, msg))
                break


def _plans(out, ix):
    """Timing plans: named, at most MAX_PLANS, each max green between the phase's floor and its
    base max green (the phases' own problems are _phases' to report)."""
    plans = ix.plans
    if not isinstance(plans, tuple):
        out.append(Problem("plans", plans, "must be a list of [[plans]] tables"))
        return
    if len(plans) > MAX_PLANS:
        out.append(Problem("plans", len(plans), f"at most {MAX_PLANS} plans (besides plan 0)"))
    _unique(out, "plan", plans, lambda i: f"plans[{i}].name")
    phases = {ph.name: ph for ph in ix.phases if isinstance(ph.name, str)}
    for i, plan in enumerate(plans):
        path = f"plans[{i}].max_green_s"
        rows = plan.max_green_s
        if not isinstance(rows, tuple) or not all(
            isinstance(r, tuple) and len(r) == 2 for r in rows
        ):
            out.append(Problem(path, rows, "must be a table of phase name = seconds"))
            continue
        if not rows:
            out.append(Problem(path, rows, "names no phase: the plan would be the base timing"))
        for name, value in rows:
            p = f"{path}.{name}"
            ph = phases.get(name)
            if ph is None:
                out.append(Problem(p, value, "unknown phase"))
                continue
            if not _time(out, p, value):
                continue
            if not all(_number(getattr(ph, f)) for f in TIMING_FIELDS + ("walk_s", "ped_clear_s")):
                continue
            floor = Intersection.green_floor_s(ph)
            if value > ph.max_green_s + 1e-9:
                msg = f"above the phase's max_green_s = {ph.max_green_s!r} (a plan only trims)"
                out.append(Problem(p, value, msg))
            elif value < floor - 1e-9:
                what = "max(walk_s, min_green_s) + ped_clear_s" if ph.walk_s else "min_green_s"
                out.append(Problem(p, value, f"below the phase's {what} = {floor!r}"))


def _detectors(out, detectors, names):
    if not isinstance(detectors, tuple):
        out.append(Problem("detectors", detectors, "must be a list of detectors"))
        return
    _unique(out, "detector", detectors, lambda i: f"detectors[{i}].name")
    inputs: dict[int, int] = {}
    for i, d in enumerate(detectors):
        p = f"detectors[{i}]"
        _names_list(out, f"{p}.calls", d.calls, names, "signal group names")
        _choice(out, f"{p}.role", d.role, ROLES)
        _choice(out, f"{p}.fail_action", d.fail_action, FAIL_ACTIONS)
        _time(out, f"{p}.no_activity_s", d.no_activity_s, zero_ok=True)
        _time(out, f"{p}.max_presence_s", d.max_presence_s, zero_ok=True)
        e = d.erratic_per_min
        if not isinstance(e, int) or isinstance(e, bool) or not 0 <= e <= MAX_ERRATIC_PER_MIN:
            msg = f"must be a whole number 0..{MAX_ERRATIC_PER_MIN} (0 = off)"
            out.append(Problem(f"{p}.erratic_per_min", e, msg))
        if not isinstance(d.input, int) or isinstance(d.input, bool) or d.input < 0:
            out.append(Problem(f"{p}.input", d.input, "must be an input number >= 0"))
        elif d.input in inputs:
            msg = f"input already used by detectors[{inputs[d.input]}]"
            out.append(Problem(f"{p}.input", d.input, msg))
        else:
            inputs[d.input] = i
    missing = sorted(set(range(len(detectors))) - set(inputs))
    if len(inputs) == len(detectors) and missing:
        # The compact form addresses detectors by input number, so inputs must be 0..n-1.
        msg = f"inputs must be 0..{len(detectors) - 1} without gaps; missing {missing}"
        out.append(Problem("detectors", tuple(sorted(inputs)), msg))


def _link_and_broker(out, link, broker):
    if not isinstance(link.port, str) or not link.port:
        out.append(Problem("link.port", link.port, "must be a non-empty device path or URL"))
    if not isinstance(link.baud, int) or isinstance(link.baud, bool) or link.baud <= 0:
        out.append(Problem("link.baud", link.baud, "must be a positive whole number"))
    if not isinstance(broker.url, str) or not broker.url.startswith(MQTT_SCHEMES):
        out.append(Problem("broker.url", broker.url, "must start with mqtt:// or mqtts://"))
    _name(out, "broker.site", broker.site)
