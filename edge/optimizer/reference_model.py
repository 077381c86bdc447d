"""The plain-Python model the references share: a cluster's delay (fluid queue, closed form),
serving a block of clusters in one green, the earliest start at which a block fits in max
green, and the running green's possible ends.

The kernels compute the same in `kernel_model` (delay, service) and `kernel_dp_parts` (the
running green).
"""

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


def initial_entries(cl_ptr, arr, dur, cnt, timing, current, elapsed, dp_end=None):
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
