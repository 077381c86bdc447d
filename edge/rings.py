"""Rings and barriers (NEMA TS2 / NTCIP 1202 dual-ring operation) for an intersection config.

An intersection without rings runs its phases in free cyclic order, one at a time. With rings,
each ring is a list of barrier groups, each a list of phase names in service order; the k-th
barrier group of every ring is one side of the barrier. A NEMA 8-phase dual ring is
`((("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8")))`: ring 1 = 1 2 | 3 4, ring 2 =
5 6 | 7 8, the barrier between 2/6 and 3/7. The controller times one phase per ring at once.

`RingedIntersection` is an `Intersection` with a `rings` field; `validate_rings` reports every
problem with the config path (`rings[1].sequence[0]`) and value. docs/config.md has the rules.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from edge.model import ConfigError, Intersection, Problem, validate

MAX_RINGS = 4  # the controller's limit (firmware/config.py)


def _deep_tuple(value):
    if isinstance(value, list | tuple):
        return tuple(_deep_tuple(v) for v in value)
    return value


@dataclass(frozen=True)
class RingedIntersection(Intersection):
    """An intersection whose phases run in rings and barriers (dual-ring operation)."""

    rings: tuple[tuple[tuple[str, ...], ...], ...] = ()

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "rings", _deep_tuple(self.rings))

    def to_compact(self) -> dict:
        """The compact config with "rings": per ring, per barrier group, phase indices."""
        problems = validate(self) + validate_rings(self)
        if problems:
            raise ConfigError(problems, source=f"intersection {self.id!r}")
        out = super().to_compact()
        if self.rings:
            index = {ph.name: i for i, ph in enumerate(self.phases)}
            out["rings"] = [[[index[n] for n in grp] for grp in ring] for ring in self.rings]
        return out


def with_rings(ix: Intersection, rings) -> RingedIntersection:
    """`ix` with `rings` (nested lists or tuples of phase names)."""
    kw = {f.name: getattr(ix, f.name) for f in dataclasses.fields(Intersection)}
    return RingedIntersection(**kw, rings=rings)


def _is_names(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(n, str) for n in value)


def validate_rings(ix) -> list[Problem]:
    """Every problem of `ix.rings` (none when it has no rings). Assumes the phases themselves
    were validated (edge.model.validate reports their problems)."""
    rings = getattr(ix, "rings", ())
    if not rings:
        return []
    out: list[Problem] = []
    if not isinstance(rings, tuple) or len(rings) > MAX_RINGS:
        out.append(Problem("rings", rings, f"must be 1..{MAX_RINGS} [[rings]] tables"))
        return out
    phases = {ph.name: ph for ph in ix.phases if isinstance(ph.name, str)}
    ring_of: dict[str, int] = {}
    side_of: dict[str, int] = {}
    n_groups = None
    for r, ring in enumerate(rings):
        path = f"rings[{r}].sequence"
        if not isinstance(ring, tuple) or not ring or not all(_is_names(g) for g in ring):
            msg = "must be a list of barrier groups, each a list of phase names"
            out.append(Problem(path, ring, msg))
            continue
        if not any(ring):
            out.append(Problem(path, ring, "holds no phase"))
        if n_groups is None:
            n_groups = len(ring)
        elif len(ring) != n_groups:
            msg = (
                f"has {len(ring)} barrier groups, rings[0] has {n_groups}: every ring crosses "
                "the same barriers"
            )
            out.append(Problem(path, ring, msg))
        for b, grp in enumerate(ring):
            for name in grp:
                if name not in phases:
                    out.append(Problem(f"{path}[{b}]", name, "unknown phase"))
                elif name in ring_of:
                    where = f"rings[{ring_of[name]}]"
                    out.append(Problem(f"{path}[{b}]", name, f"phase already in {where}"))
                else:
                    ring_of[name] = r
                    side_of[name] = b
    for i, ph in enumerate(ix.phases):
        if ph.name in phases and ph.name not in ring_of:
            msg = "phase is in no ring (with [[rings]] every phase is in exactly one)"
            out.append(Problem(f"phases[{i}].name", ph.name, msg))
    for b in range(n_groups or 0):
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
    # concurrent phases (one barrier group, different rings) must never conflict
    for a, b in itertools.combinations(list(ring_of), 2):
        if ring_of[a] == ring_of[b] or side_of[a] != side_of[b]:
            continue
        ga, gb = phases[a].groups, phases[b].groups
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
    return out
