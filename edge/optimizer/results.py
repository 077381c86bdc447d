"""What the optimizer returns: the decision, a plan's greens, the schedule and the Webster plan,
and how a schedule is read out of the kernel's output arrays.
"""

import math
from dataclasses import dataclass, fields

import numpy as np

from edge.optimizer.checks import int_index, seconds
from edge.optimizer.clusters import ClusterTable


@dataclass(frozen=True)
class Decision:
    """What to do now.

    phase: the phase to be green until the next decision (current one, or next_phase when
        switching); switch: end the current green now (or start next_phase if none is green);
    next_phase: the phase the plan serves after the current green (-1 if none planned);
    switch_in_s: when the plan ends the current green (or starts the first one), from now.
    """

    phase: int
    switch: bool
    next_phase: int
    switch_in_s: float


@dataclass(frozen=True)
class Green:
    """One green of a plan: [start_s, end_s) from now, then its yellow and all-red."""

    phase: int
    start_s: float
    end_s: float
    clusters: int


@dataclass(frozen=True, eq=False)
class Schedule:
    """A schedule-driven plan: the decision, the greens, and how each cluster is served.

    green_* arrays describe the plan's greens in order (the `greens` property gives them as
    Green objects); the first is the running green when a phase is green now.
    clusters is the table actually planned (cut at the horizon, split and merged to the
    budget); cluster_start_s / cluster_end_s give each of its rows' service start and finish.
    states is the DP's size; pruned counts Pareto entries lost to the per-state capacity;
    tail_veh counts the vehicles of the clusters the DP's budget left to the greedy tail (the
    latest arrivals, served after the DP's greens by a simple rule); tail_from[p] is the row of
    `clusters` where phase p's tail starts (its end if it has none). The plan is optimal for
    `clusters` when pruned == 0 and tail_veh == 0. rollout: the plan is the DP's first one or two
    greens (after the running green's end) followed by the greedy rule, which beat every plan
    that serves all the DP's clusters first.
    """

    decision: Decision
    delay_veh_s: float
    green_phase: np.ndarray
    green_start_s: np.ndarray
    green_end_s: np.ndarray
    green_clusters: np.ndarray
    clusters: ClusterTable
    cluster_start_s: np.ndarray
    cluster_end_s: np.ndarray
    states: int
    pruned: int
    tail_veh: float
    tail_from: np.ndarray
    rollout: bool

    @property
    def greens(self):
        """The plan's greens as Green(phase, start_s, end_s, clusters), in order."""
        return tuple(
            Green(int(p), float(a), float(b), int(k))
            for p, a, b, k in zip(
                self.green_phase,
                self.green_start_s,
                self.green_end_s,
                self.green_clusters,
                strict=True,
            )
        )


@dataclass(frozen=True)
class WebsterPlan:
    """A fixed-time plan: cycle and displayed green per phase, phases in index order."""

    cycle_s: float
    green_s: tuple
    flow_ratio: tuple

    def decide(self, current, elapsed_s):
        """Extend `current` until its green time is used, then switch to the next phase."""
        n = len(self.green_s)
        cur = int_index("current", current, -1, n)
        elapsed = seconds("elapsed_s", elapsed_s)
        if cur < 0:
            return Decision(0, True, 0, 0.0)
        nxt = (cur + 1) % n
        left = max(self.green_s[cur] - elapsed, 0.0)
        if left > 0.0:
            return Decision(cur, False, nxt, left)
        return Decision(nxt, True, nxt, 0.0)


def frozen(cls, names, values):
    """cls(**dict(zip(names, values))) for a frozen dataclass, without its generated __init__
    (one object.__setattr__ per field): a city batch builds thousands of results."""
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


def decision_from(g_ph, g_t, g0, n_g, current, switch_at, step):
    """The decision from the plan's greens g0:g0 + n_g of g_ph/g_t."""
    if current < 0:
        nxt = int(g_ph[g0]) if n_g > 0 else -1
        switch = nxt >= 0 and (switch_at <= 0.0 or switch_at < step)
        return Decision(nxt if switch else current, switch, nxt, switch_at)
    # The plan may end the running green and, after its clearance, give the same phase green
    # again; the firmware refuses a SWITCH to the phase already green, so that is one longer
    # green: hold, and announce the first other phase and when the last such green ends.
    g = g0 + 1
    end = g0 + n_g
    while g < end and g_ph[g] == current:
        switch_at = float(g_t[g, 1])
        g += 1
    nxt = int(g_ph[g]) if g < end else -1
    switch = nxt >= 0 and (switch_at <= 0.0 or switch_at < step)
    if nxt < 0:
        switch_at = math.inf
    return Decision(nxt if switch else current, switch, nxt, switch_at)


SCHEDULE_FIELDS = tuple(f.name for f in fields(Schedule))


def schedule_from(n, fit_ptr, fit, dp_end, f0, n_g, g_ph, g_t, g_k, g0, cl_t, info, current, step):
    """A Schedule over the kernel's outputs (fresh arrays of this call: no copies): rows
    f0:f0 + n of fit and cl_t, greens g0:g0 + n_g of g_ph, g_t, g_k."""
    if n_g < 0:  # cannot happen for prepared input; a kernel bug if it does
        raise RuntimeError("the schedule optimiser found no plan serving every cluster")
    g1, f1 = g0 + n_g, f0 + n
    values = (  # in the order of Schedule's fields
        decision_from(g_ph, g_t, g0, n_g, current, float(info[1]), step),
        float(info[0]),
        g_ph[g0:g1],
        g_t[g0:g1, 0],
        g_t[g0:g1, 1],
        g_k[g0:g1],
        frozen(ClusterTable, ("ptr", "rows"), (fit_ptr, fit[f0:f1])),
        cl_t[f0:f1, 0],
        cl_t[f0:f1, 1],
        int(info[3]),
        int(info[2]),
        float(info[5]),
        dp_end,
        bool(info[6]),
    )
    return frozen(Schedule, SCHEDULE_FIELDS, values)
