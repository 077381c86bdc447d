"""Watchdog supervisor: the watchdog is fed only while every critical task shows a heartbeat.

Each critical task (detector sampling, control, link) writes the time of its turn into its slot
of a `beats` list once per tick. The supervisor task (app.main) asks `stalled` each tick and
feeds the watchdog only while it answers -1: a frozen task means no feeding, so a reset, and
the app drives the heads to flash first. Pure logic: no clock, no machine, no asyncio; times
come in and are compared with `ticks.diff` only, so the 2^30 wrap is harmless.
"""

from . import ticks


def stalled(beats, now_ms, limit_ms):
    """The index of the first task whose last beat is more than limit_ms before now_ms (or so
    long ago that the difference wrapped negative), else -1."""
    for i in range(len(beats)):
        d = ticks.diff(now_ms, beats[i])
        if d > limit_ms or d < 0:
            return i
    return -1
