"""The gateway side of a simulated intersection: what to ask the controller each second.

Each strategy turns a detector `Reading` (edge.sim.sensing) and the controller's reported phase
into a request, exactly as the gateway would put it on the wire: HOLD (keep the green phase) or
SWITCH(P). The firmware's sequencer decides whether and when a request is honoured.

- `schedule`: the schedule-driven rolling-horizon optimizer, `Schedule` (edge.sim.schedule).
- `max-pressure`: edge.optimizer.max_pressure over the vehicles in each group's zones.
- `webster`: a Webster plan from the flows counted by the entry loops, replanned every cycle.
- `fixed`: the SUMO program's own green times, in order.
- `actuated`: no requests at all; the firmware runs its own local actuated control.

This module holds the simple strategies and the registry (`make`); the phase model and the base
class are edge.sim.strategy, and their names are here too, as importers know them.
"""

from __future__ import annotations

from edge.optimizer import max_pressure, webster
from edge.sim import CONTROLLERS
from edge.sim.schedule import Schedule
from edge.sim.strategy import (
    HOLD,
    LANE_HEADWAY_S,
    LANE_SATURATION_VPH,
    STARTUP_LOST_S,
    SWITCH,
    FlowRate,
    PhaseModel,
    Strategy,
)

__all__ = [
    "CONTROLLERS",
    "HOLD",
    "LANE_HEADWAY_S",
    "LANE_SATURATION_VPH",
    "STARTUP_LOST_S",
    "SWITCH",
    "Actuated",
    "Fixed",
    "MaxPressure",
    "PhaseModel",
    "Schedule",
    "Strategy",
    "Webster",
    "make",
]


class Actuated(Strategy):
    remote = False

    def decide(self, now_s, reading, current, elapsed_s):
        return None


class Fixed(Strategy):
    def decide(self, now_s, reading, current, elapsed_s):
        ph = self.model.phases[current]
        green = self.model.imported.green_s[current]
        green = min(max(green, ph.min_green_s), ph.max_green_s)
        if elapsed_s + 1e-9 < green:
            return HOLD, current
        return SWITCH, (current + 1) % len(self.model.phases)


class MaxPressure(Strategy):
    def decide(self, now_s, reading, current, elapsed_s):
        queues = [reading.groups[g].vehicles for g in self.model.names]
        best = max_pressure(queues, self.model.phase_groups, current=current)
        return (HOLD, current) if best == current else (SWITCH, best)


class Webster(Strategy):
    """Webster plan from entry-loop flows over the last `window_s`, replanned per cycle."""

    def __init__(self, model: PhaseModel, window_s: float = 900.0):
        super().__init__(model)
        self.window_s = window_s
        self._flows = FlowRate(window_s)
        self._plan = None
        self._last = -1

    def decide(self, now_s, reading, current, elapsed_s):
        flows = self._flows(now_s, [reading.groups[g].entered for g in self.model.names])
        if self._plan is None or (current == 0 and self._last != 0):
            sat = [LANE_SATURATION_VPH * self.model.lanes_of[g] for g in self.model.names]
            self._plan = webster(flows, sat, self.model.phase_groups, self.model.timing)
        self._last = current
        d = self._plan.decide(current, elapsed_s)
        return (SWITCH, d.next_phase) if d.switch and d.next_phase != current else (HOLD, current)


_BY_NAME = {
    "schedule": Schedule,
    "max-pressure": MaxPressure,
    "actuated": Actuated,
    "webster": Webster,
    "fixed": Fixed,
}


def make(name: str, imported) -> Strategy:
    """The strategy called `name` (one of CONTROLLERS) for one imported light."""
    if name not in _BY_NAME:
        raise ValueError(f"controller must be one of {', '.join(CONTROLLERS)}, got {name!r}")
    return _BY_NAME[name](PhaseModel(imported))
