"""The DP's two options, plainly: unseen demand (the charge of the reds a plan imposes, and
how long a green lasts for the queue they build) and cyclic order (which phases may come next).

Used by `reference.schedule` and `reference_tail.finish`; the kernels write the same rules out
inside `kernel_dp` and `kernel_tail`.
"""


def red_length(unseen, i, red_from, until):
    """The part of phase i's red [red_from, until] that unseen demand can arrive in: from its
    first arrival at the earliest, clipped at the horizon."""
    return max(min(until, unseen[1]) - min(max(red_from, unseen[3][i]), unseen[1]), 0.0)


def red_charge(unseen, i, red_from, until):
    """Delay of phase i's unseen demand over a red from `red_from` to `until`: rate x red^2 / 2
    (every arrival waits to the red's end)."""
    red = red_length(unseen, i, red_from, until)
    return unseen[0][i] * red * red


def unseen_end(end, gs, unseen, red_from, i, timing):
    """A green of phase i from gs lasts until `end` and until the queue its unseen demand built
    in the red before it (rate x red) is discharged, within max green."""
    red = red_length(unseen, i, red_from, gs)
    return max(end, min(gs + timing[4][i] + unseen[2][i] * red * timing[5][i], gs + timing[1][i]))


def cyclic_next(cl_ptr, arr, served, n, last, ready):
    """With cyclic order: the phases that may come after `last` (a list), or None for any.

    Walking the phases in index order from last + 1 (wrapping round), a phase with clusters
    left may come next; a phase whose next cluster has arrived by `ready` (it calls) ends the
    walk, so a calling phase is never skipped and none is served twice in a cycle. `last`
    itself comes next only when no other phase has clusters left. None when there is no last
    phase (a cycle may start anywhere).
    """
    if last < 0:
        return None
    n_ph = len(n)
    ok = []
    for s in range(1, n_ph):
        q = (last + s) % n_ph
        if served[q] < n[q]:
            ok.append(q)
            if arr[cl_ptr[q] + served[q]] <= ready:
                break
    return ok or [last]


def unseen_charge(rates, horizon, rates_from=None):
    """(half rates, horizon, rates, first arrivals) for the DP, or None when no phase has
    unseen demand."""
    if rates is None or not any(r > 0.0 for r in rates):
        return None
    start = [0.0] * len(rates) if rates_from is None else list(rates_from)
    return [0.5 * r for r in rates], horizon, list(rates), start
