"""Plain-Python reference implementations: slow, obvious, and the yardstick for the kernels.

Each function computes what its kernel in `kernels.py` computes, in the same arithmetic order,
so tests can ask for the same answer rather than a close one.
"""


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

    Max green counts from the green start, or from when the first cluster can be served if the
    green starts before it arrives (idle green before the first arrival does not count).
    """
    alpha = -INF
    beta = slt
    for j in range(first, first + k):
        nh = cnt[j] * h
        alpha = max(arr[j] + dur[j], max(arr[j], alpha) + nh)
        beta += nh
    if beta > max_green:
        return None
    if max(ready, arr[first] - slt) + max_green >= alpha:
        return ready
    return alpha - max_green


def _initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed):
    """The running green: for k = 0.. clusters of `current` served before it ends.

    Returns (clearance, [(k, delay, earliest_end, latest_next_green_start)]).
    """
    if current < 0:
        return 0.0, [(0, 0.0, 0.0, INF)]
    ming, maxg, yel, ared, slt, hw = (col[current] for col in timing)
    gs0 = -elapsed
    clear = yel + ared
    deadline = gs0 + maxg
    first = cl_ptr[current]
    out = []
    for k in range(cl_ptr[current + 1] - first + 1):
        delay, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw, slt, gs0)
        if k > 0 and fin > deadline:
            break
        end = max(max(fin, gs0 + ming), 0.0)
        out.append((k, delay, end, max(deadline, end) + clear))
    return clear, out


def schedule(cl_ptr, arr, dur, cnt, timing, current, elapsed, capacity=8):
    """Forward DP over clusters served per phase, Pareto on (delay, when the next green can start)
    among entries whose last green is of the same phase (a phase may not follow itself while
    another phase has clusters waiting: that would sidestep max green).

    timing: six per-phase sequences (min green, max green, yellow, all-red, start-up lost,
    saturation headway). Returns a dict (delay, greens, starts, ends, switch_at, pruned) or
    None when no plan serves every cluster.
    """
    ming, maxg, yel, ared, slt, hw = timing
    n_ph = len(ming)
    n = [cl_ptr[i + 1] - cl_ptr[i] for i in range(n_ph)]
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
                if e[3] == last or 0 <= other != e[3]:
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

    def expand(x, digits, last, d, ready, limit, parent):
        left = sum(digits[i] < n[i] for i in range(n_ph))
        for i in range(n_ph):
            if i == last and left > 1:
                continue  # a phase follows itself only when nothing else waits
            first = cl_ptr[i] + digits[i]
            for k in range(1, n[i] - digits[i] + 1):
                gs = block_start(arr, dur, cnt, first, k, hw[i], slt[i], maxg[i], ready)
                if gs is None or gs > limit:
                    break
                delay, fin, _, _ = serve_block(arr, dur, cnt, first, k, hw[i], slt[i], gs)
                end = max(fin, gs + ming[i])
                nxt = end + yel[i] + ared[i]
                insert(x + k * stride[i], d + delay, nxt, (parent, i, gs, k, end))

    clear0, init = _initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed)
    c_stride = stride[current] if current >= 0 else 0
    for k, d, end, limit in init:
        digits = [0] * n_ph
        if current >= 0:
            digits[current] = k
        expand(k * c_stride, digits, current, d, end + clear0, limit, ("init", k))
    for x in range(n_x):
        digits = [(x // stride[i]) % (n[i] + 1) for i in range(n_ph)]
        for slot, e in enumerate(table[x]):
            expand(x, digits, e[3], e[0], e[1], INF, (x, slot))

    best = None
    for k, d, _, _ in init:
        if k * c_stride == n_x - 1 and (best is None or d < best[0]):
            best = (d, ("init", k))
    for slot, e in enumerate(table[n_x - 1]):
        if best is None or e[0] < best[0]:
            best = (e[0], (n_x - 1, slot))
    if best is None:
        return None
    return _unwind(best, table, init, cl_ptr, arr, dur, cnt, timing, current, elapsed, pruned)


def _unwind(best, table, init, cl_ptr, arr, dur, cnt, timing, current, elapsed, pruned):
    """Rebuild the chosen plan: greens (phase, start, end, clusters) and cluster service times."""
    ming, maxg, yel, ared, slt, hw = timing
    blocks = []  # (phase, gs, k, end)
    ref = best[1]
    while ref[0] != "init":
        x, slot = ref
        _, _, parent, phase, gs, k, end = table[x][slot]
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


def schedule_exhaustive(cl_ptr, arr, dur, cnt, timing, current, elapsed):
    """Least total delay over every sequence of greens (brute force, small instances only)."""
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
        for i in range(n_ph):
            if i == last and left > 1:
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
