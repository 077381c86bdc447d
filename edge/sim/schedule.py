"""The `schedule` strategy: the schedule-driven rolling-horizon optimizer over detector clusters.

`Schedule` runs edge.optimizer.schedule over clusters built from the camera zones (standing
queue) and the entry loops (approaching vehicles, timed at free speed), plus, on roads the zones
do not watch to their start, the upstream light's projected outflow (edge.sim.coordination). Its
overflow weight, running split and starvation-guard mirror are edge.optimizer.rules, which the
gateway applies too. In saturation mode it serves phases in cyclic order instead. docs/sim.md
says what each option measured.
"""

from __future__ import annotations

from edge.optimizer import flow_cluster, phase_clusters, projected_outflow, schedule
from edge.optimizer.rules import CallGuard, overflow_weight, split_running
from edge.sim.strategy import HOLD, STARTUP_LOST_S, SWITCH, FlowRate, PhaseModel, Strategy


class Schedule(Strategy):
    """The schedule-driven rolling-horizon optimizer over detector-built clusters."""

    def __init__(
        self,
        model: PhaseModel,
        horizon_s: float = 120.0,
        beyond_s: float = 0.0,
        saturation: bool = True,
        overflow_weight: bool = True,
        extend_margin_veh_s: float = 0.0,
        coordinate: bool = True,
        measure_headway: bool = False,
        unseen: bool = False,
        cyclic: bool = False,
        split_running: bool = True,
        guard: bool = True,
    ):
        super().__init__(model)
        self.horizon_s = horizon_s
        # beyond_s > 0 adds the recent entry-loop flow as one cluster over the beyond_s seconds
        # after the zones' reach (demand not sensed yet). Off: measured mixed (docs/sim.md).
        self.beyond_s = beyond_s
        self.flow_window_s = 300.0
        # unseen: the recent entry-loop flow of each phase whose zones end before the horizon,
        # as the optimizer's unseen_rate (its reds are charged for it; docs/sim.md)
        self.unseen = unseen
        self.unseen_rate: list[float] | None = None  # the last ones given to the optimizer
        self.unseen_from_s: list[float] | None = None
        # cyclic: the optimizer plans phases in cyclic (index) order, skipping a phase that
        # does not call (edge.optimizer.schedule's `cyclic`; docs/sim.md, fourth round)
        self.cyclic = cyclic
        # saturation mode: entered when a watched stretch is sat_enter full of standing
        # vehicles, left when all are below sat_leave
        self.saturation = saturation
        self.sat_enter = 0.6
        self.sat_leave = 0.3
        self.clear_veh = 1.0  # a queue of fewer standing vehicles per group counts as cleared
        self.gap_s = 2.5  # ... unless a vehicle arrives within this time
        self.saturated = False
        # overflow weight: a standing queue that one max green cannot clear counts as many
        # times as the max greens it needs (docs/sim.md)
        self.overflow_weight = overflow_weight
        # split_running: the running phase's standing queue is planned as what its remaining
        # max green can serve plus the rest, so the plan neither ends the green early for want
        # of a part that fits nor counts on serving the rest in it (sixth round)
        self.split_running = split_running
        # guard: a SWITCH the firmware's starvation guard would refuse goes instead to the
        # phase the firmware would serve (free.py `_allows`), not through CLEAR and a gap-out
        self.guard = guard
        self.calls = CallGuard.for_phases(model.phases)  # the calls as the firmware latches them
        # extension margin: the plan extends the running green only when that saves more than
        # this many vehicle-seconds over ending it now (docs/sim.md)
        self.extend_margin_veh_s = extend_margin_veh_s
        # coordination: upstream neighbours' projected outflows as arrivals (edge.sim.coordination)
        self.coordinate = coordinate
        self.feeds: list = []
        self.neighbours: list = []
        self.feed_max_age_s = 6.0  # an older upstream plan (saturation mode, a stall) is ignored
        # discharge headway measured at the stop-bar loops (docs/sim.md)
        self.measure_headway = measure_headway
        self.headway_min_veh = 40  # vehicles of saturated discharge before a phase's own figure
        self.headway_bounds_s = (1.4, 3.0)  # per lane
        self.retime_every_s = 60.0
        n = len(model.phases)
        self._discharge = [[0.0, 0] for _ in range(n)]  # per phase: lane-seconds, vehicles
        self._passed: dict[str, int] = {}
        self._last_call = None
        self._retimed_s = 0.0
        self._flows = FlowRate(self.flow_window_s)  # per phase, veh/h in by the entry loops
        self.last = None
        self.last_s = None  # when `last` was planned

    def link(self, feeds, neighbours) -> None:
        """Coordination: this light's `Feed`s and every light's strategy, in run order."""
        self.feeds = list(feeds)
        self.neighbours = list(neighbours)

    def clusters(self, now_s, reading, current=-1, elapsed_s=0.0):
        m = self.model
        n = len(m.phases)
        queue = [0.0] * n
        arrivals: list[list[float]] = [[] for _ in m.phases]
        entered = [0] * n
        sensed = [self.horizon_s] * n
        for g in m.names:
            p = m.serving.get(g)
            if p is None:
                continue
            view = reading.groups[g]
            queue[p] += view.queue
            arrivals[p].extend(view.arrivals_s)
            entered[p] += view.entered
            sensed[p] = min(sensed[p], view.sensed_s)
        if self.overflow_weight:
            queue = [q * self._overflow(p, q) for p, q in enumerate(queue)]
        out = [
            phase_clusters(queue[p], arrivals[p], sat_headway_s=m.headway_s[p]) for p in range(n)
        ]
        if self.split_running and current >= 0 and queue[current] > 0:
            out[current] = self._split(current, elapsed_s, queue[current], out[current])
        if self.coordinate and self.feeds:
            for p, extra in self._fed(now_s, reading).items():
                out[p] += extra
        flows = self._flows(now_s, entered) if self.beyond_s > 0 or self.unseen else None
        if self.beyond_s > 0:
            # Demand the zones cannot see yet: the recent flow, from when it can first arrive.
            for p, flow in enumerate(flows):
                if sensed[p] < self.horizon_s:
                    out[p] += flow_cluster(
                        flow, sensed[p], min(self.horizon_s, sensed[p] + self.beyond_s)
                    )
        if self.unseen:  # arriving from the zones' reach on
            self.unseen_rate = [
                f / 3600.0 if sensed[p] < self.horizon_s else 0.0 for p, f in enumerate(flows)
            ]
            self.unseen_from_s = [min(s, self.horizon_s) for s in sensed]
        return out

    def _fed(self, now_s, reading):
        """Per phase, the clusters the upstream lights' latest plans will send here: vehicles
        they have not served yet (arriving from the road's travel time on), so none that this
        light's zones can already see. The road's share goes to its lanes (groups) as this
        light's entry loops have counted them."""
        m = self.model
        out: dict[int, list] = {}
        views = reading.groups
        for f in self.feeds:
            up = self.neighbours[f.upstream]
            plan, planned_s = getattr(up, "last", None), getattr(up, "last_s", None)
            if plan is None or planned_s is None:
                continue
            age = now_s - planned_s
            if not 0 <= age <= self.feed_max_age_s:
                continue
            total = sum(views[h].entered for h in f.road)
            if total > 0:
                frac = views[f.group].entered / total
            else:
                frac = m.lanes_of[f.group] / max(sum(m.lanes_of[h] for h in f.road), 1)
            share = min(f.share * frac, 1.0)
            if share <= 0:
                continue
            lo, hi = f.travel_s, self.horizon_s  # served before now (per the plan): on the road
            found = projected_outflow(
                plan, f.up_phase, travel_s=f.travel_s, share=share, horizon_s=hi + age
            )
            for a, d, n in found:
                a -= age
                a0, a1 = max(a, lo), min(a + d, hi)
                if d > 0:
                    n *= max(a1 - a0, 0.0) / d
                elif not lo <= a < hi:
                    n = 0.0
                if n > 0:
                    out.setdefault(m.serving[f.group], []).append((a0, max(a1 - a0, 0.0), n))
        return out

    def _overflow(self, p, queue):
        """How many max greens phase p needs for its standing queue (edge.optimizer.rules)."""
        m = self.model
        return overflow_weight(queue, m.headway_s[p], m.phases[p].max_green_s, STARTUP_LOST_S)

    def _split(self, p, elapsed_s, queue, clusters):
        """The running phase's clusters, its standing queue split (edge.optimizer.rules)."""
        return split_running(
            clusters,
            queue,
            max_green_s=self.model.phases[p].max_green_s,
            elapsed_s=elapsed_s,
            headway_s=self.model.headway_s[p],
            startup_lost_s=STARTUP_LOST_S,
        )

    def _fill(self, reading):
        """The fullest watched stretch: standing vehicles over what it holds jammed."""
        return max((v.queue / v.room for v in reading.groups.values() if v.room > 0), default=0.0)

    def _cyclic(self, reading, current, elapsed_s):
        """Saturation mode: serve phases in order, each until its standing queue has cleared
        (or max green), skipping phases with nobody waiting: no capacity lost to yellows the
        optimizer would spend on reshuffling, and no phase starved."""
        m = self.model
        mine = [g for g, p in m.serving.items() if p == current]
        waiting = sum(reading.groups[g].queue for g in mine)
        if waiting >= self.clear_veh * max(len(mine), 1):
            return HOLD, current
        soon = [t for g in mine for t in reading.groups[g].arrivals_s if t <= self.gap_s]
        if soon:
            return HOLD, current  # a platoon still arriving: keep discharging it
        n = len(m.phases)
        for step in range(1, n):
            k = (current + step) % n
            if any(reading.groups[g].vehicles > 0 for g, p in m.serving.items() if p == k):
                return SWITCH, k
        return HOLD, current

    def _measure(self, now_s, reading, current, elapsed_s):
        """Saturation headway from the stop-bar loops: per lane, seconds of green per vehicle
        crossing while the group still has a standing queue of at least two per lane, after
        the start-up lost time."""
        m = self.model
        dt = None if self._last_call is None else now_s - self._last_call
        self._last_call = now_s
        for g in m.names:
            view = reading.groups[g]
            before = self._passed.get(g, view.passed)
            self._passed[g] = view.passed
            if dt is None or dt > 1.5 or m.serving.get(g) != current:
                continue
            lanes = m.lanes_of[g]
            if elapsed_s < STARTUP_LOST_S + 1.0 or view.queue < 2 * lanes:
                continue
            acc = self._discharge[current]
            acc[0] += dt * lanes
            acc[1] += view.passed - before
        if now_s - self._retimed_s >= self.retime_every_s:
            self._retimed_s = now_s
            lo, hi = self.headway_bounds_s
            heads = []
            for p, (lane_s, veh) in enumerate(self._discharge):
                h = lane_s / veh if veh >= self.headway_min_veh else m.lane_headway_s[p]
                heads.append(min(max(h, lo), hi))
            if heads != m.lane_headway_s:
                m.retime(heads)

    def _track_calls(self, now_s, reading, current):
        """Latch each phase's call as the firmware does: a vehicle on one of its groups'
        stop-bar or advance loops while it is red (served: cleared)."""
        m = self.model
        calling = [
            any(reading.stop.get(m.names[g]) or reading.advance.get(m.names[g]) for g in groups)
            for groups in m.phase_groups
        ]
        self.calls.track(now_s, current, calling)

    def decide(self, now_s, reading, current, elapsed_s):
        if self.guard:
            self._track_calls(now_s, reading, current)
        if self.measure_headway:
            self._measure(now_s, reading, current, elapsed_s)
        if self.saturation:
            fill = self._fill(reading)
            if fill >= self.sat_enter:
                self.saturated = True
            elif fill < self.sat_leave:
                self.saturated = False
            if self.saturated:
                return self._cyclic(reading, current, elapsed_s)
        clusters = self.clusters(now_s, reading, current, elapsed_s)
        rate = self.unseen_rate if self.unseen else None
        start = self.unseen_from_s if self.unseen else None
        plan = schedule(
            clusters,
            self.model.timing,
            current,
            elapsed_s,
            horizon_s=self.horizon_s,
            unseen_rate=rate,
            unseen_from_s=start,
            cyclic=self.cyclic,
        )
        self.last = plan
        self.last_s = now_s
        d = plan.decision
        if d.switch and d.next_phase >= 0 and d.next_phase != current:
            if self.guard:
                return SWITCH, self.calls.target(now_s, current, d.next_phase, elapsed_s)
            return SWITCH, d.next_phase
        if (
            self.extend_margin_veh_s > 0
            and d.next_phase >= 0
            and elapsed_s >= self.model.phases[current].min_green_s
        ):
            # The plan extends: what would ending the green now cost? (Past max green the
            # running green ends at once when another phase waits.)
            now = schedule(
                clusters,
                self.model.timing,
                current,
                max(elapsed_s, self.model.phases[current].max_green_s),
                horizon_s=self.horizon_s,
                unseen_rate=rate,
                unseen_from_s=start,
                cyclic=self.cyclic,
            )
            nd = now.decision
            gain = now.delay_veh_s - plan.delay_veh_s
            if (
                nd.switch
                and nd.next_phase >= 0
                and nd.next_phase != current
                and gain < self.extend_margin_veh_s
            ):
                return SWITCH, nd.next_phase
        return HOLD, current
