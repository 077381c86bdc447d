"""The DP's once-per-call parts, in Numba: what `_schedule` works out before its expansion
(each row's delay parts, the running green's entries) and the plan it reads out after it
(where the greedy tail starts, the greens and the clusters' service times).

Kept out of the expansion's function on purpose: they run once per call, not per transition.
"""

import numpy as np
from numba import njit

from edge.optimizer.kernel_model import (
    _OPTS,
    ALL_RED,
    ARR,
    CNT,
    DUR,
    HEADWAY,
    INFO_SWITCH_AT,
    MAX_G,
    MIN_G,
    STARTUP,
    YELLOW,
    _cluster_delay,
    _serve,
)
from edge.optimizer.kernel_tail import _finish


@njit(**_OPTS)
def _row_parts(cl_ptr, dp_end, cl, tim):
    """(pre, kmax, alp) over the DP's rows (phase p's rows cl_ptr[p]:dp_end[p]): the parts
    of each row's delay that do not depend on when it is served, and what one green can take
    from each row on (as below)."""
    n_ph = tim.shape[0]
    # Per row, the parts of its delay that do not depend on when it is served, computed as
    # `_cluster_delay` computes them (same operations, same order: the same bits): arrival,
    # arrival + duration, vehicles x headway, vehicles, n d / 2, n^2 h / 2, 2 (d - n h).
    pre = np.empty((cl_ptr[n_ph], 7))
    for i in range(n_ph):
        h = tim[i, HEADWAY]
        for j in range(cl_ptr[i], dp_end[i]):
            a, du, nv = cl[j, ARR], cl[j, DUR], cl[j, CNT]
            nh = nv * h
            pre[j, 0], pre[j, 1], pre[j, 2], pre[j, 3] = a, a + du, nh, nv
            pre[j, 4], pre[j, 5], pre[j, 6] = 0.5 * nv * du, 0.5 * nv * nv * h, 2.0 * (du - nh)
    # Per row s, as a green's first cluster: kmax[s], how many clusters one green can serve
    # from s (their service alone within max green), and alp[s, k - 1], when the block of k
    # could be through at the earliest; worked out once here, as the expansion did for each
    # entry (same operations, same order: the same bits).
    km = 1
    for i in range(n_ph):
        km = max(km, dp_end[i] - cl_ptr[i])
    kmax = np.zeros(cl_ptr[n_ph] + 1, np.int64)
    alp = np.empty((cl_ptr[n_ph] + 1, km))
    for i in range(n_ph):
        slt, maxg = tim[i, STARTUP], tim[i, MAX_G]
        for s in range(cl_ptr[i], dp_end[i]):
            alpha = -np.inf
            beta = slt
            for j in range(s, dp_end[i]):
                alpha = max(pre[j, 1], max(pre[j, 0], alpha) + pre[j, 2])
                beta += pre[j, 2]
                if beta > maxg:
                    break
                alp[s, j - s] = alpha
                kmax[s] = j - s + 1
    return pre, kmax, alp


@njit(**_OPTS)
def _running_green(cl_ptr, dp_end, cl, tim, current, elapsed):
    """(init, n_init, clear0): the running green's entries init[k] = (delay, earliest end,
    latest next green start) for k = 0..n_init - 1 DP clusters of `current` served before it
    ends, and its clearance (one entry (0, 0, inf) and 0 when no phase is green)."""
    n_ph = tim.shape[0]
    # The running green: entry k serves the first k clusters of `current` before it ends.
    n_c = dp_end[current] - cl_ptr[current] if current >= 0 else 0
    init = np.empty((n_c + 1, 3))  # delay, earliest end, latest next green start
    n_init = 1
    clear0 = 0.0
    init[0, 0], init[0, 1], init[0, 2] = 0.0, 0.0, np.inf
    if current >= 0:
        h, slt = tim[current, HEADWAY], tim[current, STARTUP]
        gs0 = -elapsed
        clear0 = tim[current, YELLOW] + tim[current, ALL_RED]
        deadline = gs0 + tim[current, MAX_G]
        # It may rest past max green until another phase's first arrival (its call): the
        # controller rests in green while no other phase has a call.
        called = np.inf
        for i in range(n_ph):
            if i != current and cl_ptr[i + 1] > cl_ptr[i]:
                called = min(called, cl[cl_ptr[i], ARR])
        prev = gs0 + slt
        dsum = 0.0
        n_init = 0
        for k in range(n_c + 1):
            if k > 0:
                j = cl_ptr[current] + k - 1
                b = max(cl[j, ARR], prev)
                fin = max(cl[j, ARR] + cl[j, DUR], b + cl[j, CNT] * h)
                dsum += _cluster_delay(cl[j, ARR], cl[j, DUR], cl[j, CNT], h, b)
                prev = fin
                if fin > deadline:
                    break
            served_end = prev if k > 0 else -np.inf  # serving nothing: no start-up to wait for
            end = max(max(served_end, gs0 + tim[current, MIN_G]), 0.0)
            init[k, 0], init[k, 1], init[k, 2] = dsum, end, max(deadline, called, end) + clear0
            n_init += 1
    return init, n_init, clear0


@njit(**_OPTS)
def _tail_start(
    cl_ptr, dp_end, current, init, clear0, best, cap, stride, wf, wi, we, unseen, fsv, fre
):
    """Where the tail starts from: the best entry's (`best`; < 0: the running green's entry
    -1 - best) clusters served per phase into fsv (and, with `unseen`, when each phase's last
    green ended into fre); returns its last phase, ready and limit."""
    n_ph = fsv.size
    if best < 0:
        fsv[:] = 0
        fre[:] = 0.0
        if current >= 0:
            fsv[current] = -1 - best
            fre[current] = init[-1 - best, 1]
        f_last, f_ready, f_limit = current, init[-1 - best, 1] + clear0, init[-1 - best, 2]
    else:
        x = best // cap
        for i in range(n_ph):
            fsv[i] = (x // stride[i]) % (dp_end[i] - cl_ptr[i] + 1)
            if unseen:
                fre[i] = we[best, i]
        f_last, f_ready, f_limit = wi[best, 1], wf[best, 1], np.inf
    return f_last, f_ready, f_limit


@njit(**_OPTS)
def _unwind(
    cl_ptr,
    cl,
    tim,
    current,
    elapsed,
    init,
    best,
    wg,
    wi,
    fsv,
    f_last,
    f_ready,
    f_limit,
    g_ph,
    g_t,
    g_k,
    cl_t,
    info,
    fre,
    hr,
    rate_from,
    horizon,
    unseen,
    cyclic,
):
    """Follow parents from the best entry, then the tail's greens from `fsv`, f_last, f_ready,
    f_limit (and, with `unseen`, fre: when each phase's last green ended); write greens and
    cluster service times."""
    n_blocks = 0
    ref = best
    while ref >= 0:
        n_blocks += 1
        ref = wi[ref, 0]
    k0 = -1 - ref
    n_g = n_blocks + (1 if current >= 0 else 0)
    ref = best
    for g in range(n_g - 1, n_g - 1 - n_blocks, -1):  # parents come newest first
        g_ph[g], g_k[g] = wi[ref, 1], wi[ref, 2]
        g_t[g, 0], g_t[g, 1] = wg[ref, 0], wg[ref, 1]
        ref = wi[ref, 0]
    if current >= 0:
        g_ph[0], g_t[0, 0], g_t[0, 1], g_k[0] = current, -elapsed, init[k0, 1], k0
    fnx = np.empty(tim.shape[0])
    _, n_tail = _finish(
        cl_ptr,
        cl,
        tim,
        fsv,
        fnx,
        f_last,
        f_ready,
        f_limit,
        g_ph,
        g_t,
        g_k,
        n_g,
        True,
        0.0,
        np.inf,
        fre,
        hr,
        rate_from,
        horizon,
        unseen,
        cyclic,
    )
    n_g += n_tail
    served = np.zeros(tim.shape[0], np.int64)
    for g in range(n_g):
        p = g_ph[g]
        if g + 1 < n_g:  # a green ends when the next one's clearance must start
            g_t[g, 1] = g_t[g + 1, 0] - tim[p, YELLOW] - tim[p, ALL_RED]
        first = cl_ptr[p] + served[p]
        _serve(
            cl,
            first,
            g_k[g],
            tim[p, HEADWAY],
            tim[p, STARTUP],
            g_t[g, 0],
            cl_t[:, 0],
            cl_t[:, 1],
            True,
        )
        served[p] += g_k[g]
    if current >= 0:
        info[INFO_SWITCH_AT] = g_t[0, 1] if n_g > 1 else np.inf
    else:
        info[INFO_SWITCH_AT] = g_t[0, 0] if n_g > 0 else np.inf
    return n_g
