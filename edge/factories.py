"""Canonical intersections shared by unit tests, HIL tests, benchmarks and the demo.

They live in the package, not under tests/, because `greenwave config example` prints them.
"""

from __future__ import annotations

from dataclasses import replace

from edge import config
from edge.model import Detector, Intersection, Phase, Plan, SignalGroup

_CROSS_STREET = {"n": "ew", "s": "ew", "e": "ns", "w": "ns"}
_OPPOSITE = {"n": "s", "s": "n", "e": "w", "w": "e"}


def _phase(name, groups, max_green_s, left=False):
    # Protected lefts clear a shorter distance and get less time than the through movements.
    if left:
        return Phase(name, tuple(groups), 7.0, max_green_s, 2.0, 3.5, 1.5)
    return Phase(name, tuple(groups), 7.0, max_green_s, 3.0, 4.0, 2.0)


def _detectors(groups, advance):
    """One stop-bar detector per group, then one advance detector per group in `advance`."""
    dets = [Detector(f"{g.name}_stop", i, (g.name,), "stop_bar") for i, g in enumerate(groups)]
    for g in advance:
        dets.append(Detector(f"{g}_adv", len(dets), (g,), "advance"))
    return tuple(dets)


def _street(approach):
    return "ns" if approach in "ns" else "ew"


def _movement_conflicts(groups):
    """Crossing conflicts for through (incl. right) and protected-left groups at a four-way.

    Every group conflicts with every group of the cross street; on the same street a through
    movement conflicts with the opposing left.
    """
    pairs = set()
    for a in groups:
        for b in groups:
            if a.name >= b.name:
                continue
            if _street(a.approach) != _street(b.approach):
                pairs.add((a.name, b.name))
            elif a.approach == _OPPOSITE[b.approach] and {a.movement, b.movement} == {
                "thru_right",
                "left",
            }:
                pairs.add((a.name, b.name))
    return frozenset(frozenset(p) for p in pairs)


def cross(peds: bool = False, preempt: bool = False, plans: bool = False) -> Intersection:
    """Four-way intersection: 8 vehicle groups (thru+right and protected left per approach),
    4 phases (ns_left, ns_thru, ew_left, ew_thru), a stop-bar and an advance detector per group.

    With `peds`, two pedestrian groups walk beside the through movements (ns_ped with ns_thru,
    ew_ped with ew_thru: walk 7 s, clearance 12 s), each with a push button. With `preempt`, one
    more input is an emergency-vehicle preemption of ns_thru. With `plans`, two timing plans:
    1 `offpeak` (every max green trimmed) and 2 `ns_priority` (the east-west phases trimmed).
    """
    groups = []
    for approach in "nsew":
        groups.append(SignalGroup(f"{approach}_thru", "vehicle", approach, "thru_right"))
        groups.append(SignalGroup(f"{approach}_left", "vehicle", approach, "left"))
    vehicles = tuple(groups)
    conflicts = set(_movement_conflicts(vehicles))
    ns_thru = ["n_thru", "s_thru"]
    ew_thru = ["e_thru", "w_thru"]
    if peds:
        for street in ("ns", "ew"):
            groups.append(SignalGroup(f"{street}_ped", "pedestrian", street[0], "crossing"))
            for g in vehicles:  # the cross street, and the turning lefts of its own street
                if _street(g.approach) != street or g.movement == "left":
                    conflicts.add(frozenset((f"{street}_ped", g.name)))
        ns_thru.append("ns_ped")
        ew_thru.append("ew_ped")
    walk = {"walk_s": 7.0, "ped_clear_s": 12.0} if peds else {}
    phases = (
        _phase("ns_left", ["n_left", "s_left"], 30.0, left=True),
        replace(_phase("ns_thru", ns_thru, 45.0), **walk),
        _phase("ew_left", ["e_left", "w_left"], 30.0, left=True),
        replace(_phase("ew_thru", ew_thru, 40.0), **walk),
    )
    dets = list(_detectors(vehicles, [g.name for g in vehicles]))
    if peds:
        for street in ("ns", "ew"):
            dets.append(Detector(f"{street}_button", len(dets), (f"{street}_ped",), "ped_button"))
    if preempt:
        dets.append(Detector("ns_preempt", len(dets), ("n_thru", "s_thru"), "preempt"))
    return Intersection(
        id="cross",
        groups=tuple(groups),
        conflicts=frozenset(conflicts),
        phases=phases,
        detectors=tuple(dets),
        plans=(
            Plan("offpeak", {"ns_left": 15.0, "ns_thru": 25.0, "ew_left": 15.0, "ew_thru": 20.0}),
            Plan("ns_priority", {"ew_left": 20.0, "ew_thru": 25.0}),
        )
        if plans
        else (),
    )


def tee() -> Intersection:
    """T junction: an east-west main street with a stem to the south; 3 approaches, 3 phases.

    Westbound (approach e) has a leading protected left into the stem; eastbound (approach w)
    goes through or right into the stem; the stem (approach s) turns left or right.
    """
    groups = (
        SignalGroup("w_thru", "vehicle", "w", "thru_right"),
        SignalGroup("e_thru", "vehicle", "e", "thru"),
        SignalGroup("e_left", "vehicle", "e", "left"),
        SignalGroup("s_left", "vehicle", "s", "left"),
        SignalGroup("s_right", "vehicle", "s", "right"),
    )
    conflicts = [
        ("w_thru", "e_left"),  # opposing left turn across eastbound
        ("w_thru", "s_left"),  # the stem's left crosses eastbound
        ("w_thru", "s_right"),  # the stem's right merges into eastbound
        ("e_thru", "s_left"),  # the stem's left merges into westbound
        ("e_left", "s_left"),  # both turning paths cross in the junction box
    ]
    phases = (
        _phase("e_lead", ["e_thru", "e_left"], 30.0, left=True),
        _phase("ew_thru", ["w_thru", "e_thru"], 45.0),
        _phase("s_turns", ["s_left", "s_right"], 30.0),
    )
    return Intersection(
        id="tee",
        groups=groups,
        conflicts=frozenset(frozenset(p) for p in conflicts),
        phases=phases,
        detectors=_detectors(groups, ["w_thru", "e_thru"]),
    )


def nema8(peds: bool = False, preempt: bool = False, plans: bool = False) -> Intersection:
    """NEMA 8-phase dual ring on a four-way intersection: 8 vehicle groups, one phase each,
    ring 1 = p1 p2 | p3 p4, ring 2 = p5 p6 | p7 p8, the barrier between p2/p6 and p3/p7.

    Odd phases are protected lefts, even ones the through movements (NEMA numbering): p1 n_left
    and p6 n_thru lead together, p5 s_left with p2 s_thru; p3 e_left, p8 e_thru, p7 w_left,
    p4 w_thru. A stop-bar detector per group and an advance detector per through group.

    With `peds`, each through phase walks a pedestrian group beside it (`<thru>_ped`: walk 7 s,
    clearance 12 s, a push button each), conflicting with the cross street and the left turn of
    its own ring. With `preempt`, one more input is an emergency-vehicle preemption of p4.
    With `plans`, two timing plans: 1 `offpeak` (every max green trimmed) and 2 `ew_arterial`
    (the north-south phases p1 p2 p5 p6 trimmed).
    """
    base = cross()
    groups = {g.name: g for g in base.groups}
    order = ("n_left", "s_thru", "e_left", "w_thru", "s_left", "n_thru", "w_left", "e_thru")
    vehicles = [groups[g] for g in order]
    conflicts = set(base.conflicts)
    phases = [
        _phase(f"p{k + 1}", [g], 30.0 if k % 2 == 0 else 45.0, left=k % 2 == 0)
        for k, g in enumerate(order)
    ]
    dets = list(_detectors(vehicles, [g for g in order if "thru" in g]))
    if peds:
        for k in (1, 3, 5, 7):
            thru, left = order[k], order[k - 1]
            ped = SignalGroup(f"{thru}_ped", "pedestrian", thru[0], "crossing")
            vehicles.append(ped)
            cross_street = [g for g in order if _street(g[0]) != _street(thru[0])]
            conflicts.update(frozenset((ped.name, g)) for g in [left, *cross_street])
            phases[k] = replace(phases[k], groups=(thru, ped.name), walk_s=7.0, ped_clear_s=12.0)
            dets.append(Detector(f"{ped.name}_button", len(dets), (ped.name,), "ped_button"))
    if preempt:
        dets.append(Detector("p4_preempt", len(dets), ("w_thru",), "preempt"))
    return Intersection(
        id="nema8",
        groups=tuple(vehicles),
        conflicts=frozenset(conflicts),
        phases=tuple(phases),
        rings=((("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8"))),
        detectors=tuple(dets),
        plans=(
            Plan("offpeak", {f"p{k}": 15.0 if k % 2 else 25.0 for k in range(1, 9)}),
            Plan("ew_arterial", {"p1": 15.0, "p2": 30.0, "p5": 15.0, "p6": 30.0}),
        )
        if plans
        else (),
    )


def _corridor_node(k: int) -> Intersection:
    """Intersection k (1-based) of an east-west arterial: odd ones are major crossings with
    protected arterial lefts (3 phases), even ones minor crossings (2 phases, permissive lefts).
    """
    if k % 2:
        groups = (
            SignalGroup("e_thru", "vehicle", "e", "thru_right"),
            SignalGroup("e_left", "vehicle", "e", "left"),
            SignalGroup("w_thru", "vehicle", "w", "thru_right"),
            SignalGroup("w_left", "vehicle", "w", "left"),
            SignalGroup("n", "vehicle", "n", "thru_right"),
            SignalGroup("s", "vehicle", "s", "thru_right"),
        )
        phases = (
            _phase("ew_left", ["e_left", "w_left"], 30.0, left=True),
            _phase("ew_thru", ["e_thru", "w_thru"], 45.0),
            _phase("ns", ["n", "s"], 30.0),
        )
    else:
        groups = (
            SignalGroup("e", "vehicle", "e", "thru_right"),
            SignalGroup("w", "vehicle", "w", "thru_right"),
            SignalGroup("n", "vehicle", "n", "thru_right"),
            SignalGroup("s", "vehicle", "s", "thru_right"),
        )
        phases = (_phase("ew", ["e", "w"], 45.0), _phase("ns", ["n", "s"], 30.0))
    arterial = [g.name for g in groups if g.approach in "ew" and g.movement != "left"]
    return Intersection(
        id=f"corridor-{k}",
        groups=groups,
        conflicts=_movement_conflicts(groups),
        phases=phases,
        detectors=_detectors(groups, arterial),
    )


def corridor(n: int) -> list[Intersection]:
    """n intersections along an east-west arterial, ids corridor-1 .. corridor-n."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"a corridor needs at least one intersection, got n = {n!r}")
    return [_corridor_node(k) for k in range(1, n + 1)]


EXAMPLES = ("cross", "tee", "corridor", "nema8")

_INTRO = {
    "cross": "a four-way intersection with protected lefts (8 groups, 4 phases).",
    "tee": "a T junction: main street east-west, a stem to the south (5 groups, 3 phases).",
    "nema8": "a NEMA 8-phase dual ring (ring 1 = p1 p2 | p3 p4, ring 2 = p5 p6 | p7 p8).",
    "corridor": "the first intersection (corridor-1) of an arterial corridor.\n"
    "# Each intersection of a corridor has its own file with its own id; the others\n"
    "# alternate between this 3-phase crossing and a 2-phase one (corridor-2).",
}


def example(name: str) -> Intersection:
    """The model behind `example_toml(name)`."""
    if name == "cross":
        return cross(plans=True)
    if name == "tee":
        return tee()
    if name == "corridor":
        return corridor(1)[0]
    if name == "nema8":
        return nema8(plans=True)
    raise ValueError(f"unknown example {name!r}; choose one of {', '.join(EXAMPLES)}")


def example_toml(name: str) -> str:
    """A commented config for `name` (an EXAMPLES name) that a technician can start from."""
    ix = example(name)
    intro = [
        f"# Greenwave intersection config: {_INTRO[name]}",
        "# Start from this file, then check it with:  greenwave config validate FILE",
        "# Times are seconds; the controller receives them as milliseconds.",
    ]
    return "\n".join(intro) + "\n\n" + config.dumps(ix, comments=True)
