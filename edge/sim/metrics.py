"""Delay as the field measures it, from SUMO's own tripinfo output.

Delay per vehicle = `timeLoss + departDelay` (the RESCO benchmark's definition). The tripinfo
must be written with `--tripinfo-output.write-unfinished` and `--tripinfo-output.write-undeparted`:
SUMO then charges vehicles still driving their time loss so far, and vehicles that never got
into the network their wait until the end (`departDelay` up to the end, `depart="-1"`), so a
controller cannot look good by keeping vehicles out.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass


class TripinfoError(ValueError):
    """A tripinfo file that cannot be read; the message names the file and the element."""


@dataclass(frozen=True)
class Delay:
    """Summary of one run's tripinfo."""

    vehicles: int  # every tripinfo: finished, still running and undeparted
    trips: int  # finished trips (arrival >= 0)
    running: int  # departed, not arrived at the end
    undeparted: int  # never departed
    total_delay_s: float

    @property
    def mean_delay_s(self) -> float:
        return self.total_delay_s / self.vehicles if self.vehicles else 0.0


def _num(path, el, key) -> float:
    raw = el.get(key)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        raise TripinfoError(f"{path}: tripinfo {el.get('id')!r}: {key}={raw!r} is not a number")
    return value


def read_delay(path) -> Delay:
    """Summarise a tripinfo file (see the module docstring)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        raise TripinfoError(f"{path}: not valid XML: {e}") from None
    vehicles = trips = running = undeparted = 0
    total = 0.0
    for el in root.iter("tripinfo"):
        delay = _num(path, el, "timeLoss") + _num(path, el, "departDelay")
        if delay < 0:
            raise TripinfoError(f"{path}: tripinfo {el.get('id')!r}: negative delay {delay!r}")
        vehicles += 1
        total += delay
        if _num(path, el, "depart") < 0:
            undeparted += 1
        elif _num(path, el, "arrival") < 0:
            running += 1
        else:
            trips += 1
    return Delay(vehicles, trips, running, undeparted, total)
