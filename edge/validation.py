"""Intersection config validation: every problem of an `edge.model.Intersection` at once.

`validate(ix)` lists the problems, each with its field path as it appears in the TOML config
(docs/config.md has the rules); `check(ix)` raises them together as one ConfigError. The model
runs `check` before it builds the compact form or the record header.
"""

from __future__ import annotations

import itertools
import math

from edge.model import (
    FAIL_ACTIONS,
    KINDS,
    MAX_ERRATIC_PER_MIN,
    MAX_PLANS,
    MAX_RINGS,
    MIN_YELLOW_S,
    MOVEMENTS,
    MQTT_SCHEMES,
    RECALLS,
    ROLES,
    TIMING_FIELDS,
    ConfigError,
    Intersection,
    Problem,
)


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
