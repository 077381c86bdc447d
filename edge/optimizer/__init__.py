"""Timing optimizer: decision functions behind one API (see docs/optimizer.md).

Importing this package is cheap: Numba and the compiled kernels load on the first call.
"""

from edge.optimizer.api import DEFAULT_MAX_WORK, max_pressure, schedule, warm_up, webster
from edge.optimizer.batch import schedule_batch
from edge.optimizer.clusters import (
    ClusterTable,
    cluster_table,
    flow_cluster,
    phase_clusters,
    projected_outflow,
)
from edge.optimizer.results import Decision, Green, Schedule, WebsterPlan
from edge.optimizer.timing import PhaseTiming, phase_timing, timing_from_phases

__all__ = [
    "DEFAULT_MAX_WORK",
    "ClusterTable",
    "Decision",
    "Green",
    "PhaseTiming",
    "Schedule",
    "WebsterPlan",
    "cluster_table",
    "flow_cluster",
    "max_pressure",
    "phase_clusters",
    "phase_timing",
    "projected_outflow",
    "schedule",
    "schedule_batch",
    "timing_from_phases",
    "warm_up",
    "webster",
]
