"""Measurement only: exact sensing beyond the camera zones, along the vehicles' routes.

`plan_look_ahead` (`--reach M`, with `--sensing exact`) finds every stretch of road within M
metres of one light's stop bars, upstream through other junctions; `vehicles` lists the
vehicles on those stretches bound for the light, on the approach lane they will take.
`edge.sim.sensing.ExactSensing` turns them into the controller's view. It measures what a
longer look-ahead than the zones' would be worth; no field sensor gives it. `place` puts a
vehicle not inserted yet on the approach lane its route takes (`edge.sim.oracle`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.sim.sensing import Layout


@dataclass(frozen=True)
class Stretch:
    """Road a vehicle takes to one approach: the last `reach` metres of `edge`'s lanes."""

    edge: str
    from_m: float  # watched from here to the edge's end
    length_m: float
    ahead_m: float  # the edge's end to the approach's stop bar, along the way
    path: tuple[str, ...]  # edges from this one to the approach edge, both included
    signalled: bool  # another traffic light stands between this edge and the approach


@dataclass(frozen=True)
class LookAhead:
    """What `ExactSensing` watches beyond the zones, up to `reach_m`."""

    reach_m: float
    # edge -> the path from it to an approach -> its stretch (approach edges not included)
    stretches: dict[str, dict[tuple[str, ...], Stretch]]
    # approach edge -> next edge on a vehicle's route -> the layout lanes that lead there
    lanes_to: dict[str, dict[str, tuple[str, ...]]]
    speed: dict[str, float]  # edge -> speed limit, m/s


def plan_look_ahead(net, layout: Layout, reach_m: float) -> LookAhead:
    """Every upstream stretch within `reach_m` of one light's stop bars, along the road graph.

    From each approach edge back over every edge that feeds it (through junctions, signalled or
    not), as far as `reach_m` from the stop bar, never through this light (a vehicle there
    reaches this light first, on another approach). Junctions are crossed at the straight
    distance between the two lanes' ends."""
    approach = {}
    for lane_id in layout.lanes:
        edge = net.getLane(lane_id).getEdge()
        approach.setdefault(edge.getID(), edge)
    here = {e.getToNode().getID() for e in approach.values()}
    stretches: dict[str, dict[tuple[str, ...], Stretch]] = {}
    lanes_to: dict[str, dict[str, tuple[str, ...]]] = {}
    speed = {}
    for eid, edge in approach.items():
        to: dict[str, list] = {}
        for lane_id in layout.lanes:
            lane = net.getLane(lane_id)
            if lane.getEdge().getID() == eid:
                for c in lane.getOutgoing():
                    to.setdefault(c.getTo().getID(), []).append(lane_id)
        lanes_to[eid] = {k: tuple(dict.fromkeys(v)) for k, v in to.items()}
        speed[eid] = edge.getSpeed()
        todo = [(edge, edge.getLength(), (eid,), False)]  # (edge, its start to the stop bar, ...)
        while todo:
            cur, start_m, path, signalled = todo.pop()
            start = cur.getLanes()[0].getShape()[0]
            for prev in cur.getIncoming():
                pid = prev.getID()
                if pid.startswith(":") or pid in path or prev.getToNode().getID() in here:
                    continue
                end = prev.getLanes()[0].getShape()[-1]
                ahead = start_m + math.dist(start, end)
                if ahead >= reach_m:
                    continue
                plen = prev.getLength()
                sig = signalled or prev.getToNode().getType().startswith("traffic_light")
                way = (pid, *path)
                stretches.setdefault(pid, {})[way] = Stretch(
                    pid, max(0.0, plen - (reach_m - ahead)), plen, ahead, way, sig
                )
                speed[pid] = prev.getSpeed()
                todo.append((prev, ahead + plen, (pid, *path), sig))
    return LookAhead(reach_m, stretches, lanes_to, speed)


def vehicles(
    look: LookAhead, layout: Layout, api, routes: dict[str, tuple[str, ...]]
) -> Iterator[tuple[str, float, float, float | None]]:
    """(layout lane, metres to its stop bar, speed m/s, limit) of every vehicle in reach.

    Vehicles on the approach lanes within the reach count by their lane (as without a
    look-ahead); vehicles upstream whose route leads onto an approach count on the approach
    lane that leads where their route goes next (one of them, fixed per vehicle, when several
    do). `limit` is the approach's speed limit when another light stands between the vehicle
    and the approach (a standing vehicle there is timed at it: the earliest it can come), else
    None. `routes` caches each vehicle's route (the caller keeps it between steps)."""
    veh, ln, ed = api.vehicle, api.lane, api.edge
    for lane, s in layout.lanes.items():
        length = s.pieces[0][2]
        for v in ln.getLastStepVehicleIDs(lane):
            pos = veh.getLanePosition(v)
            if pos < length - look.reach_m:
                continue
            yield lane, length - pos, veh.getSpeed(v), None
    for edge, ways in look.stretches.items():
        vids = ed.getLastStepVehicleIDs(edge)
        if not vids:
            continue
        sizes = sorted({len(w) for w in ways})
        for v in vids:
            route = routes.get(v)
            if route is None:
                route = routes[v] = tuple(veh.getRoute(v))
            i = veh.getRouteIndex(v)
            st = None
            for k in sizes:
                st = ways.get(route[i : i + k])
                if st is not None:
                    break
            if st is None:
                continue
            pos = veh.getLanePosition(v)
            if pos < st.from_m:
                continue
            k = len(st.path)
            lane = _lane(look, v, st.path[-1], route[i + k] if i + k < len(route) else None)
            if lane is None:
                continue
            limit = look.speed[st.path[-1]] if st.signalled else None
            yield lane, st.ahead_m + st.length_m - pos, veh.getSpeed(v), limit


def _lane(look: LookAhead, v: str, approach: str, nxt: str | None) -> str | None:
    """The approach lane vehicle `v` takes to `nxt` (one of them, fixed per vehicle)."""
    options = look.lanes_to[approach]
    lanes = options.get(nxt) or tuple(
        dict.fromkeys(x for y in options.values() for x in y)
    )  # the route ends on the approach (or turns where no lane leads): any lane
    return lanes[zlib.crc32(v.encode()) % len(lanes)] if lanes else None


def place(
    look: LookAhead, layout: Layout, v: str, route: tuple[str, ...], depart_pos_m: float
) -> tuple[str, float, float] | None:
    """(layout lane, metres from the insertion point to its stop bar, the approach's speed
    limit) of vehicle `v` inserted `depart_pos_m` into the first edge of `route`; None when the
    route does not come to this light within the look-ahead (`--sensing oracle`)."""
    first = route[0]
    if first in look.lanes_to:  # inserted on an approach
        k, ahead = 1, None
    else:
        ways = look.stretches.get(first, {})
        st = next(
            (ways[route[:k]] for k in sorted({len(w) for w in ways}) if route[:k] in ways), None
        )
        if st is None:
            return None
        k, ahead = len(st.path), st.ahead_m + st.length_m - depart_pos_m
    approach = route[k - 1]
    lane = _lane(look, v, approach, route[k] if k < len(route) else None)
    if lane is None:
        return None
    if ahead is None:
        ahead = layout.lanes[lane].pieces[0][2] - depart_pos_m
    return lane, max(ahead, 0.0), look.speed[approach]
