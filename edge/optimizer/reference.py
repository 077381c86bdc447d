"""Plain-Python references of the decision algorithms: slow, obvious, and the yardstick for the
kernels. Max-pressure, Webster and the schedule-driven DP (`schedule`), plus
`schedule_exhaustive`, a brute force over every green sequence that the DP is checked against.

Each function computes what its kernel computes (`kernel_simple`, `kernel_dp`), in the same
arithmetic order, so tests can ask for the same answer rather than a close one. The model they
share is in `reference_model`, the DP's options in `reference_options`, its greedy tail in
`reference_tail`, the budget's cluster preparation in `reference_budget`.
"""

from edge.optimizer.reference_model import INF, block_start, initial_entries, serve_block
from edge.optimizer.reference_options import (
    cyclic_next,
    red_charge,
    unseen_charge,
    unseen_end,
)
from edge.optimizer.reference_tail import finish


def max_pressure(queues, phase_groups, current=-1, min_switch_gain=0.0, downstream=None):
    """Phase with the largest pressure; keeps `current` unless beaten by more than the gain.

    Returns (phase, pressures). Inputs are assumed valid (the API validates).
    """
    if downstream is None:
        downstream = [0.0] * len(queues)
    pressures = []
    for groups in phase_groups:
        acc = 0.0
        for g in groups:
            acc += queues[g] - downstream[g]
        pressures.append(acc)
    best = max(range(len(pressures)), key=lambda p: (pressures[p], -p))
    if current >= 0 and pressures[best] - pressures[current] <= min_switch_gain:
        return current, pressures
    return best, pressures


def webster(flows, saturation, phase_groups, timing, cycle_min_s, cycle_max_s):
    """Webster fixed-time plan. Returns (cycle_s, greens, ratios); greens are displayed greens.

    A phase's flow ratio is the largest flow / saturation flow among its groups; its lost time
    is start-up lost + yellow + all-red. The cycle is (1.5 L + 5) / (1 - Y), clamped to the
    bounds (the upper bound when Y >= 1), and greens are clamped to min/max green. The returned
    cycle is the one the clamped greens really make (sum of green + yellow + all-red).
    """
    ming, maxg, yel, ared, slt, _ = timing
    n = len(phase_groups)
    ratios = []
    y_sum = 0.0
    lost_sum = 0.0
    for p in range(n):
        y = 0.0
        for g in phase_groups[p]:
            y = max(y, flows[g] / saturation[g])
        ratios.append(y)
        y_sum += y
        lost_sum += slt[p] + yel[p] + ared[p]
    if y_sum >= 1.0:
        cycle = cycle_max_s
    else:
        cycle = min(max((1.5 * lost_sum + 5.0) / (1.0 - y_sum), cycle_min_s), cycle_max_s)
    effective = max(cycle - lost_sum, 0.0)
    greens = []
    for p in range(n):
        share = ratios[p] / y_sum if y_sum > 0.0 else 1.0 / n
        green = effective * share + slt[p]
        greens.append(min(max(green, ming[p]), maxg[p]))
    actual = 0.0
    for p in range(n):
        actual += greens[p] + yel[p] + ared[p]
    return actual, greens, ratios


ENTRY_SLOTS = 1024  # as kernel_model.ENTRY_SLOTS
MIN_CAPACITY = 2


def capacity_for(states, capacity=8):
    """Pareto entries per state the kernels keep for a DP of `states` states (`Schedule.states`)
    when allowed `capacity`: fewer for big DPs, within ENTRY_SLOTS, at least MIN_CAPACITY."""
    return min(capacity, max(MIN_CAPACITY, ENTRY_SLOTS // states))


def schedule(
    cl_ptr,
    arr,
    dur,
    cnt,
    timing,
    current,
    elapsed,
    capacity=8,
    dp_end=None,
    rates=None,
    horizon=INF,
    rates_from=None,
    cyclic=False,
):
    """Forward DP over clusters served per phase, Pareto on (delay, when the next green can start)
    among entries whose last green is of the same phase (a phase may not follow itself while
    another phase has clusters waiting: that would sidestep max green).

    timing: six per-phase sequences (min green, max green, yellow, all-red, start-up lost,
    saturation headway). dp_end: per phase, where its rows planned by the DP end (default:
    all of them); the rest, its tail, is served by `finish` from every DP entry that can take
    no further DP green and, as a rollout, from the running green's entries and those one or
    two greens after them; the least total wins. Returns a dict (delay, greens, starts, ends,
    switch_at, pruned, rollout) or None when no plan serves every cluster.

    rates: per phase, unseen demand (veh/s): every red that a planned green of the phase ends
    is charged (`red_charge`, from rates_from[p] at the earliest, clipped at `horizon`), and
    that green lasts at least until the red's unseen queue is discharged (`unseen_end`); reds
    still open when the plan ends are not charged. Each entry carries when each phase's last
    green ended; that is not part of the dominance, so with rates the DP is a heuristic (see
    docs/optimizer.md).

    cyclic: phases are served in cyclic (index) order: after a green of phase p only the
    phases `cyclic_next` allows may come (skipping those with nothing left, and those whose
    next cluster has not arrived when the green could start), the greedy tail too. Entries
    are then beaten only by entries ending on their own phase (the phase decides which greens
    may follow), so the DP stays exact over the cyclic plans.
    """
    unseen = unseen_charge(rates, horizon, rates_from)
    ming, maxg, yel, ared, slt, hw = timing
    n_ph = len(ming)
    if dp_end is None:
        dp_end = cl_ptr[1:]
    n = [dp_end[i] - cl_ptr[i] for i in range(n_ph)]
    n_all = [cl_ptr[i + 1] - cl_ptr[i] for i in range(n_ph)]
    stride = []
    n_x = 1
    for i in range(n_ph):
        stride.append(n_x)
        n_x *= n[i] + 1
    # table[x]: entries [delay, ready, parent, phase, green start, clusters, green end]
    table = [[] for _ in range(n_x)]
    pruned = 0

    def insert(x, d, ready, entry):
        nonlocal pruned
        lst = table[x]
        # Entries ending on different phases allow different next greens: an entry is beaten
        # by one ending on its phase, or by two ending on different phases (one of them can
        # take any next green it can).
        last = entry[1]
        other = -1
        for e in lst:
            if e[0] <= d and e[1] <= ready:
                if e[3] == last or (not cyclic and 0 <= other != e[3]):
                    return
                other = e[3]
        lst[:] = [e for e in lst if not (e[3] == last and d <= e[0] and ready <= e[1])]
        if len(lst) < capacity:
            lst.append([d, ready, *entry])
            return
        pruned += 1
        worst = max(range(len(lst)), key=lambda j: (lst[j][0], -j))
        if d < lst[worst][0]:
            lst[worst] = [d, ready, *entry]

    best = None  # the best plan completed where the DP could go no further
    roll = None  # the best rollout plan: wins only if strictly better

    def expand(x, digits, last, d, ready, limit, parent, rollout, red):
        nonlocal best, roll
        left = sum(digits[i] < n_all[i] for i in range(n_ph))
        ok = cyclic_next(cl_ptr, arr, digits, n_all, last, ready) if cyclic else None
        moves = 0
        for i in range(n_ph):
            if i == last and left > 1:
                continue  # a phase follows itself only when nothing else waits
            if ok is not None and i not in ok:
                continue  # not next in cyclic order
            first = cl_ptr[i] + digits[i]
            for k in range(1, n[i] - digits[i] + 1):
                gs = block_start(arr, dur, cnt, first, k, hw[i], slt[i], maxg[i], ready)
                if gs is None or gs > limit:
                    break
                moves += 1
                delay, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw[i], slt[i], gs)
                end = max(fin, gs + ming[i])
                if unseen is not None:
                    end = unseen_end(end, gs, unseen, red[i], i, timing)
                nxt = end + yel[i] + ared[i]
                nd = d + delay
                new_red = red
                if unseen is not None:
                    nd += red_charge(unseen, i, red[i], gs)
                    new_red = list(red)
                    new_red[i] = end
                insert(x + k * stride[i], nd, nxt, (parent, i, gs, k, end, new_red))
        if moves == 0 or rollout:  # complete the plan greedily from here
            args = (digits, last, ready, limit, red, unseen, cyclic)
            fd, _ = finish(cl_ptr, arr, dur, cnt, timing, *args)
            plan = (d + fd, parent, args)
            if moves == 0:
                if best is None or d + fd < best[0]:
                    best = plan
            elif roll is None or d + fd < roll[0]:
                roll = plan

    clear0, init = initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed, dp_end)
    c_stride = stride[current] if current >= 0 else 0
    for k, d, end, limit in init:
        digits = [0] * n_ph
        red = [0.0] * n_ph  # when each phase's last green ended (0: red since before now)
        if current >= 0:
            digits[current] = k
            red[current] = end
        expand(k * c_stride, digits, current, d, end + clear0, limit, ("init", k), True, red)
    for x in range(n_x):
        digits = [(x // stride[i]) % (n[i] + 1) for i in range(n_ph)]
        for slot, e in enumerate(table[x]):
            up = e[2]  # a rollout from here if the running green is one or two greens back
            near = up[0] == "init" or table[up[0]][up[1]][2][0] == "init"
            expand(x, digits, e[3], e[0], e[1], INF, (x, slot), near, e[7])

    rollout = roll is not None and (best is None or roll[0] < best[0])
    if rollout:
        best = roll
    if best is None or best[0] == INF:
        return None
    plan = _unwind(best, table, init, cl_ptr, arr, dur, cnt, timing, current, elapsed, pruned)
    plan["rollout"] = rollout
    return plan


def _unwind(best, table, init, cl_ptr, arr, dur, cnt, timing, current, elapsed, pruned):
    """Rebuild the chosen plan: greens (phase, start, end, clusters) and cluster service times."""
    ming, maxg, yel, ared, slt, hw = timing
    blocks = []  # (phase, gs, k, end)
    ref = best[1]
    while ref[0] != "init":
        x, slot = ref
        _, _, parent, phase, gs, k, end, _ = table[x][slot]
        blocks.append((phase, gs, k, end))
        ref = parent
    blocks.reverse()
    k0 = ref[1]
    starts = [0.0] * len(arr)
    ends = [0.0] * len(arr)
    greens = []
    served = [0] * len(ming)
    if current >= 0:
        blocks.insert(0, (current, -elapsed, k0, init[k0][2]))
    _, tail = finish(cl_ptr, arr, dur, cnt, timing, *best[2])
    blocks += [(p, gs, k, end) for p, gs, end, k in tail]
    for s, gs, k, end in blocks:
        if greens:
            prev = greens[-1][0]
            greens[-1][2] = gs - yel[prev] - ared[prev]
        first = cl_ptr[s] + served[s]
        _, _, st, en = serve_block(arr, dur, cnt, first, k, hw[s], slt[s], gs)
        starts[first : first + k] = st
        ends[first : first + k] = en
        served[s] += k
        greens.append([s, gs, end, k])
    if current >= 0:
        switch_at = greens[0][2] if len(greens) > 1 else INF
    else:
        switch_at = greens[0][1] if greens else INF
    return {
        "delay": best[0],
        "greens": [tuple(g) for g in greens],
        "starts": starts,
        "ends": ends,
        "switch_at": switch_at,
        "pruned": pruned,
    }


def schedule_exhaustive(cl_ptr, arr, dur, cnt, timing, current, elapsed, cyclic=False):
    """Least total delay over every sequence of greens (brute force, small instances only);
    with `cyclic`, over the sequences in cyclic order (`cyclic_next`)."""
    ming, maxg, yel, ared, slt, hw = timing
    n_ph = len(ming)
    n = [cl_ptr[i + 1] - cl_ptr[i] for i in range(n_ph)]
    best = INF

    def rec(served, last, end, limit, delay):
        nonlocal best
        if served == n:
            best = min(best, delay)
            return
        ready = end + (yel[last] + ared[last] if last >= 0 else 0.0)
        left = sum(served[i] < n[i] for i in range(n_ph))
        ok = cyclic_next(cl_ptr, arr, served, n, last, ready) if cyclic else None
        for i in range(n_ph):
            if (i == last and left > 1) or (ok is not None and i not in ok):
                continue
            first = cl_ptr[i] + served[i]
            for k in range(1, n[i] - served[i] + 1):
                gs = block_start(arr, dur, cnt, first, k, hw[i], slt[i], maxg[i], ready)
                if gs is None or gs > limit:
                    continue
                d, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw[i], slt[i], gs)
                nxt = list(served)
                nxt[i] += k
                rec(nxt, i, max(fin, gs + ming[i]), INF, delay + d)

    _, init = initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed)
    for k, d, end, limit in init:
        served = [0] * n_ph
        if current >= 0:
            served[current] = k
        rec(served, current, end, limit, d)
    return best
