"""The kernels the API calls to plan: one intersection (`_plan`: prepare, then schedule) or a
city batch in parallel (`_plan_batch`), with the batch's packing, sizing and decisions.
"""

import numpy as np
from numba import get_thread_id, njit, prange

from edge.optimizer.kernel_budget import _capacity, _n_states, _prepare, _split_rows
from edge.optimizer.kernel_dp import _schedule
from edge.optimizer.kernel_model import (
    _OPTS,
    _PARALLEL,
    ARR,
    CNT,
    DUR,
    INFO_ROLLOUT,
    INFO_ROWS,
    INFO_TAIL,
)


@njit(**_OPTS)
def _pack(lens, rows, ptr, out):
    """`clusters.pack_rows` for the batch: rows grouped lens[p] per phase go to `out` without
    those of 0 vehicles, each phase's sorted by arrival (stable: insertion, phases are short);
    ptr[p]:ptr[p + 1] indexes phase p. Returns the number of rows kept."""
    n = 0
    r = 0
    ptr[0] = 0
    for p in range(lens.size):
        for j in range(r, r + lens[p]):
            if rows[j, CNT] > 0.0:
                q = n
                while q > ptr[p] and out[q - 1, ARR] > rows[j, ARR]:
                    out[q, ARR], out[q, DUR], out[q, CNT] = (
                        out[q - 1, ARR],
                        out[q - 1, DUR],
                        out[q - 1, CNT],
                    )
                    q -= 1
                out[q, ARR], out[q, DUR], out[q, CNT] = rows[j, ARR], rows[j, DUR], rows[j, CNT]
                n += 1
        r += lens[p]
        ptr[p + 1] = n
    return n


@njit(**_OPTS)
def _split_batch(ph_ptr, in_ptr, in_off, cl, tim, fit_off):
    """`_split_rows` per intersection (laid out as for `_plan_batch`), summed into fit_off."""
    for m in range(ph_ptr.size - 1):
        p0, p1 = ph_ptr[m] + m, ph_ptr[m + 1] + m + 1
        fit_off[m + 1] = fit_off[m] + _split_rows(
            in_ptr[p0:p1], cl[in_off[m] : in_off[m + 1]], tim[ph_ptr[m] : ph_ptr[m + 1]]
        )


@njit(**_OPTS)
def _plan(
    cl_ptr,
    cl,
    tim,
    current,
    elapsed,
    horizon,
    max_work,
    fit_ptr,
    fit,
    dp_end,
    ws_cnt,
    ws_f,
    ws_g,
    ws_i,
    cap,
    g_ph,
    g_t,
    g_k,
    cl_t,
    info,
    rate,
    rate_from,
    ws_e,
    cyclic,
):
    """Prepare the clusters, then schedule them; the workspace grows here if too small.

    dp_end (per phase): where the phase's rows planned by the DP end (its tail starts). cap:
    the most Pareto entries per state (`_capacity` decides for the DP's size).

    info: delay, switch_at, pruned, states, fitted rows, vehicles in the greedy tail, 1.0 if the
    plan is a rollout (else 0.0). Returns the number of greens, or -1 if there is no plan.
    rate, rate_from (per phase): unseen demand (veh/s) and when it can first arrive (see
    `_schedule`); ws_e its workspace. cyclic: phases in cyclic order (see `_schedule`).
    """
    n = _prepare(
        cl_ptr, cl, tim, horizon, max_work, fit_ptr, fit, dp_end, info[INFO_TAIL:INFO_ROLLOUT]
    )
    info[INFO_ROWS] = n
    n_x = _n_states(fit_ptr, dp_end)
    cap = _capacity(n_x, cap)
    if ws_cnt.size < n_x or ws_f.shape[0] < n_x * cap:
        ws_cnt = np.empty(n_x, np.int64)
        ws_f = np.empty((n_x * cap, 2))
        ws_g = np.empty((n_x * cap, 2))
        ws_i = np.empty((n_x * cap, 3), np.int64)
    if rate.size and rate.max() > 0.0:
        n_ph = tim.shape[0]
        if ws_e.shape[0] < n_x * cap or ws_e.shape[1] < n_ph:
            ws_e = np.empty((n_x * cap, n_ph))
    return _schedule(
        fit_ptr,
        dp_end,
        fit,
        tim,
        current,
        elapsed,
        ws_cnt,
        ws_f,
        ws_g,
        ws_i,
        cap,
        g_ph,
        g_t,
        g_k,
        cl_t,
        info,
        rate,
        rate_from,
        horizon,
        ws_e,
        cyclic,
    )


@njit(**_PARALLEL)
def _plan_batch(
    ph_ptr,
    in_ptr,
    in_off,
    cl,
    tim,
    current,
    elapsed,
    horizon,
    max_work,
    cap,
    n_chunks,
    n_threads,
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
):
    """`_plan` for many intersections, chunks of them in parallel.

    Intersection m: phase rows ph_ptr[m]:ph_ptr[m + 1] of tim; its cluster pointers are
    in_ptr[ph_ptr[m] + m : ph_ptr[m + 1] + m + 1], relative to its rows in_off[m]:in_off[m + 1]
    of cl; fitted rows go to fit_off[m]:fit_off[m + 1] (pointers laid out like in_ptr), and
    greens to g_ph/g_t/g_k[fit_off[m] + m : fit_off[m + 1] + m + 1].
    Call it with Numba's parallel chunk size 1 (`set_parallel_chunksize`; a `with` block here
    would not cache): chunks are then handed out one at a time to whichever thread is free (a
    thread slowed by other work takes fewer). Each thread reuses one DP workspace: n_threads
    must be Numba's `get_num_threads()` for the call (inside, it would stop the caching).
    """
    n_int = ph_ptr.size - 1
    size = min(max_work, 4096)  # _plan grows its own if a DP needs more
    ws_cnt = np.empty((n_threads, size), np.int64)
    ws_f = np.empty((n_threads, size * cap, 2))
    ws_g = np.empty((n_threads, size * cap, 2))
    ws_i = np.empty((n_threads, size * cap, 3), np.int64)
    no_rate = np.zeros(tim.shape[0])  # unseen demand is not offered in batches
    ws_e = np.empty((n_threads, 1, 1))
    for ch in prange(n_chunks):
        t = get_thread_id()
        for m in range(ch * n_int // n_chunks, (ch + 1) * n_int // n_chunks):
            p0, p1 = ph_ptr[m] + m, ph_ptr[m + 1] + m + 1
            f0, f1 = fit_off[m], fit_off[m + 1]
            n_greens[m] = _plan(
                in_ptr[p0:p1],
                cl[in_off[m] : in_off[m + 1]],
                tim[ph_ptr[m] : ph_ptr[m + 1]],
                current[m],
                elapsed[m],
                horizon,
                max_work,
                fit_ptr[p0:p1],
                fit[f0:f1],
                dp_end[p0 : p1 - 1],
                ws_cnt[t],
                ws_f[t],
                ws_g[t],
                ws_i[t],
                cap,
                g_ph[f0 + m : f1 + m + 1],
                g_t[f0 + m : f1 + m + 1],
                g_k[f0 + m : f1 + m + 1],
                cl_t[f0:f1],
                info[m],
                no_rate[ph_ptr[m] : ph_ptr[m + 1]],
                no_rate[ph_ptr[m] : ph_ptr[m + 1]],
                ws_e[t],
                False,  # cyclic order is not offered in batches
            )


@njit(**_OPTS)
def _decisions(g_ph, g_t, g_off, n_greens, current, switch_at, step, dec_i, dec_t):
    """`results.decision_from` for every intersection of a batch (greens
    g_off[m]:g_off[m] + n_greens[m] of g_ph/g_t): dec_i[m] = (phase, switch, next phase),
    dec_t[m] = switch_in_s."""
    for m in range(n_greens.size):
        g0, n_g, cur, at = g_off[m], n_greens[m], current[m], switch_at[m]
        if cur < 0:
            nxt = g_ph[g0] if n_g > 0 else -1
        else:
            g = g0 + 1
            end = g0 + n_g
            while g < end and g_ph[g] == cur:
                at = g_t[g, 1]
                g += 1
            nxt = g_ph[g] if g < end else -1
        switch = nxt >= 0 and (at <= 0.0 or at < step)
        if cur >= 0 and nxt < 0:
            at = np.inf
        dec_i[m, 0], dec_i[m, 1], dec_i[m, 2] = nxt if switch else cur, switch, nxt
        dec_t[m] = at
