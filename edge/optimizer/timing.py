"""Per-phase timing bounds for the optimizer, from plain arrays (no dependency on edge.model)."""

import math
from dataclasses import dataclass

import numpy as np

FIELDS = (
    "min_green_s",
    "max_green_s",
    "yellow_s",
    "all_red_s",
    "startup_lost_s",
    "sat_headway_s",
)
MIN_YELLOW_S = 3.0  # refused below this everywhere in Greenwave (docs/architecture.md)


@dataclass(frozen=True, eq=False)
class PhaseTiming:
    """Validated timing, one row per phase; columns as in FIELDS (seconds, s/vehicle).

    Build it with `phase_timing(...)` or `timing_from_phases(...)`, once per intersection.
    """

    array: np.ndarray  # (phases, 6) float64, read-only

    @property
    def n_phases(self):
        return self.array.shape[0]

    def __getattr__(self, name):
        if name in FIELDS:
            return tuple(float(v) for v in self.array[:, FIELDS.index(name)])
        raise AttributeError(name)


def _column(name, values, n):
    if isinstance(values, int | float | np.number):
        values = [values] * (n if n is not None else 1)
    return as_vector(name, values)


def as_vector(name, values):
    """A flat float64 array from a sequence of numbers, or ValueError naming `name`."""
    try:
        arr = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a flat sequence of numbers, got {values!r}")
    return arr


def phase_timing(
    min_green_s, max_green_s, yellow_s, all_red_s, startup_lost_s=2.0, sat_headway_s=2.0
):
    """Timing bounds per phase from plain sequences (a scalar applies to every phase).

    min/max green, yellow and all-red are the controller's (NTCIP) values in seconds;
    startup_lost_s is the time from green onset to the first vehicle crossing; sat_headway_s is
    the seconds between discharging vehicles of the phase (1 / saturation flow of its lanes
    together, e.g. 2.0 for one lane, 1.0 for two). Every problem is reported in one ValueError.
    """
    raw = (min_green_s, max_green_s, yellow_s, all_red_s, startup_lost_s, sat_headway_s)
    sizes = [len(v) for v in raw if hasattr(v, "__len__") and not isinstance(v, str)]
    n = sizes[0] if sizes else 1
    cols = [_column(name, values, n) for name, values in zip(FIELDS, raw, strict=True)]
    problems = []
    for name, col in zip(FIELDS, cols, strict=True):
        if col.size != n:
            problems.append(f"{name} has {col.size} values but there are {n} phases")
    if n == 0:
        problems.append("no phases: give at least one value per field")
    if problems:
        raise ValueError("; ".join(problems))
    table = np.empty((n, len(FIELDS)))
    for c, col in enumerate(cols):
        table[:, c] = col
    for p in range(n):
        row = dict(zip(FIELDS, (float(v) for v in table[p]), strict=True))
        for name, v in row.items():
            if not math.isfinite(v) or v < 0:
                problems.append(f"phase {p}: {name} must be finite and >= 0, got {v!r}")
        if row["min_green_s"] > row["max_green_s"]:
            problems.append(
                f"phase {p}: min_green_s {row['min_green_s']!r} is above "
                f"max_green_s {row['max_green_s']!r}"
            )
        if row["yellow_s"] < MIN_YELLOW_S:
            problems.append(
                f"phase {p}: yellow_s must be >= {MIN_YELLOW_S}, got {row['yellow_s']!r}"
            )
        if not row["sat_headway_s"] > 0:
            problems.append(f"phase {p}: sat_headway_s must be > 0, got {row['sat_headway_s']!r}")
        if not row["max_green_s"] > row["startup_lost_s"]:
            problems.append(
                f"phase {p}: max_green_s {row['max_green_s']!r} leaves no time after "
                f"startup_lost_s {row['startup_lost_s']!r}"
            )
    if problems:
        raise ValueError("; ".join(problems))
    table.setflags(write=False)
    return PhaseTiming(table)


def timing_from_phases(phases, startup_lost_s=2.0, sat_headway_s=2.0):
    """Adapter for any phase objects with min_green_s, max_green_s, yellow_s, all_red_s.

    Duck-typed so that it works with edge.model's phases without importing it.
    """
    phases = list(phases)
    try:
        cols = [[getattr(ph, f) for ph in phases] for f in FIELDS[:4]]
    except AttributeError as e:
        raise ValueError(f"a phase lacks a timing attribute: {e}") from None
    return phase_timing(*cols, startup_lost_s, sat_headway_s)
