"""Coordination: an intersection sees the platoons its upstream neighbours' plans will send.

For every approach (signal group) whose incoming road starts at another simulated traffic
light, a `Feed` says which of the upstream light's phases send vehicles down that road, what
share of them, and how long they take from the upstream stop line to this one at free speed.
Each step the downstream `Schedule` adds `edge.optimizer.projected_outflow` of the upstream's
latest plan as arrivals that its own detectors cannot see yet (the vehicles the upstream
light has not served: they have not left its stop line). This is what the two controllers
would exchange over the edge's network; no vehicle data is involved.

Shares come from the network (the upstream group's links that lead onto the road, over all
its links) and, downstream, from the light's own entry loops (how the road's vehicles spread
over its lanes, counted since the start).
"""

from __future__ import annotations

from dataclasses import dataclass

CROSSING_S = 2.0  # crossing the upstream junction and getting up to speed, roughly
UNSEEN_M = 20.0  # feed only roads whose zones leave at least this much unwatched


@dataclass(frozen=True)
class Feed:
    """One downstream group's supply from one upstream phase."""

    group: str  # downstream signal group
    road: tuple[str, ...]  # downstream groups on the same incoming road (the lane split)
    upstream: int  # index of the upstream light in the run's list
    up_phase: int  # the upstream phase whose service sends vehicles here
    share: float  # of that phase's vehicles, the part that turns onto this road
    travel_s: float  # upstream stop line to this stop line at free speed


def plan_feeds(net, imported, layouts, unseen_m: float = UNSEEN_M) -> list[list[Feed]]:
    """Per light of `imported` (edge.sumo_import.Imported, in run order), its feeds.

    Only roads that the light's zones do not watch to their start (at least `unseen_m` left,
    as on a 300 m arterial block with 200 m zones) are fed: where the zones reach the upstream
    stop line, the upstream plan adds only its guesses (measured worse on the 2x2 grid).
    """
    from edge.sim.strategy import PhaseModel

    models = [PhaseModel(imp) for imp in imported]
    # upstream side: per light, per outgoing edge, per phase: (links onto it, links of the
    # phase's groups) weighted by the group's lanes
    onto: list[dict[str, dict[int, float]]] = []
    for imp, model in zip(imported, models, strict=True):
        tls = net.getTLS(imp.sumo_id)
        out_edge: dict[int, str] = {}
        for _in_lane, out_lane, idx in tls.getConnections():
            out_edge[idx] = out_lane.getEdge().getID()
        per_edge: dict[str, dict[int, float]] = {}
        weight = [0.0] * len(model.phases)
        for g, p in model.serving.items():
            links = (imp.links or {}).get(g, ())
            if not links:
                continue
            lanes = model.lanes_of[g]
            weight[p] += lanes
            for idx in links:
                e = out_edge.get(idx)
                if e is not None:
                    d = per_edge.setdefault(e, {})
                    d[p] = d.get(p, 0.0) + lanes / len(links)
        onto.append(
            {
                e: {p: v / weight[p] for p, v in d.items() if weight[p] > 0}
                for e, d in per_edge.items()
            }
        )
    # which light's junction each incoming edge leaves from
    feeds: list[list[Feed]] = []
    for imp, model, layout in zip(imported, models, layouts, strict=True):
        road_of: dict[str, str] = {}
        watched: dict[str, float] = {}
        for g, lanes in imp.lanes.items():
            if lanes:
                road_of[g] = e = net.getLane(lanes[0]).getEdge().getID()
                for lane in lanes:
                    covered = layout.lanes[lane].covered_m
                    watched[e] = max(watched.get(e, 0.0), covered)
        mine: list[Feed] = []
        for g, e in road_of.items():
            if g not in model.serving:
                continue
            road = tuple(h for h, f in road_of.items() if f == e and h in model.serving)
            edge = net.getEdge(e)
            if edge.getLength() - watched.get(e, 0.0) < unseen_m:
                continue
            travel = edge.getLength() / max(edge.getSpeed(), 1.0) + CROSSING_S
            for u, by_edge in enumerate(onto):
                if imported[u].sumo_id == imp.sumo_id:
                    continue
                for q, share in by_edge.get(e, {}).items():
                    if share > 0:
                        mine.append(Feed(g, road, u, q, share, travel))
        feeds.append(mine)
    return feeds
