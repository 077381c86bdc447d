"""What every strategy of a simulated intersection shares: the phase model and the base class.

`PhaseModel` holds the per-phase facts of an imported light (which groups a phase serves, its
lanes, its saturation headway and timing bounds); `Strategy` is the base of every strategy
(edge.sim.controllers, edge.sim.schedule); HOLD and SWITCH are the requests they make.
`FlowRate` turns cumulative entry-loop counts into flows over a sliding window.
"""

from __future__ import annotations

from collections import deque

from edge.optimizer import phase_timing

HOLD = 1  # the protocol's COMMAND codes (firmware/protocol.py)
SWITCH = 2
LANE_HEADWAY_S = 2.0  # saturation headway of one lane (1800 veh/h)
LANE_SATURATION_VPH = 3600.0 / LANE_HEADWAY_S
STARTUP_LOST_S = 2.0  # green onset to the first vehicle crossing


class PhaseModel:
    """Per-phase facts the strategies share, from an `edge.sumo_import.Imported`."""

    def __init__(self, imported):
        ix = imported.intersection
        self.imported = imported
        self.names = [g.name for g in ix.groups]
        index = {n: i for i, n in enumerate(self.names)}
        self.phase_groups = [[index[g] for g in ph.groups] for ph in ix.phases]
        # A group in several phases is counted in the first one that has it (its demand must
        # go to exactly one phase).
        self.serving: dict[str, int] = {}
        for p, ph in enumerate(ix.phases):
            for g in ph.groups:
                self.serving.setdefault(g, p)
        self.lanes_of = {g: len(imported.lanes[g]) for g in self.names}
        self.n_lanes = [0] * len(ix.phases)
        for g, p in self.serving.items():
            self.n_lanes[p] += self.lanes_of[g]
        self.phases = ix.phases
        self.retime([LANE_HEADWAY_S] * len(ix.phases))

    def retime(self, lane_headway_s) -> None:
        """Set each phase's saturation headway from one lane's (s per vehicle, per phase)."""
        self.lane_headway_s = list(lane_headway_s)
        self.headway_s = [h / max(n, 1) for h, n in zip(lane_headway_s, self.n_lanes, strict=True)]
        self.timing = phase_timing(
            [ph.min_green_s for ph in self.phases],
            [ph.max_green_s for ph in self.phases],
            [ph.yellow_s for ph in self.phases],
            [ph.all_red_s for ph in self.phases],
            startup_lost_s=STARTUP_LOST_S,
            sat_headway_s=self.headway_s,
        )


class Strategy:
    """Base: `remote` strategies keep the link up and send requests."""

    remote = True

    def __init__(self, model: PhaseModel):
        self.model = model

    def decide(self, now_s, reading, current, elapsed_s):
        """-> (HOLD, current) or (SWITCH, phase), or None for no request."""
        raise NotImplementedError


class FlowRate:
    """Veh/h per entry from cumulative counts over the last `window_s` (zeros until 60 s of
    counts are in the window)."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self._history: deque = deque()

    def __call__(self, now_s, counts) -> list[float]:
        self._history.append((now_s, counts))
        while self._history[0][0] < now_s - self.window_s:
            self._history.popleft()
        t0, c0 = self._history[0]
        span = now_s - t0
        if span < 60.0:
            return [0.0] * len(counts)
        return [max(c - b, 0) * 3600.0 / span for c, b in zip(counts, c0, strict=True)]
