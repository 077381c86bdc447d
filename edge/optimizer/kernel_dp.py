"""The schedule-driven DP, in Numba: forward over clusters served per phase, Pareto per state.

Its set-up and its read-out are in `kernel_dp_parts`, its completions in `kernel_tail`; the
plain-Python twin is `reference.schedule`.

A state is x, the number of clusters served per phase in mixed radix. Its entries are Pareto
on (delay so far, earliest start of the next green) among entries whose last green is of the
same phase (a phase may not follow itself while another waits: that would sidestep max
green): the future depends on nothing else, so keeping only non-dominated entries is exact.
Hot columns wf: delay, ready; cold wg: green start, green end; wi: parent entry (-1 - k for
the running green serving k), phase, clusters.
The expansion and the insertion are written out inside `_schedule` on purpose: helpers that
take arrays, even inlined, cost reference-count traffic on every transition (2x slower).
"""

import numpy as np
from numba import njit

from edge.optimizer.kernel_dp_parts import _row_parts, _running_green, _tail_start, _unwind
from edge.optimizer.kernel_model import (
    _OPTS,
    ALL_RED,
    ARR,
    HEADWAY,
    INFO_DELAY,
    INFO_PRUNED,
    INFO_ROLLOUT,
    INFO_STATES,
    MAX_G,
    MIN_G,
    STARTUP,
    YELLOW,
)
from edge.optimizer.kernel_tail import _finish


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
    cyclic: phases in cyclic (index) order (reference_options.cyclic_next): after a green of
    phase p, only phases from p + 1 on up to the first that calls when the next green could
    start (skipping those with nothing left); an entry is then beaten only by entries ending on
    its own phase.
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
    pre, kmax, alp = _row_parts(cl_ptr, dp_end, cl, tim)
    digits = np.zeros(n_ph, np.int64)
    okc = np.ones(n_ph, np.bool_)  # with `cyclic`: the phases the entry's next green may be
    pair = not cyclic  # two entries ending on two other phases beat one (not in cyclic order)
    init, n_init, clear0 = _running_green(cl_ptr, dp_end, cl, tim, current, elapsed)
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
            if cyclic and last >= 0:  # reference_options.cyclic_next
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
    f_last, f_ready, f_limit = _tail_start(
        cl_ptr, dp_end, current, init, clear0, best, cap, stride, wf, wi, we, unseen, fsv, fre
    )
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
