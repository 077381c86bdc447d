"""The gateway's optimizer loop, one algorithm at a time: what to ask the controller now.

Pure logic over the queue estimator's view (no serial, no MQTT, no clock reads):

- `schedule`: the schedule-driven rolling-horizon optimizer (`edge.optimizer.schedule`). Per
  phase, the vehicles standing at its groups' stop bars are a queue cluster at 0, and the
  vehicles counted at its advance loops and not at the stop bar yet are arrivals at their
  predicted stop-bar time (`phase_clusters`, saturation headway per phase). The simulator's
  rules that need no zones apply as there (`edge.optimizer.rules`): the overflow weight, the
  running split and the firmware's starvation guard mirrored (each an option, on).
- `max-pressure`: `edge.optimizer.max_pressure` over the queue estimate per group.

`decide(now_s, current, elapsed_s)` returns the phase to serve (`current`: extend it; another:
switch to it) and what the decision record should say about the plan.
"""

from __future__ import annotations

import time

ALGORITHMS = ("schedule", "max-pressure")
LANE_HEADWAY_S = 2.0  # saturation headway of one lane (1800 veh/h)
STARTUP_LOST_S = 2.0  # green onset to the first vehicle crossing
HORIZON_S = 120.0


def warm_up(name: str) -> float:
    """Load the kernels algorithm `name` uses (from Numba's on-disk cache, or compile them) in
    this process, so that no decision pays for it; the seconds it took. Only those kernels: a
    cold cache compiles the city batch's too in `edge.optimizer.warm_up`, twice the time."""
    from edge.optimizer import max_pressure, phase_timing, schedule

    t0 = time.perf_counter()
    max_pressure([1.0, 0.0], [[0], [1]], current=0, min_switch_gain=0.5)
    if name == "schedule":
        timing = phase_timing([5.0, 5.0], [30.0, 30.0], 3.0, 1.0)
        schedule([[(0.0, 0.0, 2.0)], [(3.0, 2.0, 1.0)]], timing, 0, 1.0)
    return time.perf_counter() - t0


class MaxPressure:
    name = "max-pressure"

    def __init__(self, ix, estimator, *, min_switch_gain: float = 2.0):
        self.ix = ix
        self.estimator = estimator
        self.phase_groups = [[ix.group_index(g) for g in p.groups] for p in ix.phases]
        self.min_switch_gain = min_switch_gain

    def warm_up(self) -> float:
        return warm_up(self.name)

    def describe(self) -> str:
        return f"max-pressure over the queue estimates (switch gain {self.min_switch_gain:g} veh)"

    def decide(self, now_s: float, current: int, elapsed_s: float) -> tuple[int, dict]:
        from edge.optimizer import max_pressure

        best = max_pressure(
            self.estimator.queues(), self.phase_groups, current=current,
            min_switch_gain=self.min_switch_gain,
        )  # fmt: skip
        return best, {}


class Schedule:
    name = "schedule"

    def __init__(
        self,
        ix,
        estimator,
        *,
        step_s: float = 1.0,
        horizon_s: float = HORIZON_S,
        lane_headway_s: float = LANE_HEADWAY_S,
        startup_lost_s: float = STARTUP_LOST_S,
        overflow_weight: bool = True,
        split_running: bool = True,
        guard: bool = True,
    ):
        from edge.optimizer import timing_from_phases
        from edge.optimizer.rules import CallGuard

        self.ix = ix
        self.estimator = estimator
        self.step_s = step_s
        self.horizon_s = horizon_s
        self.startup_lost_s = startup_lost_s
        # overflow weight: a standing queue one max green cannot clear counts once per max
        # green it needs (edge.optimizer.rules, docs/sim.md)
        self.overflow_weight = overflow_weight
        # running split: the running phase's standing queue is planned as what its remaining
        # max green can serve and the rest
        self.split_running = split_running
        # guard: a SWITCH the controller's starvation guard would refuse ("would starve a
        # call") asks instead for the phase the controller would serve
        self.guard = guard
        self.calls = CallGuard.for_phases(ix.phases)
        index = {g.name: i for i, g in enumerate(ix.groups)}
        # A group in several phases is demand of the first one that has it: each vehicle must
        # be given to exactly one phase (docs/optimizer.md, "Clusters").
        self.serving: dict[int, int] = {}
        for p, ph in enumerate(ix.phases):
            for g in ph.groups:
                self.serving.setdefault(index[g], p)
        # One lane per vehicle group (the config has no lane counts): a phase discharges its
        # groups side by side.
        lanes = [0] * len(ix.phases)
        for g, p in self.serving.items():
            if getattr(ix.groups[g], "kind", "vehicle") == "vehicle":
                lanes[p] += 1
        self.headway_s = [lane_headway_s / max(n, 1) for n in lanes]
        self.timing = timing_from_phases(ix.phases, startup_lost_s, self.headway_s)
        self.phase_groups = [[index[g] for g in ph.groups] for ph in ix.phases]
        self.last = None  # the latest plan

    def warm_up(self) -> float:
        return warm_up(self.name)

    def describe(self) -> str:
        return (
            f"schedule-driven rolling horizon ({self.horizon_s:g} s; advance loops "
            f"{self.estimator.travel_s:g} s from the stop bar)"
        )

    def clusters(
        self, now_s: float, current: int = -1, elapsed_s: float = 0.0
    ) -> list[list[tuple[float, float, float]]]:
        """Per phase: its standing queue at 0 (weighted by the max greens it needs) and its
        approaching vehicles, as clusters; the green phase `current`'s queue split at what its
        remaining max green serves."""
        from edge.optimizer import phase_clusters
        from edge.optimizer.rules import overflow_weight, split_running

        standing, coming = self.estimator.approaching(now_s)
        n = len(self.ix.phases)
        queue = [0.0] * n
        arrivals: list[list[float]] = [[] for _ in range(n)]
        for g, p in self.serving.items():
            queue[p] += standing[g]
            for t, k in coming[g]:
                arrivals[p].extend([max(t, 0.0)] * k)
        phases, lost = self.ix.phases, self.startup_lost_s
        if self.overflow_weight:
            queue = [
                q * overflow_weight(q, self.headway_s[p], phases[p].max_green_s, lost)
                for p, q in enumerate(queue)
            ]
        out = [
            phase_clusters(queue[p], arrivals[p], sat_headway_s=self.headway_s[p]) for p in range(n)
        ]
        if self.split_running and 0 <= current < n and queue[current] > 0:
            out[current] = split_running(
                out[current], queue[current], max_green_s=phases[current].max_green_s,
                elapsed_s=elapsed_s, headway_s=self.headway_s[current], startup_lost_s=lost,
            )  # fmt: skip
        return out

    def outflow(self) -> dict[str, list[list[float]]]:
        """The latest plan's departures over the stop line, per phase name: [[from_s,
        duration_s, vehicles], ...] from the plan's time. A downstream neighbour adds its
        travel time and turning share (edge.optimizer.projected_outflow) to see the platoons
        before its own detectors do."""
        from edge.optimizer import projected_outflow

        if self.last is None:
            return {}
        return {
            ph.name: [[round(a, 2), round(d, 2), round(n, 2)]
                      for a, d, n in projected_outflow(self.last, p, travel_s=0.0,
                                                       horizon_s=self.horizon_s)]
            for p, ph in enumerate(self.ix.phases)
        }  # fmt: skip

    def decide(self, now_s: float, current: int, elapsed_s: float) -> tuple[int, dict]:
        from edge.optimizer import schedule

        elapsed_s = max(elapsed_s, 0.0)
        if self.guard:
            self.track_calls(now_s, current)
        plan = schedule(
            self.clusters(now_s, current, elapsed_s), self.timing, current, elapsed_s,
            horizon_s=self.horizon_s, step_s=self.step_s,
        )  # fmt: skip
        self.last = plan
        d = plan.decision
        best = d.next_phase if d.switch and 0 <= d.next_phase != current else current
        nxt = self.ix.phases[d.next_phase].name if d.next_phase >= 0 else None
        info = {
            "plan": {
                "next_phase": nxt,  # None: nothing waits elsewhere, the green rests
                "switch_in_s": round(float(d.switch_in_s), 2),
                "delay_veh_s": round(float(plan.delay_veh_s), 1),
            }
        }
        if self.guard and best != current:
            served = self.calls.target(now_s, current, best, elapsed_s)
            if served != best:  # the controller would refuse the plan's phase: ask for its own
                info["guard"] = {"planned": self.ix.phases[best].name}
                best = served
        return best, info

    def track_calls(self, now_s: float, current: int) -> None:
        """Latch each phase's call as the controller does (a vehicle on one of its groups'
        loops while it is red; cleared when it is served), as the counts show it: a group
        with vehicles counted in and not out, or its stop-bar loop occupied."""
        queues = self.estimator.queues()
        calling = [any(queues[g] > 0 for g in groups) for groups in self.phase_groups]
        self.calls.track(now_s, current, calling)


def make(name: str, ix, estimator, *, step_s: float = 1.0, min_switch_gain: float = 2.0):
    """The planner called `name` (one of ALGORITHMS)."""
    if name == "schedule":
        return Schedule(ix, estimator, step_s=step_s)
    if name == "max-pressure":
        return MaxPressure(ix, estimator, min_switch_gain=min_switch_gain)
    raise ValueError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {name!r}")
