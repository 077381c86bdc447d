"""The DP's budget, in Numba: its size, the Pareto capacity per state, and the preparation of
the clusters (cut at the horizon, split, merged, the rest to the greedy tail) to fit it.

The plain-Python statement of the same steps is `reference_budget.prepare`.
"""

import numpy as np
from numba import njit

from edge.optimizer.kernel_model import (
    _INLINE,
    _OPTS,
    ARR,
    CNT,
    DUR,
    ENTRY_SLOTS,
    HEADWAY,
    MAX_G,
    MIN_CAPACITY,
    SPLIT,
    STARTUP,
)


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
