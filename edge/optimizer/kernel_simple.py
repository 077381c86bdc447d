"""The one-pass decision kernels: max-pressure (Varaiya) and Webster fixed time.

Called by `edge.optimizer.api`; their plain-Python twins are in `reference.py`.
"""

from numba import njit

from edge.optimizer.kernel_model import _OPTS, ALL_RED, MAX_G, MIN_G, STARTUP, YELLOW

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
