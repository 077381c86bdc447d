"""Random schedule-optimiser instances and a plan checker, shared by the optimizer tests."""

import numpy as np
from hypothesis import strategies as st

from edge.optimizer import kernel_budget, kernel_dp, phase_timing, reference_model

INF = float("inf")

TIMES = st.sampled_from([0.0, 0.0, 1.5, 4.0, 9.0, 15.0, 22.5, 31.0, 40.0])
GRID = {
    "time": TIMES,
    "duration": st.sampled_from([0.0, 1.0, 4.0, 10.0]),
    "vehicles": st.sampled_from([0.5, 1.0, 2.0, 3.0, 6.0]),
    "elapsed": st.sampled_from([0.0, 2.0, 10.0, 45.0]),
}
# Continuous draws: the grid above makes ties (equal arrivals, greens ending on an arrival)
# likely; these make them unlikely and reach the cases in between.
CONTINUOUS = {
    "time": st.one_of(st.just(0.0), st.floats(0.0, 45.0)),
    "duration": st.one_of(st.just(0.0), st.floats(0.0, 12.0)),
    "vehicles": st.floats(0.1, 6.0),
    "elapsed": st.floats(0.0, 50.0),
}


@st.composite
def instances(draw, max_phases=3, max_clusters=2, draws=GRID):
    """A small instance in the reference's layout; every cluster fits in one green.

    draws: strategies for cluster times, durations, vehicles and the elapsed green (GRID or
    CONTINUOUS).
    """
    n_ph = draw(st.integers(1, max_phases))
    cl_ptr, arr, dur, cnt = [0], [], [], []
    timing = [[] for _ in range(6)]
    for _ in range(n_ph):
        ming = draw(st.sampled_from([0.0, 4.0, 7.0]))
        maxg = ming + draw(st.sampled_from([6.0, 12.0, 30.0]))
        slt = draw(st.sampled_from([0.0, 2.0]))
        hw = draw(st.sampled_from([1.0, 2.0, 2.5]))
        row = [
            ming,
            maxg,
            draw(st.sampled_from([3.0, 4.0])),
            draw(st.sampled_from([0.0, 2.0])),
            slt,
            hw,
        ]
        for col, v in zip(timing, row, strict=True):
            col.append(v)
        rows = []
        for _ in range(draw(st.integers(0, max_clusters))):
            n = draw(draws["vehicles"])
            d = draw(draws["duration"])
            room = maxg - slt
            rows.append((draw(draws["time"]), min(d, room), min(n, room / hw)))
        rows.sort()
        for a, d, n in rows:
            arr.append(a)
            dur.append(d)
            cnt.append(n)
        cl_ptr.append(len(arr))
    current = draw(st.integers(-1, n_ph - 1))
    elapsed = draw(draws["elapsed"])
    return cl_ptr, arr, dur, cnt, timing, current, elapsed


def arrays(inst):
    """(cl_ptr, cl, tim) kernel arrays of an instance."""
    cl_ptr, arr, dur, cnt, timing = inst[:5]
    cl = np.array([arr, dur, cnt], dtype=np.float64).T.reshape(-1, 3).copy()
    return np.array(cl_ptr, np.int64), cl, np.array(timing, dtype=np.float64).T.copy()


def run_kernel(
    inst, capacity=8, dp_end=None, rates=None, horizon=INF, rates_from=None, cyclic=False
):
    """Run kernel_dp._schedule on an instance; returns a dict shaped like reference.schedule's.

    dp_end: per phase, where the rows the DP plans end (default: all rows; the rest are the
    greedy tail). rates, horizon, rates_from: unseen demand per phase (veh/s), the horizon it
    is charged up to and when it can first arrive (default 0). cyclic: phases in cyclic order."""
    cl_ptr, cl, tim = arrays(inst)
    current, elapsed = inst[5], inst[6]
    ends = cl_ptr[1:].copy() if dp_end is None else np.array(dp_end, np.int64)
    n_x = kernel_budget._n_states(cl_ptr, ends)
    n = cl.shape[0]
    ws = (
        np.empty(n_x, np.int64),
        np.empty((n_x * capacity, 2)),
        np.empty((n_x * capacity, 2)),
        np.empty((n_x * capacity, 3), np.int64),
    )
    g_ph, g_t, g_k = np.empty(n + 1, np.int64), np.empty((n + 1, 2)), np.empty(n + 1, np.int64)
    cl_t, info = np.zeros((n, 2)), np.zeros(7)
    n_ph = tim.shape[0]
    rate = np.zeros(n_ph) if rates is None else np.array(rates, np.float64)
    we = np.empty((n_x * capacity, n_ph))
    n_g = kernel_dp._schedule(
        cl_ptr,
        ends,
        cl,
        tim,
        current,
        elapsed,
        *ws,
        capacity,
        g_ph,
        g_t,
        g_k,
        cl_t,
        info,
        rate,
        np.zeros(n_ph) if rates_from is None else np.array(rates_from, np.float64),
        float(horizon),
        we,
        cyclic,
    )
    if n_g < 0:
        return None
    return {
        "delay": info[0],
        "greens": [
            (int(g_ph[g]), float(g_t[g, 0]), float(g_t[g, 1]), int(g_k[g])) for g in range(n_g)
        ],
        "starts": cl_t[:, 0].tolist(),
        "ends": cl_t[:, 1].tolist(),
        "switch_at": info[1],
        "pruned": int(info[2]),
        "rollout": bool(info[6]),
    }


def check_plan(inst, plan, tol=1e-9):
    """Assert a plan honours the model: clearances, min/max green, every cluster served once,
    and its delay equals the sum of its clusters' delays.

    The running green (current >= 0) serves its clusters within max green from its real start;
    it may rest past max green only until another phase's first arrival (its call: the
    controller rests in green while no other phase calls; when it already ran past max green
    and another phase has arrivals now, it must end now). A planned green is
    held to max green from its own start, by the end of its service (idle green before its
    first arrival counts too); the rest after its service before the next green is not bounded
    for planned greens (the model's rule, docs/optimizer.md).
    """
    cl_ptr, arr, dur, cnt, timing, current, elapsed = inst
    ming, maxg, yel, ared, slt, hw = timing
    greens = plan["greens"]
    served = [0] * len(ming)
    total = 0.0
    n = [cl_ptr[i + 1] - cl_ptr[i] for i in range(len(ming))]
    for g, (p, start, end, k) in enumerate(greens):
        if g + 1 < len(greens):
            assert abs(greens[g + 1][1] - (end + yel[p] + ared[p])) < tol, "clearance"
        if g > 0 and greens[g - 1][0] == p:  # re-serving p through its clearance
            waiting = [i for i in range(len(ming)) if i != p and served[i] < n[i]]
            assert not waiting, f"phase {p} follows itself while {waiting} wait"
        assert end - start >= ming[p] - tol, f"green {g} shorter than min green"
        first = cl_ptr[p] + served[p]
        if g == 0 and current >= 0:
            assert start == -elapsed and p == current, "the running green comes first"
            called = min(
                (arr[cl_ptr[i]] for i in range(len(ming)) if i != p and n[i] > 0), default=INF
            )
            # past max green it may rest only until another phase's first arrival (its call)
            assert end <= max(start + maxg[p], called, 0.0) + tol, "running green past max green"
        if k:
            fin = plan["ends"][first + k - 1]
            assert fin - start <= maxg[p] + tol, "served past max green"
            assert plan["starts"][first] >= start + slt[p] - tol, "served before start-up"
            assert fin <= end + tol, "served after the green ended"
        for j in range(first, first + k):
            assert plan["starts"][j] >= arr[j] - tol, "served before arriving"
            total += reference_model.cluster_delay(arr[j], dur[j], cnt[j], hw[p], plan["starts"][j])
        served[p] += k
    assert served == n, "not all served"
    assert abs(total - plan["delay"]) <= 1e-7 * max(1.0, total)


def api_timing(n=3, **kw):
    """A PhaseTiming of n phases for the API tests: min green 5, max green 40, yellow 3.5,
    all-red 1.5, unless `kw` says otherwise."""
    args = {
        "min_green_s": [5.0] * n,
        "max_green_s": [40.0] * n,
        "yellow_s": 3.5,
        "all_red_s": 1.5,
        **kw,
    }
    return phase_timing(**args)
