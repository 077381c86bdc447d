"""Plain-Python reference implementations: slow, obvious, and the yardstick for the kernels.

Each function computes what its kernel in `kernels.py` computes, in the same arithmetic order,
so tests can ask for the same answer rather than a close one.
"""

import math


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


# ---------------------------------------------------------------- schedule-driven (the model)

INF = float("inf")


def cluster_delay(arr, dur, n, h, b):
    """Vehicle-seconds of delay of one cluster (fluid queue, closed form).

    n vehicles arrive uniformly over [arr, arr + dur] (all at once if dur == 0) and leave from
    time b >= arr at most one per h seconds; the delay is the area between the two curves.
    """
    if b + n * h >= arr + dur:  # the queue clears after the last arrival
        return max(n * (b - arr) - 0.5 * n * dur + 0.5 * n * n * h, 0.0)
    return n * (b - arr) * (b - arr) / (2.0 * (dur - n * h))


def serve_block(arr, dur, cnt, first, k, h, slt, gs):
    """Serve clusters first..first+k-1 in one green starting at gs.

    Returns (delay, finish, starts, ends): total delay, when the last one is through, and each
    cluster's service start and finish.
    """
    prev = gs + slt
    delay = 0.0
    starts = []
    ends = []
    for j in range(first, first + k):
        b = max(arr[j], prev)
        fin = max(arr[j] + dur[j], b + cnt[j] * h)
        delay += cluster_delay(arr[j], dur[j], cnt[j], h, b)
        starts.append(b)
        ends.append(fin)
        prev = fin
    return delay, prev, starts, ends


def block_start(arr, dur, cnt, first, k, h, slt, max_green, ready):
    """Earliest green start >= ready at which the block fits in max green, or None.

    Max green counts from the green start: idle green before the first arrival counts too. The
    block is through at max(alpha, gs + beta) (alpha: when its arrivals allow, beta: start-up
    lost time plus every vehicle's headway), so it fits from gs = max(ready, alpha - max green).
    """
    alpha = -INF
    beta = slt
    for j in range(first, first + k):
        nh = cnt[j] * h
        alpha = max(arr[j] + dur[j], max(arr[j], alpha) + nh)
        beta += nh
    if beta > max_green:
        return None
    if ready + max_green >= alpha:
        return ready
    return alpha - max_green


def _initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed, dp_end=None):
    """The running green: for k = 0.. DP clusters of `current` served before it ends.

    Returns (clearance, [(k, delay, earliest_end, latest_next_green_start)]).
    """
    if current < 0:
        return 0.0, [(0, 0.0, 0.0, INF)]
    ming, maxg, yel, ared, slt, hw = (col[current] for col in timing)
    gs0 = -elapsed
    clear = yel + ared
    deadline = gs0 + maxg
    # It may rest past max green until another phase's first arrival (its call).
    others = [i for i in range(len(cl_ptr) - 1) if i != current and cl_ptr[i + 1] > cl_ptr[i]]
    called = min((arr[cl_ptr[i]] for i in others), default=INF)
    first = cl_ptr[current]
    last_dp = cl_ptr[current + 1] if dp_end is None else dp_end[current]
    out = []
    for k in range(last_dp - first + 1):
        delay, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw, slt, gs0)
        if k > 0 and fin > deadline:
            break
        end = max(max(fin if k else -INF, gs0 + ming), 0.0)
        out.append((k, delay, end, max(deadline, called, end) + clear))
    return clear, out


ENTRY_SLOTS = 1024  # as kernels.ENTRY_SLOTS
MIN_CAPACITY = 2


def capacity_for(states, capacity=8):
    """Pareto entries per state the kernels keep for a DP of `states` states (`Schedule.states`)
    when allowed `capacity`: fewer for big DPs, within ENTRY_SLOTS, at least MIN_CAPACITY."""
    return min(capacity, max(MIN_CAPACITY, ENTRY_SLOTS // states))


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


def unseen_charge(rates, horizon, rates_from=None):
    """(half rates, horizon, rates, first arrivals) for the DP, or None when no phase has
    unseen demand."""
    if rates is None or not any(r > 0.0 for r in rates):
        return None
    start = [0.0] * len(rates) if rates_from is None else list(rates_from)
    return [0.5 * r for r in rates], horizon, list(rates), start


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

    clear0, init = _initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed, dp_end)
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

    _, init = _initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed)
    for k, d, end, limit in init:
        served = [0] * n_ph
        if current >= 0:
            served[current] = k
        rec(served, current, end, limit, d)
    return best


# ---------------------------------------------------------------- preparation (the budget)

SPLIT = 2  # as kernels.SPLIT: long clusters are cut into parts of at most 1/SPLIT of a green


def prepare(cl_ptr, arr, dur, cnt, timing, horizon, max_work):
    """What `kernels._prepare` does, plainly: the clusters the DP plans.

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
