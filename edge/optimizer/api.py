"""Public optimizer API: validate inputs (`checks`), convert to arrays, call the kernel, and
build the result (`results`).

Kernels (and Numba) are imported on the first call, not at import time, so a gateway that
imports `edge.optimizer` pays nothing until it asks for a decision.
"""

import importlib
import math
import threading

import numpy as np

from edge.optimizer.checks import (
    float_vector,
    int_index,
    per_phase,
    phase_table,
    schedule_args,
    seconds,
    timing_array,
)
from edge.optimizer.clusters import ClusterTable, checked_rows
from edge.optimizer.results import WebsterPlan, schedule_from

DEFAULT_MAX_WORK = 8192  # DP budget (states x clusters): clusters are merged until it fits
DEFAULT_CAPACITY = 8  # Pareto entries kept per DP state, at most (fewer for big DPs)
_kernels = {}  # kernel module name -> the module, imported on first use
_local = threading.local()  # per-thread DP workspace, reused across calls


def _k(name):
    """Kernel module `name` (e.g. "kernel_plan"), imported on first use (Numba import + cache
    load happen here)."""
    mod = _kernels.get(name)
    if mod is None:
        mod = _kernels[name] = importlib.import_module("edge.optimizer." + name)
    return mod


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
    q = float_vector("queues", queues)
    if q.size == 0:
        raise ValueError("queues is empty: give one queue estimate per signal group")
    ptr, idx = phase_table(phase_groups, q.size)
    cur = int_index("current", current, -1, ptr.size - 1)
    if not (isinstance(min_switch_gain, int | float) and math.isfinite(min_switch_gain)):
        raise ValueError(f"min_switch_gain must be a finite number, got {min_switch_gain!r}")
    if min_switch_gain < 0:
        raise ValueError(f"min_switch_gain must be >= 0, got {min_switch_gain!r}")
    if downstream is None:
        down = np.zeros_like(q)
    else:
        down = float_vector("downstream", downstream)
        if down.size != q.size:
            raise ValueError(
                f"downstream has {down.size} entries but queues has {q.size}: one per signal group"
            )
    pressures = np.empty(ptr.size - 1, dtype=np.float64)
    return int(
        _k("kernel_simple")._max_pressure(q, down, ptr, idx, cur, float(min_switch_gain), pressures)
    )


# ---------------------------------------------------------------- Webster


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
    flows = float_vector("flows_vph", flows_vph)
    sat = float_vector("saturation_vph", saturation_vph)
    if flows.size == 0 or sat.size != flows.size:
        raise ValueError(
            f"flows_vph and saturation_vph need one value per signal group, got "
            f"{flows.size} and {sat.size}"
        )
    if not (sat > 0).all():
        i = int(np.flatnonzero(sat <= 0)[0])
        raise ValueError(f"saturation_vph[{i}] must be > 0, got {saturation_vph[i]!r}")
    ptr, idx = phase_table(phase_groups, flows.size)
    tim = timing_array(timing, ptr.size - 1)
    lo = seconds("cycle_min_s", cycle_min_s, positive=True)
    hi = seconds("cycle_max_s", cycle_max_s, positive=True)
    if lo > hi:
        raise ValueError(f"cycle_min_s {cycle_min_s!r} is above cycle_max_s {cycle_max_s!r}")
    ratios = np.empty(ptr.size - 1)
    greens = np.empty(ptr.size - 1)
    cycle = _k("kernel_simple")._webster(flows, sat, ptr, idx, tim, lo, hi, ratios, greens)
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


def _unseen(unseen_rate, unseen_from_s, n_phases, entries):
    """(rates, first arrivals, workspace) for the kernel: zeros and a dummy without unseen
    demand."""
    start = (
        np.zeros(n_phases)
        if unseen_from_s is None
        else per_phase("unseen_from_s", unseen_from_s, n_phases)
    )
    if unseen_rate is None:
        return np.zeros(n_phases), start, _NO_WORKSPACE
    rate = per_phase("unseen_rate", unseen_rate, n_phases)
    if not (rate > 0.0).any():
        return rate, start, _NO_WORKSPACE
    ws = getattr(_local, "ws_e", None)
    if ws is None or ws.shape[0] < entries or ws.shape[1] < n_phases:
        ws = np.empty((max(entries, 1024 * DEFAULT_CAPACITY), max(n_phases, 8)))
        _local.ws_e = ws
    return rate, start, ws


_NO_WORKSPACE = np.empty((1, 1))


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
    tim, cur, elapsed, horizon, step = schedule_args(
        table, timing, current, elapsed_s, horizon_s, max_work, step_s
    )
    bound = _k("kernel_budget")._split_rows(table.ptr, table.rows, tim)
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
    n_g = _k("kernel_plan")._plan(
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
    return schedule_from(n, fit_ptr, fit, dp_end, 0, n_g, g_ph, g_t, g_k, 0, cl_t, info, cur, step)
