"""Clusters: the schedule optimiser's view of demand, and how detector data becomes one.

A cluster is (arrival_s, duration_s, vehicles): that many vehicles reach the stop bar spread
evenly over [arrival_s, arrival_s + duration_s], times counted from now. A standing queue is a
cluster at 0 with duration 0. See docs/optimizer.md.
"""

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class ClusterTable:
    """Clusters grouped by phase: phase p owns rows[ptr[p]:ptr[p + 1]], sorted by arrival.

    rows is (n, 3) float64: arrival_s, duration_s, vehicles.
    """

    ptr: np.ndarray
    rows: np.ndarray

    @property
    def n_phases(self):
        return self.ptr.size - 1

    def phase(self, p):
        """The clusters of phase p as a list of (arrival_s, duration_s, vehicles)."""
        return [tuple(float(v) for v in r) for r in self.rows[self.ptr[p] : self.ptr[p + 1]]]


def cluster_table(per_phase):
    """Validate and sort clusters given per phase as sequences of (arrival_s, duration_s, vehicles).

    Clusters with 0 vehicles are dropped. Every problem is reported in one ValueError.
    """
    if isinstance(per_phase, ClusterTable):
        return per_phase
    return ClusterTable(*pack_rows(*checked_rows(per_phase)))


def pack_rows(lens, rows):
    """Rows grouped `lens[p]` per phase -> (ptr, rows): empty clusters dropped, each phase's
    rows sorted by arrival (stable), ptr[p]:ptr[p+1] indexing phase p."""
    phase = np.repeat(np.arange(len(lens)), lens)
    keep = rows[:, 2] > 0
    rows, phase = rows[keep], phase[keep]
    order = np.lexsort((rows[:, 0], phase))  # by phase, then arrival; stable
    ptr = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(np.bincount(phase, minlength=len(lens)), out=ptr[1:])
    return ptr, np.ascontiguousarray(rows[order])


def checked_rows(per_phase):
    """(clusters per phase, rows) as given, checked but neither sorted nor filtered."""
    if isinstance(per_phase, str | bytes) or not hasattr(per_phase, "__len__"):
        raise ValueError(f"clusters must be a sequence per phase, got {per_phase!r}")
    try:  # the fast path: one array for everything, checked at once
        lens = [len(c) for c in per_phase]
        flat = [row for c in per_phase for row in c]
        rows = np.array(flat, dtype=np.float64).reshape(len(flat), 3)
        ok = bool(np.isfinite(rows).all() and (rows >= 0).all())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        _raise_problems(per_phase)
    return lens, rows


def _raise_problems(per_phase):
    """The slow path: name every bad cluster."""
    problems = []
    for p, clusters in enumerate(per_phase):
        try:
            items = list(clusters)
        except TypeError:
            problems.append(f"clusters[{p}] must be a sequence of triples, got {clusters!r}")
            continue
        for j, c in enumerate(items):
            try:
                values = [float(v) for v in c]
                if len(values) != 3:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(
                    f"clusters[{p}][{j}] must be (arrival_s, duration_s, vehicles), got {c!r}"
                )
                continue
            for name, v in zip(("arrival_s", "duration_s", "vehicles"), values, strict=True):
                if not math.isfinite(v) or v < 0:
                    problems.append(f"clusters[{p}][{j}] {name} must be finite and >= 0, got {v!r}")
    raise ValueError("; ".join(problems) or f"clusters must be triples per phase: {per_phase!r}")


def phase_clusters(queue_veh=0.0, arrivals_s=(), *, sat_headway_s=2.0, gap_s=2.5):
    """Clusters of one phase from detector data.

    queue_veh: vehicles standing at the stop bar now (the gateway's queue estimate).
    arrivals_s: predicted stop-bar arrival of each approaching vehicle, seconds from now
        (advance-detector actuation time + travel time to the stop bar, or a neighbour's
        projected outflow). Vehicles closer than gap_s to the previous one join its cluster;
        a cluster lasts from its first arrival to its last plus one saturation headway.
    """
    if not (isinstance(queue_veh, int | float) and math.isfinite(queue_veh) and queue_veh >= 0):
        raise ValueError(f"queue_veh must be finite and >= 0, got {queue_veh!r}")
    if not (sat_headway_s > 0 and gap_s >= 0):
        raise ValueError(f"need sat_headway_s > 0 and gap_s >= 0, got {sat_headway_s!r}, {gap_s!r}")
    times = sorted(float(t) for t in arrivals_s)
    if times and not (times[0] >= 0 and math.isfinite(times[-1])):
        raise ValueError(f"arrivals_s must be finite and >= 0, got {list(arrivals_s)!r}")
    out = [(0.0, 0.0, float(queue_veh))] if queue_veh > 0 else []
    first = last = None
    count = 0
    for t in times:
        if first is not None and t - last > gap_s:
            out.append((first, last - first + sat_headway_s, float(count)))
            first, count = None, 0
        if first is None:
            first = t
        last = t
        count += 1
    if first is not None:
        out.append((first, last - first + sat_headway_s, float(count)))
    return out


def flow_cluster(flow_vph, start_s, end_s):
    """Expected arrivals at a steady flow (veh/h) over [start_s, end_s): demand beyond what the
    detectors can see, e.g. from the average flow of the last minutes."""
    if not (math.isfinite(flow_vph) and flow_vph >= 0):
        raise ValueError(f"flow_vph must be finite and >= 0, got {flow_vph!r}")
    if not (0 <= start_s <= end_s and math.isfinite(end_s)):
        raise ValueError(f"need 0 <= start_s <= end_s, got {start_s!r}, {end_s!r}")
    n = flow_vph * (end_s - start_s) / 3600.0
    return [(float(start_s), float(end_s - start_s), n)] if n > 0 else []


def projected_outflow(schedule, phase, *, travel_s, share=1.0, horizon_s=120.0):
    """Platoons a downstream neighbour will see from this intersection's plan.

    The vehicles of `phase` leave as the plan serves them; `share` of them head to the
    neighbour's approach, arriving travel_s later. Returns clusters for the neighbour's
    phase_clusters-style input, cut at horizon_s.
    """
    if not (travel_s >= 0 and 0 <= share <= 1):
        raise ValueError(f"need travel_s >= 0 and 0 <= share <= 1, got {travel_s!r}, {share!r}")
    table = schedule.clusters
    if isinstance(phase, bool) or not isinstance(phase, int) or not 0 <= phase < table.n_phases:
        raise ValueError(f"phase must be in 0..{table.n_phases - 1}, got {phase!r}")
    out = []
    for j in range(table.ptr[phase], table.ptr[phase + 1]):
        start = float(schedule.cluster_start_s[j]) + travel_s
        length = float(schedule.cluster_end_s[j] - schedule.cluster_start_s[j])
        n = float(table.rows[j, 2]) * share
        if start >= horizon_s or n <= 0:
            continue
        if start + length > horizon_s:  # keep the part inside the horizon
            n *= (horizon_s - start) / length
            length = horizon_s - start
        out.append((start, length, n))
    return out
