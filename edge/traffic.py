"""Built-in stochastic traffic: arrivals, queues, detector pulses and delay, one lane per group.

Pure logic driven by the caller's clock: `step(t_s, signals)` says "the heads showed `signals`
from the previous step until `t_s`". No clock reads, no I/O, deterministic for a given seed.

Per signal group: vehicles arrive as a Poisson stream (with a 1 s minimum gap, as one lane
allows), pulse the group's advance detectors on arrival, reach the stop bar `travel_s` later and
queue there. On green the queue discharges one vehicle per `sat_headway_s`, starting
`lost_time_s` after the green onset; a vehicle may still go in the first 2 s of yellow, none on
red (flash and dark count as red). Each departure is a pulse on the stop-bar detectors; a head
vehicle waiting while the signal is not green holds them high until it leaves, so every vehicle
is one rising edge. `count` detectors pulse on departures only. Delay is departure minus
stop-bar arrival: travel is free-flow, so that is all the time lost at the signal.

Events are computed exactly inside a step, so with constant signals the result does not depend
on how the caller slices time; onsets of green and yellow are taken at the step boundaries.
"""

from __future__ import annotations

import math
import random
from collections import deque

PULSE_S = 0.5  # how long a passing vehicle covers a loop
MIN_GAP_S = 1.0  # closest two arrivals in one lane; keeps advance pulses apart
YELLOW_GO_S = 2.0  # vehicles still discharge in the first seconds of yellow
_HOLD_GAP_S = 0.3  # low time between a departure pulse and the next vehicle's presence
_GREEN = frozenset("Gg")
_SIGNALS = frozenset("Ggyrfo")
_DEFAULT_THRU_VPH = (150.0, 500.0)
_DEFAULT_LEFT_VPH = (60.0, 150.0)


class _Lane:
    """State of one signal group's traffic."""

    def __init__(self, rng: random.Random, rate_vph: float):
        self.rng = rng
        self.rate_vph = rate_vph
        self.next_arrival = math.inf
        self.transit: deque[float] = deque()  # stop-bar arrival times, not there yet
        self.queue: deque[float] = deque()  # stop-bar arrival times, waiting
        self.last_arrival = -math.inf
        self.last_departure = -math.inf
        self.holding = False  # the head vehicle holds the stop-bar loop high
        self.signal = ""
        self.green_onset: float | None = None
        self.yellow_onset: float | None = None
        self.arrived = 0
        self.served = 0
        self.delay_s = 0.0
        self.max_queue = 0

    def gap(self) -> float:
        """Seconds to the next arrival: a shifted exponential with mean 3600/rate."""
        if self.rate_vph <= 0:
            return math.inf
        mean = 3600.0 / self.rate_vph
        return MIN_GAP_S + self.rng.expovariate(1.0 / (mean - MIN_GAP_S))


class TrafficModel:
    """Stochastic arrivals and queue discharge for every group of intersection `ix`.

    `rates_vph` maps group names to vehicles per hour (groups left out get none); by default
    every vehicle group gets a seeded random rate (150-500 veh/h, 60-150 for left turns) and
    pedestrian groups none. `scale` multiplies all rates.
    """

    def __init__(
        self,
        ix,
        rates_vph: dict[str, float] | None = None,
        seed: int = 0,
        sat_headway_s: float = 2.0,
        lost_time_s: float = 2.0,
        travel_s: float = 6.0,
        scale: float = 1.0,
    ):
        _check_number("sat_headway_s", sat_headway_s, low=2 * PULSE_S)
        _check_number("lost_time_s", lost_time_s, low=0.0)
        _check_number("travel_s", travel_s, low=0.0)
        _check_number("scale", scale, low=0.0)
        self.names = [g.name for g in ix.groups]
        self.sat_headway_s = float(sat_headway_s)
        self.lost_time_s = float(lost_time_s)
        self.travel_s = float(travel_s)
        rates = (
            _default_rates(ix, seed) if rates_vph is None else _check_rates(rates_vph, self.names)
        )
        self.lanes: dict[str, _Lane] = {}
        for name in self.names:
            rate = rates.get(name, 0.0) * scale
            if rate * MIN_GAP_S >= 3600.0:
                raise ValueError(
                    f"rates_vph[{name!r}] x scale = {rate!r} veh/h: one lane takes fewer than "
                    f"{3600.0 / MIN_GAP_S:g}"
                )
            self.lanes[name] = _Lane(random.Random(f"greenwave-traffic:{seed}:{name}"), rate)
        self._detectors = _detector_map(ix, set(self.names))
        self.t: float | None = None

    @property
    def rates_vph(self) -> dict[str, float]:
        """Arrival rate per group in force (after `scale`)."""
        return {name: lane.rate_vph for name, lane in self.lanes.items()}

    def step(self, t_s: float, signals: str) -> None:
        """Advance to `t_s` with the heads showing `signals` since the previous step."""
        if not isinstance(t_s, (int, float)) or not math.isfinite(t_s):
            raise ValueError(f"t_s {t_s!r}: expected a finite number of seconds")
        if not isinstance(signals, str) or len(signals) != len(self.names):
            raise ValueError(
                f"signals {signals!r}: expected one character per group ({len(self.names)})"
            )
        bad = set(signals) - _SIGNALS
        if bad:
            raise ValueError(f"signals {signals!r}: unknown state(s) {sorted(bad)}")
        if self.t is None:
            self.t = float(t_s)
            for lane in self.lanes.values():
                lane.next_arrival = self.t + lane.gap()
        if t_s < self.t:
            raise ValueError(f"t_s {t_s!r} is before the model's time {self.t!r}")
        t0, t1 = self.t, float(t_s)
        for name, ch in zip(self.names, signals, strict=True):
            self._advance(self.lanes[name], ch, t0, t1)
        self.t = t1

    def _advance(self, lane: _Lane, ch: str, t0: float, t1: float) -> None:
        # The new signal is taken to have started at the previous step.
        if ch in _GREEN and lane.signal not in _GREEN:
            lane.green_onset = t0
        elif ch == "y" and lane.signal != "y":
            lane.yellow_onset = t0
        elif ch not in _GREEN and ch != "y":
            lane.green_onset = None
        lane.signal = ch
        while lane.next_arrival <= t1:
            a = lane.next_arrival
            lane.transit.append(a + self.travel_s)
            lane.last_arrival = a
            lane.arrived += 1
            lane.next_arrival = a + lane.gap()
        while True:
            head = lane.queue[0] if lane.queue else (lane.transit[0] if lane.transit else None)
            if head is None:
                break
            tau = self._departure_time(lane, head, t0, t1)
            if tau is None:
                break
            self._reach(lane, tau)
            reached = lane.queue.popleft()
            lane.served += 1
            lane.delay_s += tau - reached
            lane.last_departure = tau
            lane.holding = False
        self._reach(lane, t1)
        if lane.queue and ch not in _GREEN and t1 >= lane.last_departure + PULSE_S + _HOLD_GAP_S:
            lane.holding = True

    def _departure_time(self, lane: _Lane, head: float, t0: float, t1: float) -> float | None:
        """When the head vehicle leaves within (t0, t1], or None if it cannot."""
        if lane.green_onset is None:
            return None
        tau = max(
            head, t0, lane.last_departure + self.sat_headway_s, lane.green_onset + self.lost_time_s
        )
        if tau > t1:
            return None
        if lane.signal == "y" and tau >= lane.yellow_onset + YELLOW_GO_S:
            return None
        return tau

    @staticmethod
    def _reach(lane: _Lane, t: float) -> None:
        while lane.transit and lane.transit[0] <= t:
            lane.queue.append(lane.transit.popleft())
        lane.max_queue = max(lane.max_queue, len(lane.queue))

    def detector_levels(self) -> int:
        """Detector input levels now as a bitmask: bit `d.input` set when detector d is high."""
        if self.t is None:
            return 0
        t = self.t
        mask = 0
        for bit, role, names in self._detectors:
            for name in names:
                lane = self.lanes[name]
                if role == "advance":
                    high = t < lane.last_arrival + PULSE_S
                else:
                    high = t < lane.last_departure + PULSE_S
                    high = high or (role == "stop_bar" and lane.holding)
                if high:
                    mask |= bit
                    break
        return mask

    def queues(self) -> dict[str, int]:
        """Vehicles waiting at the stop bar, per group."""
        return {name: len(lane.queue) for name, lane in self.lanes.items()}

    def in_transit(self) -> dict[str, int]:
        """Vehicles past the advance detector that have not reached the stop bar, per group."""
        return {name: len(lane.transit) for name, lane in self.lanes.items()}

    @property
    def arrived(self) -> int:
        return sum(lane.arrived for lane in self.lanes.values())

    @property
    def served(self) -> int:
        return sum(lane.served for lane in self.lanes.values())

    @property
    def total_delay_s(self) -> float:
        return sum(lane.delay_s for lane in self.lanes.values())

    @property
    def mean_delay_s(self) -> float:
        """Mean delay per served vehicle (0.0 before the first one)."""
        served = self.served
        return self.total_delay_s / served if served else 0.0

    def waiting_delay_s(self, t_s: float) -> float:
        """Delay accrued by the vehicles still queued, counted up to `t_s` (not yet in stats)."""
        return sum(
            max(0.0, t_s - reached) for lane in self.lanes.values() for reached in lane.queue
        )

    def stats(self) -> dict:
        """Totals and per-group figures: arrived, served, delay, queues."""
        groups = {
            name: {
                "rate_vph": lane.rate_vph,
                "arrived": lane.arrived,
                "served": lane.served,
                "delay_s": lane.delay_s,
                "queue": len(lane.queue),
                "in_transit": len(lane.transit),
                "max_queue": lane.max_queue,
            }
            for name, lane in self.lanes.items()
        }
        return {
            "t": self.t,
            "arrived": self.arrived,
            "served": self.served,
            "total_delay_s": self.total_delay_s,
            "mean_delay_s": self.mean_delay_s,
            "queued": sum(g["queue"] for g in groups.values()),
            "in_transit": sum(g["in_transit"] for g in groups.values()),
            "max_queue": max((g["max_queue"] for g in groups.values()), default=0),
            "groups": groups,
        }


def _check_number(field: str, value, low: float) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < low:
        raise ValueError(f"{field} = {value!r}: expected a number >= {low:g}")


def _check_rates(rates_vph, names: list[str]) -> dict[str, float]:
    if not isinstance(rates_vph, dict):
        raise ValueError(f"rates_vph = {rates_vph!r}: expected a dict of group name -> veh/h")
    for name, rate in rates_vph.items():
        if name not in names:
            raise ValueError(f"rates_vph: unknown signal group {name!r}; groups are {names}")
        _check_number(f"rates_vph[{name!r}]", rate, low=0.0)
    return {name: float(rate) for name, rate in rates_vph.items()}


def _default_rates(ix, seed: int) -> dict[str, float]:
    rng = random.Random(f"greenwave-rates:{seed}")
    rates = {}
    for g in ix.groups:
        if getattr(g, "kind", "vehicle") != "vehicle":
            continue
        low, high = _DEFAULT_LEFT_VPH if getattr(g, "movement", "") == "left" else _DEFAULT_THRU_VPH
        rates[g.name] = round(rng.uniform(low, high))
    return rates


def _detector_map(ix, names: set[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """(bit, role, group names) per detector."""
    out = []
    for d in getattr(ix, "detectors", ()):
        for name in d.calls:
            if name not in names:
                raise ValueError(f"detector input {d.input!r} calls unknown group {name!r}")
        if d.role not in ("stop_bar", "advance", "count"):
            raise ValueError(f"detector input {d.input!r}: unknown role {d.role!r}")
        out.append((1 << d.input, d.role, tuple(d.calls)))
    return out
