"""Replan many intersections in one call: the city batch, parallel over intersections."""

import numpy as np

from edge.optimizer import api
from edge.optimizer.clusters import ClusterTable, cluster_table, pack_rows


def _tables(problems):
    """All problems' clusters as one phase-grouped table: (phase counts, global ptr, rows).

    The fast path checks every row at once; any problem the fast path refuses is then checked
    on its own, so that the error names it.
    """
    lens = []
    n_phases = []
    flat = []
    fast = True
    for clusters, *_ in problems:
        if isinstance(clusters, ClusterTable):
            fast = False
            break
        n_phases.append(len(clusters))
        for c in clusters:
            lens.append(len(c))
            flat.extend(c)
    if fast:
        try:
            rows = np.array(flat, dtype=np.float64).reshape(len(flat), 3)
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
    ptr, rows = pack_rows(lens, rows)
    return np.array(n_phases, np.int64), ptr, rows


def schedule_batch(
    problems, *, horizon_s=120.0, max_work=api.DEFAULT_MAX_WORK, step_s=1.0, threads=None
):
    """`schedule` for many intersections at once; returns a list of Schedule, in order.

    problems: sequence of (clusters, timing, current, elapsed_s) tuples, as for `schedule`.
    Inputs are validated like `schedule`'s (a bad one is named by its index); the planning
    runs in parallel chunks on Numba's threads (`threads` chunks, default: all of them).
    The returned schedules share the batch's arrays.
    """
    problems = list(problems)
    if not problems:
        return []
    for m, problem in enumerate(problems):
        if not (isinstance(problem, tuple | list) and len(problem) == 4):
            raise ValueError(f"problems[{m}] must be (clusters, timing, current, elapsed_s)")
    n_ph, gptr, rows = _tables(problems)
    n_int = len(problems)
    ph_ptr = np.zeros(n_int + 1, np.int64)
    np.cumsum(n_ph, out=ph_ptr[1:])
    tims, curs, elapsed = [], [], []
    for m, (_, timing, current, el) in enumerate(problems):
        table = ClusterTable(gptr[ph_ptr[m] : ph_ptr[m + 1] + 1], rows)
        try:
            tim, cur, e, horizon, step = api._check_schedule_args(
                table, timing, current, el, horizon_s, max_work, step_s
            )
        except ValueError as exc:
            raise ValueError(f"problems[{m}]: {exc}") from None
        tims.append(tim)
        curs.append(cur)
        elapsed.append(e)
    in_off = gptr[ph_ptr]
    # Per intersection: its phases' pointers relative to its first row, one extra entry each.
    in_ptr = np.concatenate([gptr[ph_ptr[m] : ph_ptr[m + 1] + 1] - in_off[m] for m in range(n_int)])
    tim = np.concatenate(tims)
    kernels = api._k()
    bounds = [
        kernels._split_rows(
            in_ptr[ph_ptr[m] + m : ph_ptr[m + 1] + m + 1], rows[in_off[m] : in_off[m + 1]], tims[m]
        )
        for m in range(n_int)
    ]
    fit_off = np.zeros(n_int + 1, np.int64)
    np.cumsum(bounds, out=fit_off[1:])
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
    from numba import get_num_threads  # loaded by now, with the kernels

    chunks = min(n_int, 4 * (threads or get_num_threads()))  # 4 chunks a thread: balance
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
    out = []
    for m in range(n_int):
        p = slice(ph_ptr[m] + m, ph_ptr[m + 1] + m + 1)
        f = slice(fit_off[m], fit_off[m + 1])
        g = slice(fit_off[m] + m, fit_off[m + 1] + m + 1)
        out.append(
            api._result(
                int(info[m, 4]),
                fit_ptr[p],
                fit[f],
                dp_end[p][:-1],
                int(n_greens[m]),
                g_ph[g],
                g_t[g],
                g_k[g],
                cl_t[f],
                info[m],
                curs[m],
                step,
            )
        )
    return out
