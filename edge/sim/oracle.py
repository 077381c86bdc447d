"""Measurement only: a clairvoyant sensing (`--sensing oracle`) that also knows future demand.

Exact sensing (`ExactSensing`, with `--reach` if given) plus every vehicle that has not entered
the network yet, known from a first pass of the same scenario (plain `sumo` with the network's
own signal programs, in a temporary directory): each vehicle's id, intended departure (tripinfo
`depart - departDelay`), insertion position and route (vehroute output). Vehicle ids,
intended departures and routes do not depend on what controls the lights (measured with two
controllers on two scenarios, docs/sim.md), so the oracle pass sees the same demand. A vehicle not
inserted yet appears to a light as a vehicle on the approach lane it will take, at the distance
it would have from the stop bar had it departed on time and driven at the approach's speed
limit: its route from the insertion point to the stop bar plus limit x (depart - now); one in
SUMO's insertion backlog the same with depart = now. Only those within limit x horizon_s (the
strategy's plan horizon) count. No field sensor gives this; it bounds what prediction of the
demand could be worth, and is never the default.
"""

from __future__ import annotations

import bisect
import os
import shlex
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from edge.sim import lookahead, sensing, sumo


@dataclass(frozen=True)
class Trip:
    """One vehicle of the demand as the first pass saw it."""

    id: str
    depart_s: float  # intended departure (before any insertion delay)
    depart_pos_m: float  # where its front was on its first edge when inserted
    route: tuple[str, ...]


def read_trips(tripinfo: str, vehroute: str, end_s: float) -> tuple[list[Trip], int]:
    """The first pass's vehicles by intended departure, and how many were left out. A vehicle
    it never inserted (tripinfo `depart` -1, `departDelay` counted to `end_s`) takes the route
    and insertion position of its flow's vehicles (its id up to the last '.'), when they all
    took one route; otherwise it is left out."""
    routes = {}
    for v in ET.parse(vehroute).getroot().iter("vehicle"):
        r = v.find("route")
        if r is not None and r.get("edges"):
            routes[v.get("id")] = tuple(r.get("edges").split())
    rows = list(ET.parse(tripinfo).getroot().iter("tripinfo"))
    flows: dict[str, set] = {}
    pos: dict[str, float] = {}
    out, later = [], []
    for t in rows:
        vid = t.get("id")
        depart, delay = float(t.get("depart")), float(t.get("departDelay"))
        if depart < 0 or vid not in routes:
            later.append((vid, end_s - delay))
            continue
        flow = vid.rpartition(".")[0]
        flows.setdefault(flow, set()).add(routes[vid])
        pos[flow] = float(t.get("departPos"))
        out.append(Trip(vid, depart - delay, float(t.get("departPos")), routes[vid]))
    for vid, intended in later:
        flow = vid.rpartition(".")[0]
        if flow and len(flows.get(flow, ())) == 1:
            out.append(Trip(vid, intended, pos[flow], next(iter(flows[flow]))))
    out.sort(key=lambda x: x.depart_s)
    return out, len(rows) - len(out)


def first_pass(opts, tmp: str) -> tuple[list[Trip], int]:
    """Run the scenario of `opts` (a `runner.SimOptions`) in plain `sumo` with the network's own
    programs: its trips, and how many vehicles it left without a route (`read_trips`)."""
    trip = os.path.join(tmp, "oracle.tripinfo.xml")
    routes = os.path.join(tmp, "oracle.vehroute.xml")
    cmd = [
        sumo.sumo_binary(),
        "--net-file", opts.net,
        "--route-files", ",".join(opts.routes),
        *(["--additional-files", ",".join(opts.additional)] if opts.additional else []),
        "--begin", f"{opts.begin:g}",
        "--end", f"{opts.end:g}",
        "--seed", str(opts.seed),
        "--tripinfo-output", trip,
        "--tripinfo-output.write-unfinished", "true",
        "--tripinfo-output.write-undeparted", "true",
        "--vehroute-output", routes,
        "--vehroute-output.write-unfinished", "true",
        "--vehroute-output.last-route", "true",
        "--no-step-log", "true",
        "--no-warnings", "true",
        *shlex.split(opts.sumo_args),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise sumo.SumoError(f"the oracle's first pass failed: {tail[0]}")
    return read_trips(trip, routes, opts.end)


class Future:
    """The vehicles not inserted yet at one moment, shared by every light of a run."""

    def __init__(self, trips: list[Trip], api):
        self.trips = sorted(trips, key=lambda x: x.depart_s)
        self._departs = [x.depart_s for x in self.trips]
        self._by_id = {x.id: x for x in self.trips}
        self.api = api
        # at time t SUMO has processed the departures up to t - step: later ones are still due
        self._step_s = float(api.simulation.getDeltaT())
        self._at: tuple[float, float] | None = None
        self._window: list[tuple[Trip, float]] = []

    def window(self, now_s: float, ahead_s: float) -> list[tuple[Trip, float]]:
        """(trip, seconds until its intended departure) of every vehicle pending insertion
        (0 s), due since the last step (0 s: SUMO inserts it in the next one) or due within
        `ahead_s` from now."""
        if self._at != (now_s, ahead_s):
            pending = [
                (self._by_id[v], 0.0)
                for v in self.api.simulation.getPendingVehicles()
                if v in self._by_id
            ]
            lo = bisect.bisect_right(self._departs, now_s - self._step_s)
            hi = bisect.bisect_right(self._departs, now_s + ahead_s)
            seen = {t.id for t, _ in pending}
            later = [
                (t, max(t.depart_s - now_s, 0.0)) for t in self.trips[lo:hi] if t.id not in seen
            ]
            self._window = pending + later
            self._at = (now_s, ahead_s)
        return self._window


class Clairvoyant:
    """One light's view of the future vehicles: where each would be, per approach lane."""

    def __init__(self, net, layout: sensing.Layout, future: Future, horizon_s: float):
        self.layout = layout
        self.future = future
        self.horizon_s = horizon_s
        top = max(net.getLane(lane).getSpeed() for lane in layout.lanes)
        self.look = lookahead.plan_look_ahead(net, layout, top * horizon_s)
        self._placed: dict[str, tuple[str, float, float] | None] = {}

    def arrivals(self, now_s: float) -> dict[str, list[float]]:
        """Layout lane -> stop-bar arrivals (s from now) of the vehicles not inserted yet."""
        out: dict[str, list[float]] = {}
        for trip, wait_s in self.future.window(now_s, self.horizon_s):
            if trip.id not in self._placed:
                self._placed[trip.id] = lookahead.place(
                    self.look, self.layout, trip.id, trip.route, trip.depart_pos_m
                )
            where = self._placed[trip.id]
            if where is None:
                continue
            lane, dist_m, limit = where
            arrive_s = dist_m / limit + wait_s
            if arrive_s <= self.horizon_s:
                out.setdefault(lane, []).append(arrive_s)
        return out


class OracleSensing(sensing.ExactSensing):
    """Measurement only: exact sensing plus the vehicles a `Clairvoyant` knows are coming."""

    def __init__(self, layout, api, look_ahead, clairvoyant: Clairvoyant):
        super().__init__(layout, api, look_ahead)
        self.clairvoyant = clairvoyant

    def read(self, now_s: float) -> sensing.Reading:
        reading = super().read(now_s)
        coming = self.clairvoyant.arrivals(now_s)
        if coming:
            for g, lanes in self.layout.group_lanes.items():
                view = reading.groups[g]
                for lane in lanes:
                    view.arrivals_s.extend(coming.get(lane, ()))
                    view.vehicles += len(coming.get(lane, ()))
                view.arrivals_s.sort()
        return reading
