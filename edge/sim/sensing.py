"""Detectors in SUMO placed as a real site would have them, and what the controller may read.

Per incoming lane of a signal group:
- an induction loop at the stop bar (`stop`) and one about 40 m upstream (`advance`): the
  firmware's stop-bar and advance detector inputs;
- camera zones (SUMO lane-area detectors, E2) covering at most `zone_m` (200 m) upstream of the
  stop bar, chained onto the lane before when exactly one lane feeds it and feeds nothing else;
  each zone also drawn as sub-zones of at most `segment_m` (25 m), as a video detector's zones
  are, so that the controller knows roughly where along the stretch its vehicles are;
- an induction loop at the upstream end of the zones (`entry`) that times vehicles entering.

`DetectorSensing` reads only those detectors, through a `Fence` that exposes SUMO's
`inductionloop` and `lanearea` domains and nothing else: vehicle positions and speeds are out
of its reach. `ExactSensing` reads vehicle positions over the same lanes; it exists to measure
what detector-only sensing costs (`--sensing exact`) and is never the default. Given a
`LookAhead` (`edge.sim.lookahead`, `--reach M`) it reads further: every vehicle within M metres
of the stop bar along its own route, through upstream junctions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from edge.sim import lookahead

ZONE_M = 200.0
ADVANCE_M = 40.0
STOP_SETBACK_M = 2.0  # loop centre upstream of the stop line: under a car waiting there
JAM_SPACING_M = 7.5  # a standing car and its gap (SUMO's default 5 m + 2.5 m)
HALT_MPS = 1.39  # SUMO's halting speed (5 km/h), also the E2 jam threshold
SEGMENT_M = 25.0  # camera zones are drawn as sub-zones of at most this length
_ENTRY_MEMORY = 400  # entry times kept per lane (far more than a 200 m zone holds)


@dataclass(frozen=True)
class LaneSensors:
    """The detectors of one incoming lane and the stretch of road they watch."""

    lane: str
    stop: str
    advance: str
    entry: str
    zones: tuple[str, ...]  # one per piece
    subzones: tuple[str, ...]  # one per segment
    pieces: tuple[tuple[str, float, float], ...]  # (lane, from_m, to_m), stop bar's lane first
    # the zones' sub-zones, nearest the stop bar first: (lane, from_m, to_m, stop bar to to_m)
    segments: tuple[tuple[str, float, float, float], ...]
    covered_m: float  # stop bar to the entry loop
    speed_mps: float  # free speed over the stretch (the lowest limit on it)


@dataclass(frozen=True)
class Layout:
    """Detector layout of one traffic light: its groups' lanes and their sensors."""

    tls: str
    group_lanes: dict[str, tuple[str, ...]]
    lanes: dict[str, LaneSensors]


def _did(tls, lane, what):
    return f"gw|{tls}|{lane}|{what}"


def plan_layout(net, imported, zone_m: float = ZONE_M, segment_m: float = SEGMENT_M) -> Layout:
    """Place the detectors of one `edge.sumo_import.Imported` light on the sumolib `net`."""
    tls = imported.intersection.id
    lanes: dict[str, LaneSensors] = {}
    for lane_ids in imported.lanes.values():
        for lane_id in lane_ids:
            if lane_id not in lanes:
                lanes[lane_id] = _lane_sensors(net, tls, net.getLane(lane_id), zone_m, segment_m)
    return Layout(tls, dict(imported.lanes), lanes)


def _lane_sensors(net, tls, lane, zone_m, segment_m) -> LaneSensors:
    length = lane.getLength()
    pieces = [(lane, max(0.0, length - zone_m), length)]
    covered = pieces[0][2] - pieces[0][1]
    cur = lane
    seen = {lane.getID()}
    while covered < zone_m - 0.5:
        before = [x for x in cur.getIncoming() if not x.getID().startswith(":")]
        if len(before) != 1 or before[0].getID() in seen:
            break
        prev = before[0]
        if {c.getToLane().getID() for c in prev.getOutgoing()} != {cur.getID()}:
            break  # it branches: its vehicles do not all come here
        seen.add(prev.getID())
        plen = prev.getLength()
        take = min(plen, zone_m - covered)
        pieces.append((prev, plen - take, plen))
        covered += take
        cur = prev
    speed = min(p[0].getSpeed() for p in pieces)
    lid = lane.getID()
    segments = []
    ahead = 0.0  # stop bar to the downstream end of the piece
    for p, a, b in pieces:
        n = max(1, math.ceil((b - a) / segment_m - 1e-9))
        step = (b - a) / n
        for k in range(n):
            hi = b - k * step
            segments.append((p.getID(), hi - step, hi, ahead + k * step))
        ahead += b - a
    zones = tuple(_did(tls, lid, f"zone{k}") for k in range(len(pieces)))
    subzones = tuple(_did(tls, lid, f"sub{k}") for k in range(len(segments)))
    return LaneSensors(
        lane=lid,
        stop=_did(tls, lid, "stop"),
        advance=_did(tls, lid, "adv"),
        entry=_did(tls, lid, "entry"),
        zones=zones,
        subzones=subzones,
        pieces=tuple((p[0].getID(), p[1], p[2]) for p in pieces),
        segments=tuple(segments),
        covered_m=max(covered - 1.0, 1.0),
        speed_mps=speed,
    )


def additional_xml(layouts, period_s: float = 86400.0) -> str:
    """A SUMO additional file with every detector of `layouts` (no output files)."""
    out = ["<additional>"]
    for lay in layouts:
        for s in lay.lanes.values():
            lane_len = s.pieces[0][2]
            stop = max(0.1, lane_len - STOP_SETBACK_M)
            adv = max(0.1, lane_len - ADVANCE_M)
            far_lane, far_from, far_to = s.pieces[-1]
            entry = min(far_from + 1.0, max(far_to - 0.1, 0.1))
            for det, lane, pos in (
                (s.stop, s.lane, stop),
                (s.advance, s.lane, adv),
                (s.entry, far_lane, entry),
            ):
                out.append(
                    f"  <inductionLoop id={quoteattr(det)} lane={quoteattr(lane)} "
                    f'pos="{pos:.2f}" period="{period_s:g}" file="NUL"/>'
                )
            areas = [*zip(s.zones, s.pieces, strict=True)]
            areas += [(z, x[:3]) for z, x in zip(s.subzones, s.segments, strict=True)]
            for zone, (lane, a, b) in areas:
                out.append(
                    f"  <laneAreaDetector id={quoteattr(zone)} lane={quoteattr(lane)} "
                    f'pos="{a:.2f}" endPos="{b:.2f}" period="{period_s:g}" file="NUL"/>'
                )
    out.append("</additional>")
    return "\n".join(out) + "\n"


class Fence:
    """SUMO's detector domains and nothing else: what a controller in the field can read."""

    __slots__ = ("inductionloop", "lanearea")

    def __init__(self, api):
        self.inductionloop = api.inductionloop
        self.lanearea = api.lanearea


@dataclass
class GroupView:
    """What the controller knows about one signal group's approach at one moment."""

    queue: float = 0.0  # vehicles standing in the watched stretch
    vehicles: float = 0.0  # vehicles in the watched stretch (standing or moving)
    arrivals_s: list = field(default_factory=list)  # predicted stop-bar arrival, s from now
    entered: int = 0  # vehicles counted in since the start (flow measurement)
    sensed_s: float = 0.0  # free-flow travel time over the watched stretch (shortest lane)
    room: float = 0.0  # vehicles the watched stretch holds when jammed (all lanes)
    passed: int = 0  # vehicles counted over the stop-bar loops since the start (discharge)


@dataclass
class Reading:
    """One moment's reading of one light: firmware detector levels and per-group views."""

    stop: dict[str, bool]  # group -> a vehicle on a stop-bar loop
    advance: dict[str, bool]  # group -> a vehicle on an advance loop
    groups: dict[str, GroupView]


class DetectorSensing:
    """Reads a layout's detectors through a `Fence`; keeps entry times per lane."""

    # arrivals from the sub-zones (False: the earlier estimate, entry-loop times at free speed;
    # kept for measuring, docs/sim.md)
    segmented = True
    slow = 0.5  # a sub-zone moving slower than this share of the speed limit is queueing

    def __init__(self, layout: Layout, fence: Fence):
        if not isinstance(fence, Fence):
            raise TypeError(f"DetectorSensing reads through a Fence, got {type(fence).__name__}")
        self.layout = layout
        self._il = fence.inductionloop
        self._la = fence.lanearea
        self._seen: dict[str, set] = {lane: set() for lane in layout.lanes}
        self._entries: dict[str, deque] = {
            lane: deque(maxlen=_ENTRY_MEMORY) for lane in layout.lanes
        }
        self._entered = dict.fromkeys(layout.lanes, 0)
        self._at_stop: dict[str, set] = {lane: set() for lane in layout.lanes}
        self._passed = dict.fromkeys(layout.lanes, 0)

    def read(self, now_s: float) -> Reading:
        il, la = self._il, self._la
        per_lane = {}
        for lane, s in self.layout.lanes.items():
            # A loop counts each vehicle once while it is on the loop (a rising edge).
            ids = set(il.getLastStepVehicleIDs(s.entry))
            new = len(ids - self._seen[lane])
            self._seen[lane] = ids
            for _ in range(new):
                self._entries[lane].append(now_s)
            self._entered[lane] += new
            at_stop = set(il.getLastStepVehicleIDs(s.stop))
            self._passed[lane] += len(at_stop - self._at_stop[lane])
            self._at_stop[lane] = at_stop
            number = halting = 0
            for z in s.zones:
                number += la.getLastStepVehicleNumber(z)
                halting += la.getLastStepHaltingNumber(z)
            moving = max(number - halting, 0)
            travel = s.covered_m / s.speed_mps
            if self.segmented:
                arrivals = self._placed(s, moving) if moving else []
            else:
                recent = list(self._entries[lane])[-moving:] if moving else []
                arrivals = [max(t + travel - now_s, 0.0) for t in recent]
            per_lane[lane] = (
                il.getLastStepVehicleNumber(s.stop) > 0 or il.getLastStepOccupancy(s.stop) > 0,
                il.getLastStepVehicleNumber(s.advance) > 0,
                GroupView(
                    float(halting),
                    float(number),
                    arrivals,
                    self._entered[lane],
                    travel,
                    s.covered_m / JAM_SPACING_M,
                    self._passed[lane],
                ),
            )
        return _by_group(self.layout, per_lane)

    def _placed(self, s: LaneSensors, moving: int) -> list:
        """Stop-bar arrivals (s from now) of a lane's `moving` vehicles, from its sub-zones.

        Each sub-zone's moving vehicles are spread evenly over it. They travel at the
        sub-zone's mean speed (its standing vehicles counted as stopped) when the road ahead is
        free; behind standing vehicles (in this sub-zone or nearer the stop bar), or moving
        slower than `slow` of the limit, they are in or joining a queue and are timed at the
        speed limit: the earliest they can arrive, the plan's discharge headway keeps them
        behind the queue (timed at their crawl they would look far away, and a plan that ends
        the green before them cuts a discharging platoon). A vehicle over the line between two
        sub-zones is in both, so their moving counts are scaled to the zones' own total."""
        la = self._la
        parts = []
        standing = 0  # standing vehicles nearer the stop bar
        for z, (_, a, b, near) in zip(s.subzones, s.segments, strict=True):
            n = la.getLastStepVehicleNumber(z)
            if n:
                h = la.getLastStepHaltingNumber(z)
                standing += h
                m = n - h
                if m > 0:
                    v = la.getLastStepMeanSpeed(z) * n / m
                    if standing or v < self.slow * s.speed_mps:
                        v = s.speed_mps
                    parts.append((m, near, b - a, min(max(v, 1.0), s.speed_mps)))
        total = sum(p[0] for p in parts)
        scale = min(moving / total, 1.0) if total else 0.0
        out = []
        acc = 0.0
        for m, near, length, v in parts:  # nearest the stop bar first
            acc += m * scale
            k = int(acc + 0.5) - len(out)
            out += [(near + (i + 0.5) * length / k) / v for i in range(k)]
        return out


class ExactSensing:
    """Measurement only: the same stretches read from vehicle positions and speeds; with a
    `LookAhead`, the approach edges up to its reach and the vehicles bound for them upstream."""

    def __init__(self, layout: Layout, api, look_ahead: lookahead.LookAhead | None = None):
        self.layout = layout
        self.api = api
        self.detectors = DetectorSensing(layout, Fence(api))  # loops still drive the firmware
        self.look_ahead = look_ahead
        self._routes: dict[str, tuple[str, ...]] = {}

    def read(self, now_s: float) -> Reading:
        if self.look_ahead is not None:
            return self._read_far(now_s)
        base = self.detectors.read(now_s)
        veh, ln = self.api.vehicle, self.api.lane
        per_lane = {}
        for lane, s in self.layout.lanes.items():
            queue = number = 0
            arrivals = []
            ahead = 0.0  # length of the pieces between this piece and the stop bar
            for piece_lane, a, b in s.pieces:
                for v in ln.getLastStepVehicleIDs(piece_lane):
                    pos = veh.getLanePosition(v)
                    if pos < a:
                        continue
                    number += 1
                    speed = veh.getSpeed(v)
                    if speed < HALT_MPS:
                        queue += 1
                    else:
                        dist = ahead + (b - pos)
                        arrivals.append(dist / max(speed, 1.0))
                ahead += b - a
            entered = self.detectors._entered[lane]
            travel = s.covered_m / s.speed_mps
            room = s.covered_m / JAM_SPACING_M
            passed = self.detectors._passed[lane]
            view = GroupView(float(queue), float(number), arrivals, entered, travel, room, passed)
            per_lane[lane] = (False, False, view)
        exact = _by_group(self.layout, per_lane)
        return Reading(base.stop, base.advance, exact.groups)

    def _read_far(self, now_s: float) -> Reading:
        """The look-ahead's vehicles (`lookahead.vehicles`). Standing vehicles count as queue
        unless another light stands between them and the approach (then they are timed at the
        speed limit: the earliest they can come)."""
        base = self.detectors.read(now_s)
        counts = {lane: [0, 0, []] for lane in self.layout.lanes}  # queue, number, arrivals
        for lane, dist, speed, limit in lookahead.vehicles(
            self.look_ahead, self.layout, self.api, self._routes
        ):
            self._add(counts[lane], dist, speed, limit)
        per_lane = {}
        for lane, s in self.layout.lanes.items():
            queue, number, arrivals = counts[lane]
            view = GroupView(
                float(queue),
                float(number),
                arrivals,
                self.detectors._entered[lane],
                s.covered_m / s.speed_mps,
                s.covered_m / JAM_SPACING_M,
                self.detectors._passed[lane],
            )
            per_lane[lane] = (False, False, view)
        exact = _by_group(self.layout, per_lane)
        return Reading(base.stop, base.advance, exact.groups)

    @staticmethod
    def _add(acc, dist, speed, limit):
        acc[1] += 1
        if speed >= HALT_MPS:
            acc[2].append(dist / max(speed, 1.0))
        elif limit is None:
            acc[0] += 1
        else:  # waiting at another light
            acc[2].append(dist / limit)


def _by_group(layout, per_lane) -> Reading:
    stop, adv, groups = {}, {}, {}
    for g, lanes in layout.group_lanes.items():
        view = GroupView()
        s = a = False
        for lane in lanes:
            ls, la, lv = per_lane[lane]
            s = s or ls
            a = a or la
            view.queue += lv.queue
            view.vehicles += lv.vehicles
            view.arrivals_s.extend(lv.arrivals_s)
            view.entered += lv.entered
            view.passed += lv.passed
            view.sensed_s = lv.sensed_s if not view.sensed_s else min(view.sensed_s, lv.sensed_s)
            view.room += lv.room
        view.arrivals_s.sort()
        stop[g], adv[g], groups[g] = s, a, view
    return Reading(stop, adv, groups)
