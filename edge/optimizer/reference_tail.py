"""The greedy tail, plainly: serve every cluster the DP leaves, phase after phase by a simple
rule. `kernel_tail._finish` computes the same, in the same order.
"""

from edge.optimizer.reference_model import INF, block_start, serve_block
from edge.optimizer.reference_options import cyclic_next, red_charge, unseen_end


def finish(
    cl_ptr,
    arr,
    dur,
    cnt,
    timing,
    served,
    last,
    ready,
    limit,
    red=None,
    unseen=None,
    cyclic=False,
):
    """The greedy tail: serve every cluster left after `served` (clusters served per phase).

    Next comes the phase whose next cluster arrives first (not `last` while another phase has
    clusters left; the lowest index on a tie); its green serves as many of its next clusters
    as fit in max green from `ready`, or just the next one, then starting late enough for it
    to fit. The first green must start by `limit`. Returns (delay, [(phase, start, end, k)]),
    delay inf if there is no such plan.

    unseen: (half rates, horizon) or None; red: per phase, when its last green ended (0 if
    none). With them each green adds the red charge (`red_charge`) of the red it ends and
    lasts until its unseen queue is discharged (`unseen_end`).

    cyclic: the next phase is one `cyclic_next` allows: the first of them that calls by
    `ready` (its next cluster has arrived), or if none does, the first to arrive (the first in
    cyclic order on a tie).
    """
    ming, maxg, yel, ared, slt, hw = timing
    n_ph = len(ming)
    served = list(served)
    red = list(red) if red is not None else None
    n = [cl_ptr[i + 1] - cl_ptr[i] for i in range(n_ph)]
    delay = 0.0
    greens = []
    while True:
        left = sum(served[i] < n[i] for i in range(n_ph))
        todo = [i for i in range(n_ph) if served[i] < n[i] and not (i == last and left > 1)]
        if not todo:
            return delay, greens
        ok = cyclic_next(cl_ptr, arr, served, n, last, ready) if cyclic else None
        if ok is None:
            p = min(todo, key=lambda i: (arr[cl_ptr[i] + served[i]], i))
        else:
            p = min(ok, key=lambda i: (arr[cl_ptr[i] + served[i]] > ready, ok.index(i)))
            if arr[cl_ptr[p] + served[p]] > ready:  # none calls: the first to arrive
                p = min(ok, key=lambda i: (arr[cl_ptr[i] + served[i]], ok.index(i)))
        first = cl_ptr[p] + served[p]
        if slt[p] + cnt[first] * hw[p] > maxg[p]:
            return INF, greens
        gs = block_start(arr, dur, cnt, first, 1, hw[p], slt[p], maxg[p], ready)
        k = 1
        if gs == ready:
            while first + k < cl_ptr[p + 1]:
                if block_start(arr, dur, cnt, first, k + 1, hw[p], slt[p], maxg[p], ready) != ready:
                    break
                k += 1
        if gs > limit:
            return INF, greens
        d, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw[p], slt[p], gs)
        delay += d
        end = max(fin, gs + ming[p])
        if unseen is not None:
            delay += red_charge(unseen, p, red[p], gs)
            end = unseen_end(end, gs, unseen, red[p], p, timing)
            red[p] = end
        greens.append((p, gs, end, k))
        served[p] += k
        last = p
        ready = end + yel[p] + ared[p]
        limit = INF
