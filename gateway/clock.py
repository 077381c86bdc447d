"""The one clock every process of the full chain reads: (wall clock - shared epoch) x speed.

At speed 1 with epoch 0 it is plain wall-clock time. The firmware's emulated HAL computes the
same value, so heartbeats and timeouts agree at --speed 20 exactly as at speed 1.
"""

from __future__ import annotations

import time


class ScaledClock:
    def __init__(self, epoch_ns: int = 0, speed: float = 1.0):
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, not {speed!r}")
        self.epoch_ns = epoch_ns
        self.speed = float(speed)

    def s(self) -> float:
        """Seconds since the epoch on the scaled clock."""
        return (time.time_ns() - self.epoch_ns) * self.speed / 1e9

    def ms(self) -> int:
        return int(self.s() * 1000)

    def sleep(self, virtual_s: float) -> None:
        """Sleep for `virtual_s` seconds of scaled time."""
        if virtual_s > 0:
            time.sleep(virtual_s / self.speed)
