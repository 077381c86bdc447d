"""What every Numba kernel of the optimizer shares: the njit options, the array layouts, the
delay model.

Kernels are private pure functions over arrays; each writes into caller-allocated outputs and
returns only scalars. The public, validating API is `edge.optimizer.api`; the plain-Python
twins, in the same arithmetic order, are the `reference*` modules. No fastmath anywhere: min/max
green and clearance bounds are computed in the kernels.

Array layouts: `tim` is (phases, 6) with columns min green, max green, yellow, all-red,
start-up lost time, saturation headway (seconds, seconds per vehicle); `cl` is (clusters, 3)
with arrival, duration, vehicles, grouped by phase through `cl_ptr` (phase p owns rows
cl_ptr[p]:cl_ptr[p + 1], sorted by arrival).

Numba's on-disk cache checks only the file of the function it caches, and kernels call kernels
of other modules: `drop_stale_cache` (run on import, before any kernel is compiled) drops every
kernel's cached code when any kernel file has changed (docs/optimizer.md).
"""

import hashlib
from pathlib import Path

from numba import njit

STAMP = "kernels.sha256"  # in the cache folder: the hash the cached kernels were compiled from


def drop_stale_cache(here: Path = Path(__file__).parent) -> bool:
    """Delete the kernels' cached code in `here/__pycache__` unless it was compiled from the
    kernel files as they are now; True if it did. A folder it cannot write is left alone (Numba
    then caches elsewhere or compiles every run)."""
    digest = hashlib.sha256()
    for path in sorted(here.glob("kernel_*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cache, want = here / "__pycache__", digest.hexdigest()
    try:
        if (cache / STAMP).read_text() == want:
            return False
    except OSError:
        pass
    try:
        for cached in cache.glob("kernel_*.nb[ic]"):
            cached.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        (cache / STAMP).write_text(want)
    except OSError:
        return False
    return True


drop_stale_cache()

_OPTS = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}
_INLINE = {**_OPTS, "inline": "always"}  # small helpers, inlined where they are called
_PARALLEL = {**_OPTS, "parallel": True}

MIN_G, MAX_G, YELLOW, ALL_RED, STARTUP, HEADWAY = 0, 1, 2, 3, 4, 5
ARR, DUR, CNT = 0, 1, 2
INFO_DELAY, INFO_SWITCH_AT, INFO_PRUNED, INFO_STATES, INFO_ROWS, INFO_TAIL, INFO_ROLLOUT = range(7)
SPLIT = 2  # long clusters are cut into parts of at most 1/SPLIT of a green, for re-merging
# Pareto entries per DP state: up to the caller's capacity while states x capacity stays within
# ENTRY_SLOTS, never below MIN_CAPACITY (big DPs: fewer entries per state, 4x faster at 2 than
# at 8 for about the same plans; see docs/optimizer.md).
ENTRY_SLOTS = 1024
MIN_CAPACITY = 2


@njit(**_INLINE)
def _cluster_delay(arr, dur, n, h, b):
    """Area between uniform arrivals over [arr, arr+dur] and discharge at 1/h from b >= arr."""
    # Both cases, then the one that holds (no branch: which one is hard to predict; the
    # second's division by 0 when dur == n h gives inf or nan, and then the first holds).
    t1 = max(n * (b - arr) - 0.5 * n * dur + 0.5 * n * n * h, 0.0)
    t2 = n * (b - arr) * (b - arr) / (2.0 * (dur - n * h))
    return t1 if b + n * h >= arr + dur else t2


@njit(**_INLINE)
def _serve(cl, first, k, h, slt, gs, starts, ends, write):
    """Serve rows first..first+k-1 in a green starting at gs; return (delay, finish)."""
    prev = gs + slt
    delay = 0.0
    for j in range(first, first + k):
        b = max(cl[j, ARR], prev)
        fin = max(cl[j, ARR] + cl[j, DUR], b + cl[j, CNT] * h)
        delay += _cluster_delay(cl[j, ARR], cl[j, DUR], cl[j, CNT], h, b)
        if write:
            starts[j] = b
            ends[j] = fin
        prev = fin
    return delay, prev
