"""Replan many intersections in one call: the city batch, parallel over intersections."""

import math
from itertools import chain

import numpy as np

from edge.optimizer import api
from edge.optimizer.checks import schedule_args
from edge.optimizer.clusters import ClusterTable, cluster_table
from edge.optimizer.results import Decision, Schedule
from edge.optimizer.timing import PhaseTiming

PER_CHUNK = 8  # intersections per parallel work item: small enough to balance the threads


def _tables(problems):
    """All problems' clusters as one phase-grouped table: (phase counts, global ptr, rows).

    The fast path reads every number into one array and checks it at once; if it refuses
    anything, every problem is checked on its own, so that the error names it.
    """
    per = [problem[0] for problem in problems]
    try:
        if any(isinstance(clusters, ClusterTable | str | bytes) for clusters in per):
            raise TypeError
        n_phases = list(map(len, per))
        phases = list(chain.from_iterable(per))
        lens = list(map(len, phases))
        triples = list(chain.from_iterable(phases))
        if triples and set(map(len, triples)) != {3}:
            raise ValueError
        rows = np.fromiter(chain.from_iterable(triples), np.float64, 3 * len(triples))
        rows = rows.reshape(-1, 3)
        fast = bool(np.isfinite(rows).all() and (rows >= 0).all())
    except (TypeError, ValueError):
        fast = False
    if not fast:
        tables = []
        for m, problem in enumerate(problems):
            try:
                tables.append(cluster_table(problem[0]))
            except ValueError as exc:
                raise ValueError(f"problems[{m}]: {exc}") from None
        n_phases = [t.n_phases for t in tables]
        lens = np.concatenate([np.diff(t.ptr) for t in tables])
        rows = np.concatenate([t.rows for t in tables]).reshape(-1, 3)
    lens = np.asarray(lens, np.int64)
    ptr = np.empty(lens.size + 1, np.int64)
    packed = np.empty_like(rows)
    # as clusters.pack_rows, without numpy's sort
    n = api._k("kernel_plan")._pack(lens, rows, ptr, packed)
    return np.array(n_phases, np.int64), ptr, packed[:n]


def _checked_args(problems, n_ph, horizon_s, max_work, step_s):
    """Per problem (timing arrays, current, elapsed), then horizon and step, checked as by
    `schedule`. The usual types are checked inline; anything else goes through the API's
    checks, which accept the same inputs and name what is wrong."""
    tims, curs, elapsed = [], [], []
    step = horizon = None
    for m, (problem, n) in enumerate(zip(problems, n_ph.tolist(), strict=True)):
        _, timing, cur, el = problem
        if (
            horizon is not None
            and isinstance(timing, PhaseTiming)
            and timing.array.shape[0] == n
            and type(cur) is int
            and -1 <= cur < n
            and type(el) in (float, int)
            and 0 <= el < math.inf
        ):
            tims.append(timing.array)
            curs.append(cur)
            elapsed.append(float(el))
            continue
        table = ClusterTable(np.zeros(n + 1, np.int64), np.empty((0, 3)))
        try:
            tim, cur, el, horizon, step = schedule_args(
                table, timing, cur, el, horizon_s, max_work, step_s
            )
        except ValueError as exc:
            raise ValueError(f"problems[{m}]: {exc}") from None
        tims.append(tim)
        curs.append(cur)
        elapsed.append(el)
    return tims, curs, elapsed, horizon, step


def schedule_batch(
    problems, *, horizon_s=120.0, max_work=api.DEFAULT_MAX_WORK, step_s=1.0, threads=None
):
    """`schedule` for many intersections at once; returns a list of Schedule, in order.

    problems: sequence of (clusters, timing, current, elapsed_s) tuples, as for `schedule`.
    Inputs are validated like `schedule`'s (a bad one is named by its index); the planning
    runs in parallel on `threads` of Numba's threads (default: all of them), in chunks of a few
    intersections that each thread takes as it becomes free.
    The returned schedules share the batch's arrays.
    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ValueError(f"threads must be an integer >= 1 or None, got {threads!r}")
    problems = list(problems)
    if not problems:
        return []
    for m, problem in enumerate(problems):
        if not (isinstance(problem, tuple | list) and len(problem) == 4):
            raise ValueError(f"problems[{m}] must be (clusters, timing, current, elapsed_s)")
    n_ph, gptr, rows = _tables(problems)
    n_int = len(problems)
    tims, curs, elapsed, horizon, step = _checked_args(problems, n_ph, horizon_s, max_work, step_s)
    ph_ptr = np.zeros(n_int + 1, np.int64)
    np.cumsum(n_ph, out=ph_ptr[1:])
    in_off = gptr[ph_ptr]
    # Per intersection: its phases' pointers relative to its first row, one extra entry each.
    owner = np.repeat(np.arange(n_int), n_ph + 1)
    in_ptr = gptr[np.arange(owner.size) - owner] - in_off[owner]
    tim = np.concatenate(tims)
    kernels = api._k("kernel_plan")
    fit_off = np.zeros(n_int + 1, np.int64)
    kernels._split_batch(ph_ptr, in_ptr, in_off, rows, tim, fit_off)
    total = int(fit_off[-1])
    fit_ptr = np.empty_like(in_ptr)
    dp_end = np.empty_like(in_ptr)  # laid out like fit_ptr, one entry unused per intersection
    fit = np.empty((total, 3))
    cl_t = np.zeros((total, 2))
    g_ph = np.empty(total + n_int, np.int64)
    g_t = np.empty((total + n_int, 2))
    g_k = np.empty(total + n_int, np.int64)
    info = np.zeros((n_int, 7))
    n_greens = np.empty(n_int, np.int64)
    from numba import get_num_threads, set_num_threads, set_parallel_chunksize  # loaded by now

    chunks = -(-n_int // PER_CHUNK)
    before = get_num_threads()
    # No more threads than chunks: every thread of a parallel region must reach its end, so an
    # idle one still costs its wake-up (milliseconds on a busy machine).
    set_num_threads(min(threads or before, before, chunks))
    chunksize = set_parallel_chunksize(1)  # dynamic: each chunk to the next free thread
    try:
        kernels._plan_batch(
            ph_ptr,
            in_ptr,
            in_off,
            rows,
            tim,
            np.array(curs, np.int64),
            np.array(elapsed),
            horizon,
            max_work,
            api.DEFAULT_CAPACITY,
            chunks,
            get_num_threads(),
            fit_ptr,
            fit_off,
            fit,
            dp_end,
            cl_t,
            g_ph,
            g_t,
            g_k,
            info,
            n_greens,
        )
    finally:
        set_parallel_chunksize(chunksize)
        set_num_threads(before)
    if (n_greens < 0).any():  # cannot happen for prepared input; a kernel bug if it does
        raise RuntimeError("the schedule optimiser found no plan serving every cluster")
    return _results(
        n_int,
        ph_ptr,
        fit_off,
        fit_ptr,
        fit,
        dp_end,
        cl_t,
        g_ph,
        g_t,
        g_k,
        info,
        n_greens,
        curs,
        step,
    )


def _results(
    n_int, ph_ptr, fit_off, fit_ptr, fit, dp_end, cl_t, g_ph, g_t, g_k, info, n_g, curs, step
):
    """One Schedule per intersection, as `results.schedule_from` builds it (the same values and
    types), over the batch's arrays: the decisions come from one kernel call, and every object
    is built without the frozen dataclasses' per-field `__init__`."""
    g_off = fit_off[:-1] + np.arange(n_int)
    dec_i = np.empty((n_int, 3), np.int64)
    dec_t = np.empty(n_int)
    cur = np.array(curs, np.int64)
    api._k("kernel_plan")._decisions(g_ph, g_t, g_off, n_g, cur, info[:, 1], step, dec_i, dec_t)
    switch = dec_i[:, 1].astype(bool).tolist()
    g_end = g_off + n_g
    new, schedule_cls, decision_cls, table_cls = object.__new__, Schedule, Decision, ClusterTable
    g_start_s, g_end_s, c_start_s, c_end_s = g_t[:, 0], g_t[:, 1], cl_t[:, 0], cl_t[:, 1]
    out = []
    append = out.append
    p0s = (ph_ptr + np.arange(n_int + 1)).tolist()
    f0s = fit_off.tolist()
    for m, (ph, nxt), sw, at, g0, g1, inf in zip(
        range(n_int),
        dec_i[:, ::2].tolist(),
        switch,
        dec_t.tolist(),
        g_off.tolist(),
        g_end.tolist(),
        info.tolist(),
        strict=True,
    ):
        p0, p1, f0 = p0s[m], p0s[m + 1], f0s[m]
        f1 = f0 + int(inf[4])  # the rows `_prepare` wrote
        decision = new(decision_cls)
        decision.__dict__.update(phase=ph, switch=sw, next_phase=nxt, switch_in_s=at)
        table = new(table_cls)
        table.__dict__.update(ptr=fit_ptr[p0:p1], rows=fit[f0:f1])
        result = new(schedule_cls)
        result.__dict__.update(  # every field of Schedule, as `results.schedule_from` gives it
            decision=decision,
            delay_veh_s=inf[0],
            green_phase=g_ph[g0:g1],
            green_start_s=g_start_s[g0:g1],
            green_end_s=g_end_s[g0:g1],
            green_clusters=g_k[g0:g1],
            clusters=table,
            cluster_start_s=c_start_s[f0:f1],
            cluster_end_s=c_end_s[f0:f1],
            states=int(inf[3]),
            pruned=int(inf[2]),
            tail_veh=inf[5],
            tail_from=dp_end[p0 : p1 - 1],
            rollout=inf[6] != 0.0,
        )
        append(result)
    return out
