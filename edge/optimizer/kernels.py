"""Numba kernels of the timing optimizer: private pure functions over arrays.

Every kernel writes into caller-allocated outputs and returns only scalars. The public,
validating API is `edge.optimizer.api`; the plain-Python twins, in the same arithmetic order,
are in `reference.py`. No fastmath anywhere: min/max green and clearance bounds are computed here.

Array layouts: `tim` is (phases, 6) with columns min green, max green, yellow, all-red,
start-up lost time, saturation headway (seconds, seconds per vehicle); `cl` is (clusters, 3)
with arrival, duration, vehicles, grouped by phase through `cl_ptr` (phase p owns rows
cl_ptr[p]:cl_ptr[p + 1], sorted by arrival).
"""

import numpy as np
from numba import get_thread_id, njit, prange

_OPTS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
_INLINE = {**_OPTS, "inline": "always"}  # small helpers, inlined where they are called
_PARALLEL = {**_OPTS, "parallel": True}

MIN_G, MAX_G, YELLOW, ALL_RED, STARTUP, HEADWAY = 0, 1, 2, 3, 4, 5
ARR, DUR, CNT = 0, 1, 2
INFO_DELAY, INFO_SWITCH_AT, INFO_PRUNED, INFO_STATES, INFO_ROWS, INFO_TAIL, INFO_ROLLOUT = range(7)
SPLIT = 2  # long clusters are cut into parts of at most 1/SPLIT of a green, for re-merging
# Pareto entries per DP state: up to the caller's capacity while states x capacity stays within
# ENTRY_SLOTS, never below MIN_CAPACITY (big DPs: fewer entries per state, 4x faster at 2 than
# at 8 for about the same plans; see docs/optimizer.md).
ENTRY_SLOTS = 1024
MIN_CAPACITY = 2


# ---------------------------------------------------------------- max-pressure (Varaiya)


@njit(**_OPTS)
def _max_pressure(queues, downstream, phase_ptr, phase_idx, current, min_gain, pressures):
    """Fill `pressures` per phase; return the chosen phase (keeps `current` unless beaten)."""
    n_phases = phase_ptr.size - 1
    for p in range(n_phases):
        acc = 0.0
        for k in range(phase_ptr[p], phase_ptr[p + 1]):
            g = phase_idx[k]
            acc += queues[g] - downstream[g]
        pressures[p] = acc
    best = 0
    for p in range(1, n_phases):
        if pressures[p] > pressures[best]:
            best = p
    if current >= 0 and pressures[best] - pressures[current] <= min_gain:
        return current
    return best


# ---------------------------------------------------------------- Webster fixed time


@njit(**_OPTS)
def _webster(flows, saturation, phase_ptr, phase_idx, tim, cycle_min, cycle_max, ratios, greens):
    """Fill flow ratios and displayed greens per phase; return the resulting cycle (s)."""
    n = phase_ptr.size - 1
    y_sum = 0.0
    lost_sum = 0.0
    for p in range(n):
        y = 0.0
        for k in range(phase_ptr[p], phase_ptr[p + 1]):
            g = phase_idx[k]
            y = max(y, flows[g] / saturation[g])
        ratios[p] = y
        y_sum += y
        lost_sum += tim[p, STARTUP] + tim[p, YELLOW] + tim[p, ALL_RED]
    if y_sum >= 1.0:
        cycle = cycle_max
    else:
        cycle = min(max((1.5 * lost_sum + 5.0) / (1.0 - y_sum), cycle_min), cycle_max)
    effective = max(cycle - lost_sum, 0.0)
    for p in range(n):
        share = ratios[p] / y_sum if y_sum > 0.0 else 1.0 / n
        green = effective * share + tim[p, STARTUP]
        greens[p] = min(max(green, tim[p, MIN_G]), tim[p, MAX_G])
    actual = 0.0
    for p in range(n):
        actual += greens[p] + tim[p, YELLOW] + tim[p, ALL_RED]
    return actual


# ---------------------------------------------------------------- schedule-driven: the model


@njit(**_INLINE)
def _cluster_delay(arr, dur, n, h, b):
    """Area between uniform arrivals over [arr, arr+dur] and discharge at 1/h from b >= arr."""
    # Both cases, then the one that holds (no branch: which one is hard to predict; the
    # second's division by 0 when dur == n h gives inf or nan, and then the first holds).
    t1 = max(n * (b - arr) - 0.5 * n * dur + 0.5 * n * n * h, 0.0)
    t2 = n * (b - arr) * (b - arr) / (2.0 * (dur - n * h))
    return t1 if b + n * h >= arr + dur else t2


@njit(**_INLINE)
def _serve(cl, first, k, h, slt, gs, starts, ends, write):
    """Serve rows first..first+k-1 in a green starting at gs; return (delay, finish)."""
    prev = gs + slt
    delay = 0.0
    for j in range(first, first + k):
        b = max(cl[j, ARR], prev)
        fin = max(cl[j, ARR] + cl[j, DUR], b + cl[j, CNT] * h)
        delay += _cluster_delay(cl[j, ARR], cl[j, DUR], cl[j, CNT], h, b)
        if write:
            starts[j] = b
            ends[j] = fin
        prev = fin
    return delay, prev


# ---------------------------------------------------------------- schedule-driven: the DP
# A state is x, the number of clusters served per phase in mixed radix. Its entries are Pareto
# on (delay so far, earliest start of the next green) among entries whose last green is of the
# same phase (a phase may not follow itself while another waits: that would sidestep max
# green): the future depends on nothing else, so keeping only non-dominated entries is exact.
# Hot columns wf: delay, ready; cold wg: green start, green end; wi: parent entry (-1 - k for
# the running green serving k), phase, clusters.
# The expansion and the insertion are written out inside `_schedule` on purpose: helpers that
# take arrays, even inlined, cost reference-count traffic on every transition (2x slower).


@njit(**_OPTS)
def _n_states(cl_ptr, dp_end):
    """Number of 'DP clusters served per phase' vectors: prod(n_p + 1), where phase p's DP
    clusters are rows cl_ptr[p]:dp_end[p] (the rest of its rows are the greedy tail)."""
    n_x = 1
    for i in range(cl_ptr.size - 1):
        n_x *= dp_end[i] - cl_ptr[i] + 1
    return n_x


@njit(**_OPTS)
def _work(cl_ptr, dp_end):
    """The DP's work measure: states x DP clusters (about twice the transitions it tries)."""
    n = 0
    for i in range(cl_ptr.size - 1):
        n += dp_end[i] - cl_ptr[i]
    return _n_states(cl_ptr, dp_end) * max(n, 1)


@njit(**_OPTS)
def _capacity(n_x, cap):
    """Pareto entries kept per state for a DP of n_x states, at most cap."""
    return min(cap, max(MIN_CAPACITY, ENTRY_SLOTS // n_x))


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
    reference.cyclic_next.
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


@njit(**_OPTS)
def _schedule(
    cl_ptr,
    dp_end,
    cl,
    tim,
    current,
    elapsed,
    cnt,
    wf,
    wg,
    wi,
    cap,
    g_ph,
    g_t,
    g_k,
    cl_t,
    info,
    rate,
    rate_from,
    horizon,
    we,
    cyclic,
):
    """Rolling-horizon schedule: least total delay serving every cluster.

    Phase p's rows cl_ptr[p]:dp_end[p] are planned by the DP; its later rows (the tail, if
    any) by `_finish`, from every DP entry that can take no further DP green (all its DP
    clusters served, or stuck), and from the running green's entries and those one or two
    greens after them (a rollout); the plan with the least total is kept.
    Workspace: cnt (>= states), wf, wg (>= states * cap, 2), wi (same, 3), where cap bounds
    the Pareto entries kept per state. Outputs: g_ph/g_k (per green: phase, clusters served),
    g_t (per green: start, end), cl_t (per cluster: service start, finish), info (delay,
    switch_at, pruned, states). Returns the number of greens, or -1 if there is no plan.
    rate (per phase): unseen demand, veh/s, charged rate x red^2 / 2 for every red that a
    planned green ends (from rate_from[p] at the earliest, clipped at the horizon), the green
    lasting until that red's unseen queue has left; when any is > 0, we (>= states * cap,
    phases) holds per entry when each phase's last green ended (carried along, not part of
    the dominance: see reference.schedule).
    cyclic: phases in cyclic (index) order (reference.cyclic_next): after a green of phase p,
    only phases from p + 1 on up to the first that calls when the next green could start
    (skipping those with nothing left); an entry is then beaten only by entries ending on its
    own phase.
    """
    n_ph = tim.shape[0]
    unseen = False
    hr = np.empty(n_ph)  # half rates
    for i in range(n_ph):
        hr[i] = 0.5 * rate[i]
        unseen |= rate[i] > 0.0
    se = np.zeros(n_ph)  # the source entry's "last green ended" per phase
    fre = np.empty(n_ph)  # its copy for `_finish`
    stride = np.empty(n_ph, np.int64)
    n_x = 1
    for i in range(n_ph):
        stride[i] = n_x
        n_x *= dp_end[i] - cl_ptr[i] + 1
    cnt[:n_x] = 0
    fsv = np.empty(n_ph, np.int64)  # scratch for `_finish`: clusters served per phase,
    fnx = np.empty(n_ph)  # and each phase's next arrival
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
    digits = np.zeros(n_ph, np.int64)
    okc = np.ones(n_ph, np.bool_)  # with `cyclic`: the phases the entry's next green may be
    pair = not cyclic  # two entries ending on two other phases beat one (not in cyclic order)
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
    pruned = 0
    best_d = np.inf  # the best plan completed where the DP could go no further
    best = 0
    found = False
    roll_d = np.inf  # the best rollout plan
    roll = 0
    # Expand the running green's entries first, then every state's in index order: a green
    # only adds clusters, so every entry is final before it is expanded.
    for src in range(-1, n_x):
        n_src = n_init if src < 0 else cnt[src]
        if src == 0:
            digits[:] = 0
        left = 0  # phases with clusters waiting (per state; the running green's vary)
        for i in range(n_ph):
            if digits[i] < cl_ptr[i + 1] - cl_ptr[i]:
                left += 1
        for e_src in range(n_src):
            if src < 0:
                if current >= 0:
                    digits[current] = e_src
                    left = 0
                    for i in range(n_ph):
                        if digits[i] < cl_ptr[i + 1] - cl_ptr[i]:
                            left += 1
                x = e_src * stride[current] if current >= 0 else 0
                d, ready, limit, parent = (
                    init[e_src, 0],
                    init[e_src, 1] + clear0,
                    init[e_src, 2],
                    -1 - e_src,
                )
                last = current
                if unseen and current >= 0:
                    se[current] = init[e_src, 1]
            else:
                x = src
                parent = src * cap + e_src
                d, ready, limit = wf[parent, 0], wf[parent, 1], np.inf
                last = wi[parent, 1]
                if unseen:
                    for q in range(n_ph):
                        se[q] = we[parent, q]
            if cyclic and last >= 0:  # reference.cyclic_next
                okc[:] = False
                for s in range(1, n_ph):
                    q = last + s
                    if q >= n_ph:
                        q -= n_ph
                    if digits[q] < cl_ptr[q + 1] - cl_ptr[q]:
                        okc[q] = True
                        if cl[cl_ptr[q] + digits[q], ARR] <= ready:
                            break
                if left <= 1:
                    okc[last] = True
            elif cyclic:
                okc[:] = True
            moves = 0  # DP greens this entry can take
            for i in range(n_ph):  # every next green: phase i serving its next k clusters
                first = cl_ptr[i] + digits[i]
                rem = dp_end[i] - first
                if rem == 0 or (i == last and left > 1) or (cyclic and not okc[i]):
                    continue  # a phase follows itself only when nothing else waits
                slt, maxg, ming = tim[i, STARTUP], tim[i, MAX_G], tim[i, MIN_G]
                yellow, all_red, step_i = tim[i, YELLOW], tim[i, ALL_RED], stride[i]
                prev = ready + slt  # the service chain if the green starts at `ready`
                dsum = 0.0
                for k in range(1, kmax[first] + 1):
                    j = first + k - 1
                    a, ad, nh, nv = pre[j, 0], pre[j, 1], pre[j, 2], pre[j, 3]
                    alpha = alp[first, k - 1]
                    b = max(a, prev)
                    fin = max(ad, b + nh)
                    # `_cluster_delay` with the parts above: both cases, then the one that
                    # holds (no branch: which one holds is hard to predict).
                    t1 = max(nv * (b - a) - pre[j, 4] + pre[j, 5], 0.0)
                    t2 = nv * (b - a) * (b - a) / pre[j, 6]
                    dsum += t1 if b + nh >= ad else t2
                    prev = fin
                    if ready + maxg >= alpha:
                        gs, dblk, fblk = ready, dsum, prev
                    else:
                        # Waiting lets the block arrive and bunch up, so it fits in max green.
                        gs = alpha - maxg
                        if gs > limit:
                            break
                        dblk = 0.0
                        fblk = gs + slt
                        for jj in range(first, first + k):  # `_cluster_delay` as above
                            aa, nn = pre[jj, 0], pre[jj, 2]
                            bb = max(aa, fblk)
                            if bb + nn >= pre[jj, 1]:
                                dblk += max(pre[jj, 3] * (bb - aa) - pre[jj, 4] + pre[jj, 5], 0.0)
                            else:
                                dblk += pre[jj, 3] * (bb - aa) * (bb - aa) / pre[jj, 6]
                            fblk = max(pre[jj, 1], bb + nn)
                    if gs > limit:
                        break
                    moves += 1
                    end = max(fblk, gs + ming)
                    if unseen:  # the unseen queue of phase i's red: its discharge, its delay
                        rr = max(min(gs, horizon) - min(max(se[i], rate_from[i]), horizon), 0.0)
                        end = max(end, min(gs + slt + rate[i] * rr * tim[i, HEADWAY], gs + maxg))
                    nxt = end + yellow + all_red
                    # Pareto-insert (d + dblk, nxt) into the target state.
                    tx = x + k * step_i
                    nd = d + dblk
                    if unseen:
                        nd += hr[i] * rr * rr
                    base = tx * cap
                    m = cnt[tx]
                    w = base
                    if m == 0:  # the state's first entry
                        cnt[tx] = 1
                    elif m <= 2 and cap <= 2:  # the big DPs' case, written out (same result)
                        ed0, er0, same0 = wf[base, 0], wf[base, 1], wi[base, 1] == i
                        le0 = (ed0 <= nd) & (er0 <= nxt)
                        beats0 = same0 & (nd <= ed0) & (nxt <= er0)
                        if m == 1:
                            if le0 & same0:
                                continue
                            if not beats0:
                                w = base + 1
                                if cap < 2:  # full: keep the lower delay
                                    pruned += 1
                                    if not nd < ed0:
                                        continue
                                    w = base
                                else:
                                    cnt[tx] = 2
                        else:
                            e1 = base + 1
                            ed1, er1, ep1 = wf[e1, 0], wf[e1, 1], wi[e1, 1]
                            same1 = ep1 == i
                            le1 = (ed1 <= nd) & (er1 <= nxt)
                            other0 = le0 & (not same0) & (wi[base, 1] != ep1) & pair
                            if (le0 & same0) | (le1 & (same1 | other0)):
                                continue
                            beats1 = same1 & (nd <= ed1) & (nxt <= er1)
                            if beats0:
                                if beats1:
                                    cnt[tx] = 1
                                else:  # keep entry 1, as entry 0
                                    wf[base, 0], wf[base, 1] = ed1, er1
                                    wg[base, 0], wg[base, 1] = wg[e1, 0], wg[e1, 1]
                                    wi[base, 0], wi[base, 1], wi[base, 2] = (
                                        wi[e1, 0],
                                        wi[e1, 1],
                                        wi[e1, 2],
                                    )
                                    if unseen:
                                        for q in range(n_ph):
                                            we[base, q] = we[e1, q]
                                    w = e1
                            elif beats1:
                                w = e1
                            else:  # full: replace the first of the higher delays if above
                                pruned += 1
                                w = e1 if ed1 > ed0 else base
                                if not nd < wf[w, 0]:
                                    continue
                    else:
                        dominated = False
                        beats = False  # the new entry beats one ending on phase i
                        other = -1  # beaten by an entry ending on phase i, or two on others
                        worst, worst_d = base, -np.inf  # the first of the highest delays
                        # Without branches (bitwise & and |): the outcomes are unpredictable.
                        for e in range(base, base + m):
                            ed, er, ep = wf[e, 0], wf[e, 1], wi[e, 1]
                            le = (ed <= nd) & (er <= nxt)
                            same = ep == i
                            dominated |= le & (same | ((other >= 0) & (other != ep) & pair))
                            other = ep if le & (not same) & (other < 0) else other
                            beats |= (nd <= ed) & (nxt <= er) & same
                            worst = e if ed > worst_d else worst
                            worst_d = max(worst_d, ed)
                        if dominated:
                            continue
                        w = base + m
                        if beats:  # drop the entries it beats
                            w = base
                            for e in range(base, base + m):
                                if not (wi[e, 1] == i and nd <= wf[e, 0] and nxt <= wf[e, 1]):
                                    if w != e:
                                        wf[w, 0], wf[w, 1] = wf[e, 0], wf[e, 1]
                                        wg[w, 0], wg[w, 1] = wg[e, 0], wg[e, 1]
                                        wi[w, 0], wi[w, 1], wi[w, 2] = wi[e, 0], wi[e, 1], wi[e, 2]
                                        if unseen:
                                            for q in range(n_ph):
                                                we[w, q] = we[e, q]
                                    w += 1
                        if w - base < cap:
                            cnt[tx] = w - base + 1
                        else:  # full (nothing dropped: `worst` holds): keep the lower delays
                            cnt[tx] = cap
                            pruned += 1
                            if not nd < wf[worst, 0]:
                                continue
                            w = worst
                    wf[w, 0], wf[w, 1], wg[w, 0], wg[w, 1] = nd, nxt, gs, end
                    wi[w, 0], wi[w, 1], wi[w, 2] = parent, i, k
                    if unseen:
                        for q in range(n_ph):
                            we[w, q] = se[q]
                        we[w, i] = end
            # Complete the plan greedily from every entry that can take no further DP green
            # (all its DP clusters served, or stuck), and, as a rollout, from the running
            # green's entries and those one or two greens after them: the greedy rest may beat
            # serving every DP cluster before the tail. A rollout wins only if strictly better.
            if moves == 0 or src < 0 or wi[parent, 0] < 0 or wi[wi[parent, 0], 0] < 0:
                for q in range(n_ph):
                    fsv[q] = digits[q]
                    fre[q] = se[q]
                # Only a plan below the best of its kind so far can count; a rollout wins only
                # if below every complete plan, a complete plan only if not above the best
                # rollout: stop at that bound (exact: delays only add up).
                done_d = best_d if found else np.inf
                if moves > 0:
                    bound = min(roll_d, done_d)
                else:
                    bound = min(done_d, np.nextafter(roll_d, np.inf))
                fd, _ = _finish(
                    cl_ptr,
                    cl,
                    tim,
                    fsv,
                    fnx,
                    last,
                    ready,
                    limit,
                    g_ph,
                    g_t,
                    g_k,
                    0,
                    False,
                    d,
                    bound,
                    fre,
                    hr,
                    rate_from,
                    horizon,
                    unseen,
                    cyclic,
                )
                if moves == 0:
                    if not found or d + fd < best_d:
                        best_d, best, found = d + fd, parent, True
                elif d + fd < roll_d:
                    roll_d, roll = d + fd, parent
        if src >= 0:
            i = 0  # next mixed-radix `digits`
            while i < n_ph:
                digits[i] += 1
                if digits[i] <= dp_end[i] - cl_ptr[i]:
                    break
                digits[i] = 0
                i += 1
    info[INFO_PRUNED] = pruned
    info[INFO_STATES] = n_x
    info[INFO_ROLLOUT] = 0.0
    if roll_d < best_d:
        best_d, best, found = roll_d, roll, True
        info[INFO_ROLLOUT] = 1.0
    if not found or best_d == np.inf:
        return -1
    info[INFO_DELAY] = best_d
    # Where the tail starts from: the best entry's served clusters, last phase, ready, limit.
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
    return _unwind(
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
    )


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


# ---------------------------------------------------------------- preparation and batches


@njit(**_INLINE)
def _remove_row(out_ptr, out, n, j):
    """Delete row j of a phase-grouped table; returns the new row count."""
    for r in range(j, n - 1):
        out[r, ARR], out[r, DUR], out[r, CNT] = out[r + 1, ARR], out[r + 1, DUR], out[r + 1, CNT]
    for i in range(out_ptr.size - 1):
        if out_ptr[i + 1] > j:
            out_ptr[i + 1] -= 1
    return n - 1


@njit(**_OPTS)
def _pair_need(out, j, h, room):
    """Green time rows j and j + 1 (same phase) need as one cluster; inf if over `room`."""
    end = max(out[j, ARR] + out[j, DUR], out[j + 1, ARR] + out[j + 1, DUR])
    need = max(end - out[j, ARR], (out[j, CNT] + out[j + 1, CNT]) * h)
    return need if need <= room else np.inf


@njit(**_OPTS)
def _split_rows(cl_ptr, cl, tim):
    """Rows `_prepare` may write: each cluster split into parts of 1/SPLIT green."""
    n = 0
    for i in range(tim.shape[0]):
        room = (tim[i, MAX_G] - tim[i, STARTUP]) / SPLIT
        for j in range(cl_ptr[i], cl_ptr[i + 1]):
            n += max(1, int(np.ceil(max(cl[j, DUR], cl[j, CNT] * tim[i, HEADWAY]) / room)))
    return n


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
def _prepare(cl_ptr, cl, tim, horizon, max_work, out_ptr, out, dp_end, tail):
    """Cut clusters at the horizon and split long ones into parts of 1/SPLIT green; then, while
    the DP's work (`_work`) is above max_work, merge the neighbours (same phase) that together
    need the least green time, as long as one green can serve them; if nothing can merge, give
    the latest-arriving clusters to the greedy tail (dp_end[p] is where phase p's tail starts;
    the tail's vehicles are added to tail[0]).

    `out` needs a row per split part (see the API). Returns the number of rows written.
    """
    n_ph = tim.shape[0]
    n = 0
    for i in range(n_ph):
        out_ptr[i] = n
        room = (tim[i, MAX_G] - tim[i, STARTUP]) / SPLIT
        for j in range(cl_ptr[i], cl_ptr[i + 1]):
            a, du, nv = cl[j, ARR], cl[j, DUR], cl[j, CNT]
            if a >= horizon or nv <= 0.0:
                continue
            if a + du > horizon:  # keep the part that arrives inside the horizon
                nv = nv * (horizon - a) / du
                du = horizon - a
            parts = max(1, int(np.ceil(max(du, nv * tim[i, HEADWAY]) / room)))
            for q in range(parts):
                out[n, ARR] = a + q * du / parts
                out[n, DUR] = du / parts
                out[n, CNT] = nv / parts
                n += 1
        for j in range(out_ptr[i] + 1, n):  # sort by arrival: input order is not trusted
            r = j
            while r > out_ptr[i] and out[r - 1, ARR] > out[r, ARR]:
                for c in range(3):
                    out[r - 1, c], out[r, c] = out[r, c], out[r - 1, c]
                r -= 1
    out_ptr[n_ph] = n
    # need[j]: green time rows j and j + 1 would need together (inf across phases or too long)
    need = np.full(max(n, 1), np.inf)
    for i in range(n_ph):
        for j in range(out_ptr[i], out_ptr[i + 1] - 1):
            need[j] = _pair_need(out, j, tim[i, HEADWAY], tim[i, MAX_G] - tim[i, STARTUP])
    while _work(out_ptr, out_ptr[1:]) > max_work:
        best = -1
        for j in range(n - 1):
            if need[j] < np.inf and (best < 0 or need[j] < need[best]):
                best = j
        if best < 0:
            break
        j = best
        out[j, DUR] = (
            max(out[j, ARR] + out[j, DUR], out[j + 1, ARR] + out[j + 1, DUR]) - out[j, ARR]
        )
        out[j, CNT] += out[j + 1, CNT]
        n = _remove_row(out_ptr, out, n, j + 1)
        for r in range(j + 1, n):  # (no temporary copy)
            need[r] = need[r + 1]
        i = 0
        while out_ptr[i + 1] <= j:
            i += 1
        room = tim[i, MAX_G] - tim[i, STARTUP]
        need[j] = _pair_need(out, j, tim[i, HEADWAY], room) if j + 1 < out_ptr[i + 1] else np.inf
        if j > out_ptr[i]:
            need[j - 1] = _pair_need(out, j - 1, tim[i, HEADWAY], room)
    dp_end[:] = out_ptr[1:]
    while _work(out_ptr, dp_end) > max_work:
        # Still too much: the latest-arriving DP cluster goes to the tail, so that the DP sees
        # every phase up to about the same time and stays within its time budget.
        most = -1
        for i in range(n_ph):
            if dp_end[i] > out_ptr[i] and (
                most < 0 or out[dp_end[i] - 1, ARR] >= out[dp_end[most] - 1, ARR]
            ):
                most = i
        dp_end[most] -= 1
        tail[0] += out[dp_end[most], CNT]
    return n


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
    """`api._decision` for every intersection of a batch (greens g_off[m]:g_off[m] + n_greens[m]
    of g_ph/g_t): dec_i[m] = (phase, switch, next phase), dec_t[m] = switch_in_s."""
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
