"""Public optimizer API: validate inputs, convert to arrays, call the kernel.

Kernels (and Numba) are imported on the first call, not at import time, so a gateway that
imports `edge.optimizer` pays nothing until it asks for a decision.
"""

import math
import threading
from dataclasses import dataclass, fields

import numpy as np

from edge.optimizer.clusters import ClusterTable, checked_rows
from edge.optimizer.timing import PhaseTiming, as_vector

DEFAULT_MAX_WORK = 8192  # DP budget (states x clusters): clusters are merged until it fits
DEFAULT_CAPACITY = 8  # Pareto entries kept per DP state, at most (fewer for big DPs)
_kernels = None
_local = threading.local()  # per-thread DP workspace, reused across calls


def _k():
    """The kernels module, imported on first use (Numba import + cache load happen here)."""
    global _kernels
    if _kernels is None:
        from edge.optimizer import kernels

        _kernels = kernels
    return _kernels


def warm_up():
    """Load Numba and every kernel now (from the on-disk cache, or compile them).

    The first optimizer call otherwise pays this (about 0.4 s with a warm cache); a gateway can
    call this in a background thread at start-up. Returns the seconds it took.
    """
    import time

    from edge.optimizer.batch import schedule_batch
    from edge.optimizer.timing import phase_timing

    t0 = time.perf_counter()
    timing = phase_timing([5.0, 5.0], [30.0, 30.0], 3.0, 1.0)
    max_pressure([1.0, 0.0], [[0], [1]])
    webster([100.0, 100.0], [1800.0, 1800.0], [[0], [1]], timing)
    problem = ([[(0.0, 0.0, 2.0)], [(3.0, 2.0, 1.0)]], timing, 0, 1.0)
    schedule(*problem)
    schedule_batch([problem])
    return time.perf_counter() - t0


def _float_vector(name, values, *, allow_negative=False):
    arr = as_vector(name, values)
    bad = ~np.isfinite(arr) if allow_negative else ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "finite" if allow_negative else "finite and >= 0"
        raise ValueError(f"{name}[{i}] must be {what}, got {values[i]!r}")
    return arr


def _index(name, value, low, high):
    """An int in [low, high); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value < high:
        raise ValueError(f"{name} must be in {low}..{high - 1}, got {value!r}")
    return int(value)


def _phase_table(phase_groups, n_groups):
    """CSR form (ptr, idx) of phase -> signal groups; refuses empty phases and bad indices."""
    if isinstance(phase_groups, str | bytes) or not hasattr(phase_groups, "__len__"):
        raise ValueError(
            f"phase_groups must be a sequence of group-index sequences, got {phase_groups!r}"
        )
    if len(phase_groups) == 0:
        raise ValueError("phase_groups is empty: an intersection needs at least one phase")
    ptr = [0]
    idx = []
    for p, groups in enumerate(phase_groups):
        if isinstance(groups, str | bytes) or not hasattr(groups, "__len__"):
            raise ValueError(
                f"phase_groups[{p}] must be a sequence of group indices, got {groups!r}"
            )
        if len(groups) == 0:
            raise ValueError(f"phase_groups[{p}] has no signal groups: a phase must serve traffic")
        seen = set()
        for g in groups:
            gi = _index(f"phase_groups[{p}] entry", g, 0, n_groups)
            if gi in seen:
                raise ValueError(f"phase_groups[{p}] lists group {gi} twice: {groups!r}")
            seen.add(gi)
            idx.append(gi)
        ptr.append(len(idx))
    return np.array(ptr, dtype=np.int64), np.array(idx, dtype=np.int64)


def max_pressure(queues, phase_groups, current=-1, min_switch_gain=0.0, *, downstream=None):
    """Max-pressure (Varaiya) choice of the next phase for an isolated intersection.

    queues: queue estimate per signal group (vehicles, >= 0).
    phase_groups: per phase, the indices of the signal groups it serves.
    current: the phase now green, or -1 for none.
    min_switch_gain: the best phase must beat `current` by more than this (vehicles) to win;
        ties keep `current`, other ties go to the lowest phase index.
    downstream: optional per-group queue on the link each group discharges into; a phase's
        pressure is then sum(queues[g] - downstream[g]).
    Returns the phase index. Raises ValueError on bad input.
    """
    q = _float_vector("queues", queues)
    if q.size == 0:
        raise ValueError("queues is empty: give one queue estimate per signal group")
    ptr, idx = _phase_table(phase_groups, q.size)
    cur = _index("current", current, -1, ptr.size - 1)
    if not (isinstance(min_switch_gain, int | float) and math.isfinite(min_switch_gain)):
        raise ValueError(f"min_switch_gain must be a finite number, got {min_switch_gain!r}")
    if min_switch_gain < 0:
        raise ValueError(f"min_switch_gain must be >= 0, got {min_switch_gain!r}")
    if downstream is None:
        down = np.zeros_like(q)
    else:
        down = _float_vector("downstream", downstream)
        if down.size != q.size:
            raise ValueError(
                f"downstream has {down.size} entries but queues has {q.size}: one per signal group"
            )
    pressures = np.empty(ptr.size - 1, dtype=np.float64)
    return int(_k()._max_pressure(q, down, ptr, idx, cur, float(min_switch_gain), pressures))


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Decision:
    """What to do now.

    phase: the phase to be green until the next decision (current one, or next_phase when
        switching); switch: end the current green now (or start next_phase if none is green);
    next_phase: the phase the plan serves after the current green (-1 if none planned);
    switch_in_s: when the plan ends the current green (or starts the first one), from now.
    """

    phase: int
    switch: bool
    next_phase: int
    switch_in_s: float


@dataclass(frozen=True)
class Green:
    """One green of a plan: [start_s, end_s) from now, then its yellow and all-red."""

    phase: int
    start_s: float
    end_s: float
    clusters: int


@dataclass(frozen=True, eq=False)
class Schedule:
    """A schedule-driven plan: the decision, the greens, and how each cluster is served.

    green_* arrays describe the plan's greens in order (the `greens` property gives them as
    Green objects); the first is the running green when a phase is green now.
    clusters is the table actually planned (cut at the horizon, split and merged to the
    budget); cluster_start_s / cluster_end_s give each of its rows' service start and finish.
    states is the DP's size; pruned counts Pareto entries lost to the per-state capacity;
    tail_veh counts the vehicles of the clusters the DP's budget left to the greedy tail (the
    latest arrivals, served after the DP's greens by a simple rule); tail_from[p] is the row of
    `clusters` where phase p's tail starts (its end if it has none). The plan is optimal for
    `clusters` when pruned == 0 and tail_veh == 0. rollout: the plan is the DP's first one or two
    greens (after the running green's end) followed by the greedy rule, which beat every plan
    that serves all the DP's clusters first.
    """

    decision: Decision
    delay_veh_s: float
    green_phase: np.ndarray
    green_start_s: np.ndarray
    green_end_s: np.ndarray
    green_clusters: np.ndarray
    clusters: ClusterTable
    cluster_start_s: np.ndarray
    cluster_end_s: np.ndarray
    states: int
    pruned: int
    tail_veh: float
    tail_from: np.ndarray
    rollout: bool

    @property
    def greens(self):
        """The plan's greens as Green(phase, start_s, end_s, clusters), in order."""
        return tuple(
            Green(int(p), float(a), float(b), int(k))
            for p, a, b, k in zip(
                self.green_phase,
                self.green_start_s,
                self.green_end_s,
                self.green_clusters,
                strict=True,
            )
        )


@dataclass(frozen=True)
class WebsterPlan:
    """A fixed-time plan: cycle and displayed green per phase, phases in index order."""

    cycle_s: float
    green_s: tuple
    flow_ratio: tuple

    def decide(self, current, elapsed_s):
        """Extend `current` until its green time is used, then switch to the next phase."""
        n = len(self.green_s)
        cur = _index("current", current, -1, n)
        elapsed = _seconds("elapsed_s", elapsed_s)
        if cur < 0:
            return Decision(0, True, 0, 0.0)
        nxt = (cur + 1) % n
        left = max(self.green_s[cur] - elapsed, 0.0)
        if left > 0.0:
            return Decision(cur, False, nxt, left)
        return Decision(nxt, True, nxt, 0.0)


# ---------------------------------------------------------------- Webster


def _seconds(name, value, *, positive=False):
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (positive and value == 0):
        what = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {what}, got {value!r}")
    return float(value)


def _timing(timing, n_phases):
    if not isinstance(timing, PhaseTiming):
        raise ValueError(
            f"timing must be a PhaseTiming from phase_timing(...), got {type(timing).__name__}"
        )
    if timing.n_phases != n_phases:
        raise ValueError(f"timing has {timing.n_phases} phases but there are {n_phases}")
    return timing.array


def webster(
    flows_vph, saturation_vph, phase_groups, timing, *, cycle_min_s=30.0, cycle_max_s=120.0
):
    """Webster fixed-time plan from flows.

    flows_vph / saturation_vph: per signal group, arriving flow and saturation flow (veh/h).
    phase_groups: per phase, its signal groups; a phase's flow ratio is its largest group ratio.
    Cycle = (1.5 L + 5) / (1 - Y) within [cycle_min_s, cycle_max_s] (the maximum when Y >= 1),
    with L the lost time (start-up lost + yellow + all-red) and Y the sum of flow ratios; green
    is split by flow ratio (evenly at zero demand) and clamped to min/max green.
    """
    flows = _float_vector("flows_vph", flows_vph)
    sat = _float_vector("saturation_vph", saturation_vph)
    if flows.size == 0 or sat.size != flows.size:
        raise ValueError(
            f"flows_vph and saturation_vph need one value per signal group, got "
            f"{flows.size} and {sat.size}"
        )
    if not (sat > 0).all():
        i = int(np.flatnonzero(sat <= 0)[0])
        raise ValueError(f"saturation_vph[{i}] must be > 0, got {saturation_vph[i]!r}")
    ptr, idx = _phase_table(phase_groups, flows.size)
    tim = _timing(timing, ptr.size - 1)
    lo = _seconds("cycle_min_s", cycle_min_s, positive=True)
    hi = _seconds("cycle_max_s", cycle_max_s, positive=True)
    if lo > hi:
        raise ValueError(f"cycle_min_s {cycle_min_s!r} is above cycle_max_s {cycle_max_s!r}")
    ratios = np.empty(ptr.size - 1)
    greens = np.empty(ptr.size - 1)
    cycle = _k()._webster(flows, sat, ptr, idx, tim, lo, hi, ratios, greens)
    return WebsterPlan(float(cycle), tuple(greens.tolist()), tuple(ratios.tolist()))


# ---------------------------------------------------------------- schedule-driven


def _workspace(states, cap):
    """This thread's DP workspace, grown to `states` (the kernel grows its own if short)."""
    ws = getattr(_local, "ws", None)
    if ws is None or ws[0].size < states or ws[1].shape[0] < states * cap:
        states = max(states, 1024)
        ws = (
            np.empty(states, np.int64),
            np.empty((states * cap, 2)),
            np.empty((states * cap, 2)),
            np.empty((states * cap, 3), np.int64),
        )
        _local.ws = ws
    return ws


def _per_phase(name, values, n_phases):
    arr = _float_vector(name, values)
    if arr.size != n_phases:
        raise ValueError(
            f"{name} has {arr.size} entries but there are {n_phases} phases: "
            f"one value per phase, got {values!r}"
        )
    return arr


def _unseen(unseen_rate, unseen_from_s, n_phases, entries):
    """(rates, first arrivals, workspace) for the kernel: zeros and a dummy without unseen
    demand."""
    start = (
        np.zeros(n_phases)
        if unseen_from_s is None
        else _per_phase("unseen_from_s", unseen_from_s, n_phases)
    )
    if unseen_rate is None:
        return np.zeros(n_phases), start, _NO_WORKSPACE
    rate = _per_phase("unseen_rate", unseen_rate, n_phases)
    if not (rate > 0.0).any():
        return rate, start, _NO_WORKSPACE
    ws = getattr(_local, "ws_e", None)
    if ws is None or ws.shape[0] < entries or ws.shape[1] < n_phases:
        ws = np.empty((max(entries, 1024 * DEFAULT_CAPACITY), max(n_phases, 8)))
        _local.ws_e = ws
    return rate, start, ws


_NO_WORKSPACE = np.empty((1, 1))


def _check_schedule_args(table, timing, current, elapsed_s, horizon_s, max_work, step_s):
    tim = _timing(timing, table.n_phases)
    cur = _index("current", current, -1, table.n_phases)
    elapsed = _seconds("elapsed_s", elapsed_s)
    horizon = _seconds("horizon_s", horizon_s, positive=True)
    if isinstance(max_work, bool) or not isinstance(max_work, int) or max_work < 1:
        raise ValueError(f"max_work must be an integer >= 1, got {max_work!r}")
    return tim, cur, elapsed, horizon, _seconds("step_s", step_s)


def _frozen(cls, names, values):
    """cls(**dict(zip(names, values))) for a frozen dataclass, without its generated __init__
    (one object.__setattr__ per field): a city batch builds thousands of results."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


def _decision(g_ph, g_t, g0, n_g, current, switch_at, step):
    """The decision from the plan's greens g0:g0 + n_g of g_ph/g_t."""
    if current < 0:
        nxt = int(g_ph[g0]) if n_g > 0 else -1
        switch = nxt >= 0 and (switch_at <= 0.0 or switch_at < step)
        return Decision(nxt if switch else current, switch, nxt, switch_at)
    # The plan may end the running green and, after its clearance, give the same phase green
    # again; the firmware refuses a SWITCH to the phase already green, so that is one longer
    # green: hold, and announce the first other phase and when the last such green ends.
    g = g0 + 1
    end = g0 + n_g
    while g < end and g_ph[g] == current:
        switch_at = float(g_t[g, 1])
        g += 1
    nxt = int(g_ph[g]) if g < end else -1
    switch = nxt >= 0 and (switch_at <= 0.0 or switch_at < step)
    if nxt < 0:
        switch_at = math.inf
    return Decision(nxt if switch else current, switch, nxt, switch_at)


_SCHEDULE = tuple(f.name for f in fields(Schedule))


def _result(n, fit_ptr, fit, dp_end, f0, n_g, g_ph, g_t, g_k, g0, cl_t, info, current, step):
    """A Schedule over the kernel's outputs (fresh arrays of this call: no copies): rows
    f0:f0 + n of fit and cl_t, greens g0:g0 + n_g of g_ph, g_t, g_k."""
    if n_g < 0:  # cannot happen for prepared input; a kernel bug if it does
        raise RuntimeError("the schedule optimiser found no plan serving every cluster")
    g1, f1 = g0 + n_g, f0 + n
    values = (  # in the order of Schedule's fields
        _decision(g_ph, g_t, g0, n_g, current, float(info[1]), step),
        float(info[0]),
        g_ph[g0:g1],
        g_t[g0:g1, 0],
        g_t[g0:g1, 1],
        g_k[g0:g1],
        _frozen(ClusterTable, ("ptr", "rows"), (fit_ptr, fit[f0:f1])),
        cl_t[f0:f1, 0],
        cl_t[f0:f1, 1],
        int(info[3]),
        int(info[2]),
        float(info[5]),
        dp_end,
        bool(info[6]),
    )
    return _frozen(Schedule, _SCHEDULE, values)


def schedule(
    clusters,
    timing,
    current=-1,
    elapsed_s=0.0,
    *,
    horizon_s=120.0,
    max_work=DEFAULT_MAX_WORK,
    step_s=1.0,
    unseen_rate=None,
    unseen_from_s=None,
    cyclic=False,
):
    """Schedule-driven plan (SURTRAC-style rolling horizon) and the decision for now.

    clusters: per phase, (arrival_s, duration_s, vehicles) triples or a ClusterTable.
    timing: a PhaseTiming. current: the phase green now (-1: none, e.g. start-up all-red);
    elapsed_s: how long it has been green. Clusters are cut at horizon_s, split into parts of
    at most half a green, and merged (least green time first) until the DP's work (states x
    clusters) is at most max_work; if merging cannot get there, the latest arrivals are left to
    a greedy tail served after the greens the DP plans (every vehicle is planned), and plans
    of one or two DP greens completed by the same greedy rule (rollouts) compete too.
    The decision switches when the plan ends the current green within step_s (the replanning
    period). unseen_rate: optional per-phase arrival rate (veh/s, >= 0) of demand the clusters
    do not show; every red of a phase that a planned green ends is charged rate x red^2 / 2 in
    delay_veh_s, counting from unseen_from_s (per phase, s from now: when that demand can first
    arrive; default 0), and the green lasts until the red's unseen queue has left (None: no
    charge, the plan is as without it). cyclic: serve phases in cyclic (index) order: after
    phase p's green comes p + 1, p + 2, ... (wrapping round), skipping a phase with nothing to
    serve and one whose next vehicles have not arrived when its green could start; so no phase
    is served twice in a cycle while another calls (False: any order). See docs/optimizer.md
    for the model.
    """
    if isinstance(clusters, ClusterTable):
        table = clusters
    else:  # grouped by phase already; the kernel sorts and drops empty clusters
        lens, rows = checked_rows(clusters)
        ptr = np.zeros(len(lens) + 1, np.int64)
        np.cumsum(lens, out=ptr[1:])
        table = ClusterTable(ptr, rows)
    tim, cur, elapsed, horizon, step = _check_schedule_args(
        table, timing, current, elapsed_s, horizon_s, max_work, step_s
    )
    bound = _k()._split_rows(table.ptr, table.rows, tim)
    fit_ptr = np.empty(table.ptr.size, np.int64)
    fit = np.empty((bound, 3))
    dp_end = np.empty(table.n_phases, np.int64)
    g_ph = np.empty(bound + 1, np.int64)
    g_t = np.empty((bound + 1, 2))
    g_k = np.empty(bound + 1, np.int64)
    cl_t = np.zeros((bound, 2))
    info = np.zeros(7)
    ws = _workspace(1024, DEFAULT_CAPACITY)
    rate, start, ws_e = _unseen(unseen_rate, unseen_from_s, table.n_phases, ws[1].shape[0])
    if not isinstance(cyclic, bool | np.bool_):
        raise ValueError(f"cyclic must be True or False, got {cyclic!r}")
    n_g = _k()._plan(
        table.ptr,
        table.rows,
        tim,
        cur,
        elapsed,
        horizon,
        max_work,
        fit_ptr,
        fit,
        dp_end,
        *ws,
        DEFAULT_CAPACITY,
        g_ph,
        g_t,
        g_k,
        cl_t,
        info,
        rate,
        start,
        ws_e,
        bool(cyclic),
    )
    n = int(info[4])
    _workspace(int(info[3]), DEFAULT_CAPACITY)  # big enough next time
    return _result(n, fit_ptr, fit, dp_end, 0, n_g, g_ph, g_t, g_k, 0, cl_t, info, cur, step)
