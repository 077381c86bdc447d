"""The greedy tail, in Numba: serve every cluster the DP leaves by a simple rule.

The DP's completions, its rollouts and the tail of the chosen plan all come from `_finish`;
its plain-Python twin is `reference_tail.finish`.
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
    MAX_G,
    MIN_G,
    STARTUP,
    YELLOW,
    _cluster_delay,
)


@njit(**_OPTS)
def _finish(
    cl_ptr,
    cl,
    tim,
    served,
    nxa,
    last,
    ready,
    limit,
    g_ph,
    g_t,
    g_k,
    g0,
    write,
    base,
    bound,
    red,
    hr,
    t_from,
    horizon,
    unseen,
    cyclic,
):
    """Serve every cluster left after `served` (per phase; updated) greedily: next the phase
    whose next cluster arrives first (not `last` while another phase has clusters left; the
    lowest index on a tie), its green serving as many of its next clusters as fit in max green
    from `ready` (one if none does: then the green waits for it to bunch up). The first green
    must start by `limit`. Returns (delay, greens); delay is inf if there is no such plan, or
    as soon as base + delay reaches `bound` (delays only add up: the plan cannot beat it).
    With `write`, greens go to g_ph/g_t/g_k from index g0 (end: when served or min green).
    nxa (per phase): scratch for the arrival of each phase's next cluster (inf: none left).
    With `unseen`, each green adds its phase's red charge (hr x red^2, the red from red[p], when
    its last green ended or t_from[p] if later, to the green's start, both clipped at the
    horizon; red is updated)
    and lasts until that red's unseen queue (2 hr x red) is discharged, within max green.
    With `cyclic` (and a `last` phase), the next phase is, walking the phases in index order
    from last + 1, the first whose next cluster has arrived by `ready` (it calls), or if none
    does, the first-arriving of them (the first in that order on a tie): see
    reference_options.cyclic_next.
    """
    n_ph = tim.shape[0]
    delay = 0.0
    n_g = 0
    for i in range(n_ph):  # arrivals are finite: inf marks a phase with nothing left
        nxa[i] = cl[cl_ptr[i] + served[i], ARR] if served[i] < cl_ptr[i + 1] - cl_ptr[i] else np.inf
    while True:
        # The first-arriving phase other than `last` (lowest index on a tie); `last` itself
        # only if no other phase has clusters left.
        p = -1
        p_arr = np.inf
        if cyclic and last >= 0:
            for s in range(1, n_ph):
                q = last + s
                if q >= n_ph:
                    q -= n_ph
                a = nxa[q]
                if a <= ready:  # it calls: it may not be skipped
                    p = q
                    break
                if a < p_arr:
                    p, p_arr = q, a
        else:
            for i in range(n_ph):
                a = nxa[i]
                if a < p_arr and i != last:
                    p, p_arr = i, a
        if p < 0:
            if last < 0 or nxa[last] == np.inf:
                return delay, n_g
            p = last
        h, slt, maxg = tim[p, HEADWAY], tim[p, STARTUP], tim[p, MAX_G]
        first = cl_ptr[p] + served[p]
        a, du, nv = cl[first, ARR], cl[first, DUR], cl[first, CNT]
        alpha = max(a + du, a + nv * h)
        beta = slt + nv * h
        if beta > maxg:
            return np.inf, n_g
        k = 1
        if ready + maxg >= alpha:
            gs = ready
            for j in range(first + 1, cl_ptr[p + 1]):
                nh = cl[j, CNT] * h
                a2 = max(cl[j, ARR] + cl[j, DUR], max(cl[j, ARR], alpha) + nh)
                if beta + nh > maxg or ready + maxg < a2:
                    break
                alpha, beta, k = a2, beta + nh, k + 1
        else:
            gs = alpha - maxg
        if gs > limit:
            return np.inf, n_g
        d = 0.0  # `_serve`, written out: no array views made per green
        fin = gs + slt
        for j in range(first, first + k):
            b = max(cl[j, ARR], fin)
            fj = max(cl[j, ARR] + cl[j, DUR], b + cl[j, CNT] * h)
            d += _cluster_delay(cl[j, ARR], cl[j, DUR], cl[j, CNT], h, b)
            fin = fj
        delay += d
        if unseen:
            rr = max(min(gs, horizon) - min(max(red[p], t_from[p]), horizon), 0.0)
            delay += hr[p] * rr * rr
        if base + delay >= bound:
            return np.inf, n_g
        end = max(fin, gs + tim[p, MIN_G])
        if unseen:
            end = max(end, min(gs + slt + 2.0 * hr[p] * rr * h, gs + maxg))
            red[p] = end
        if write:
            g_ph[g0 + n_g], g_t[g0 + n_g, 0], g_t[g0 + n_g, 1], g_k[g0 + n_g] = p, gs, end, k
        n_g += 1
        served[p] += k
        nxa[p] = cl[first + k, ARR] if first + k < cl_ptr[p + 1] else np.inf
        last = p
        ready = end + tim[p, YELLOW] + tim[p, ALL_RED]
        limit = np.inf
