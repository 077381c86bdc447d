"""The budget's cluster preparation, plainly: cut at the horizon, split, merge to fit the DP's
work budget, and leave the rest to the greedy tail. `kernel_budget._prepare` does the same.
"""

import math

from edge.optimizer.reference_model import INF

SPLIT = 2  # as kernel_model.SPLIT: long clusters are cut into parts of at most 1/SPLIT of a green


def prepare(cl_ptr, arr, dur, cnt, timing, horizon, max_work):
    """What `kernel_budget._prepare` does, plainly: the clusters the DP plans.

    1. Per phase, drop clusters arriving at or after the horizon and clusters of no vehicles;
       cut one straddling the horizon (vehicles scaled to the part inside); split each into
       equal parts needing at most 1/SPLIT of a green (max green - start-up lost time) each;
       sort the phase's parts by arrival (stable).
    2. While states x clusters > max_work: merge the two neighbouring clusters of a phase
       that together need the least green time (the first such pair on a tie), provided one
       green can serve them (need = max(span, vehicles x headway) <= max green - start-up).
    3. While still over (counting only the clusters left to the DP): give the DP's
       latest-arriving last cluster over the phases (the highest phase on a tie) to the
       greedy tail.

    Returns (ptr, rows, dp_end, tail): ptr per phase as cl_ptr, rows [(arrival, duration,
    vehicles)], dp_end[p] the row where phase p's tail starts, tail its vehicles.
    """
    ming, maxg, yel, ared, slt, hw = timing
    n_ph = len(ming)
    phases = []  # per phase: [[arrival, duration, vehicles], ...]
    for i in range(n_ph):
        room = (maxg[i] - slt[i]) / SPLIT
        rows = []
        for j in range(cl_ptr[i], cl_ptr[i + 1]):
            a, du, nv = arr[j], dur[j], cnt[j]
            if a >= horizon or nv <= 0.0:
                continue
            if a + du > horizon:
                nv = nv * (horizon - a) / du
                du = horizon - a
            parts = max(1, math.ceil(max(du, nv * hw[i]) / room))
            for q in range(parts):
                rows.append([a + q * du / parts, du / parts, nv / parts])
        rows.sort(key=lambda r: r[0])  # stable, like the kernel's insertion sort
        phases.append(rows)

    n_dp = None  # clusters per phase the DP plans; None while that is all of them

    def work():
        sizes = [len(rows) for rows in phases] if n_dp is None else n_dp
        states = 1
        for k in sizes:
            states *= k + 1
        return states * max(sum(sizes), 1)

    def need(i, j):
        """Green time rows j and j + 1 of phase i need as one cluster (inf if too long)."""
        r, s = phases[i][j], phases[i][j + 1]
        end = max(r[0] + r[1], s[0] + s[1])
        t = max(end - r[0], (r[2] + s[2]) * hw[i])
        return t if t <= maxg[i] - slt[i] else INF

    while work() > max_work:
        best = None  # (need, phase, row); the first in table order on a tie
        for i in range(n_ph):
            for j in range(len(phases[i]) - 1):
                t = need(i, j)
                if t < INF and (best is None or t < best[0]):
                    best = (t, i, j)
        if best is None:
            break
        _, i, j = best
        r, s = phases[i][j], phases[i][j + 1]
        r[1] = max(r[0] + r[1], s[0] + s[1]) - r[0]
        r[2] += s[2]
        del phases[i][j + 1]
    n_dp = [len(rows) for rows in phases]
    tail = 0.0
    while work() > max_work:
        most = -1
        for i in range(n_ph):
            if n_dp[i] and (
                most < 0 or phases[i][n_dp[i] - 1][0] >= phases[most][n_dp[most] - 1][0]
            ):
                most = i
        n_dp[most] -= 1
        tail += phases[most][n_dp[most]][2]
    ptr = [0]
    for rows in phases:
        ptr.append(ptr[-1] + len(rows))
    dp_end = [ptr[i] + n_dp[i] for i in range(n_ph)]
    return ptr, [tuple(r) for rows in phases for r in rows], dp_end, tail
