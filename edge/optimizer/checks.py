"""Input checks of the public optimizer functions: each returns the value in the form the
kernels take, or raises ValueError with a message that names the field and shows the value.
"""

import math

import numpy as np

from edge.optimizer.timing import PhaseTiming, as_vector


def float_vector(name, values, *, allow_negative=False):
    arr = as_vector(name, values)
    bad = ~np.isfinite(arr) if allow_negative else ~(np.isfinite(arr) & (arr >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = "finite" if allow_negative else "finite and >= 0"
        raise ValueError(f"{name}[{i}] must be {what}, got {values[i]!r}")
    return arr


def int_index(name, value, low, high):
    """An int in [low, high); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value < high:
        raise ValueError(f"{name} must be in {low}..{high - 1}, got {value!r}")
    return int(value)


def phase_table(phase_groups, n_groups):
    """CSR form (ptr, idx) of phase -> signal groups; refuses empty phases and bad indices."""
    if isinstance(phase_groups, str | bytes) or not hasattr(phase_groups, "__len__"):
        raise ValueError(
            f"phase_groups must be a sequence of group-index sequences, got {phase_groups!r}"
        )
    if len(phase_groups) == 0:
        raise ValueError("phase_groups is empty: an intersection needs at least one phase")
    ptr = [0]
    idx = []
    for p, groups in enumerate(phase_groups):
        if isinstance(groups, str | bytes) or not hasattr(groups, "__len__"):
            raise ValueError(
                f"phase_groups[{p}] must be a sequence of group indices, got {groups!r}"
            )
        if len(groups) == 0:
            raise ValueError(f"phase_groups[{p}] has no signal groups: a phase must serve traffic")
        seen = set()
        for g in groups:
            gi = int_index(f"phase_groups[{p}] entry", g, 0, n_groups)
            if gi in seen:
                raise ValueError(f"phase_groups[{p}] lists group {gi} twice: {groups!r}")
            seen.add(gi)
            idx.append(gi)
        ptr.append(len(idx))
    return np.array(ptr, dtype=np.int64), np.array(idx, dtype=np.int64)


def seconds(name, value, *, positive=False):
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (positive and value == 0):
        what = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {what}, got {value!r}")
    return float(value)


def timing_array(timing, n_phases):
    if not isinstance(timing, PhaseTiming):
        raise ValueError(
            f"timing must be a PhaseTiming from phase_timing(...), got {type(timing).__name__}"
        )
    if timing.n_phases != n_phases:
        raise ValueError(f"timing has {timing.n_phases} phases but there are {n_phases}")
    return timing.array


def per_phase(name, values, n_phases):
    arr = float_vector(name, values)
    if arr.size != n_phases:
        raise ValueError(
            f"{name} has {arr.size} entries but there are {n_phases} phases: "
            f"one value per phase, got {values!r}"
        )
    return arr


def schedule_args(table, timing, current, elapsed_s, horizon_s, max_work, step_s):
    tim = timing_array(timing, table.n_phases)
    cur = int_index("current", current, -1, table.n_phases)
    elapsed = seconds("elapsed_s", elapsed_s)
    horizon = seconds("horizon_s", horizon_s, positive=True)
    if isinstance(max_work, bool) or not isinstance(max_work, int) or max_work < 1:
        raise ValueError(f"max_work must be an integer >= 1, got {max_work!r}")
    return tim, cur, elapsed, horizon, seconds("step_s", step_s)
