"""Queue estimates per signal group from detector counts alone.

Vehicles counted at a group's advance detectors and not yet counted leaving over its stop-bar
detectors are queued, or on their way to the queue: a vehicle counted at an advance loop reaches
the stop bar `travel_s` later (the config gives no detector positions, so one travel time for
every advance loop). Departures take the oldest vehicles first. Counts arrive as 16-bit wrapping
totals. Presence on a stop-bar loop means at least one vehicle waits there.
"""

from __future__ import annotations

from collections import deque


class QueueEstimator:
    def __init__(self, ix, travel_s: float = 0.0):
        if not travel_s >= 0:
            raise ValueError(f"travel_s must be >= 0, got {travel_s!r}")
        self.travel_s = float(travel_s)
        self.groups = [g.name for g in ix.groups]
        index = {name: i for i, name in enumerate(self.groups)}
        ordered = sorted(ix.detectors, key=lambda d: d.input)
        self._role = [d.role for d in ordered]
        self._groups_of = [[index[g] for g in d.calls] for d in ordered]
        self.reset()
        self._present = [False] * len(self.groups)

    def reset(self) -> None:
        """Forget the counters' baseline (the controller restarted and counts from zero)."""
        self._last: list[int | None] = [None] * len(self._role)
        self._at_bar = [0] * len(self.groups)  # reached the stop bar (by the travel time)
        # per group: [stop-bar arrival time, vehicles] counted in, not at the stop bar yet
        self._coming: list[deque[list]] = [deque() for _ in self.groups]

    def update(self, rows: list[tuple[int, int, int]], now_s: float = 0.0) -> list[float]:
        """Feed one DETECTORS report (count, occupancy, presence per detector), counted up to
        `now_s` (any clock, the same as `approaching`'s); return the queues."""
        if len(rows) != len(self._role):
            raise ValueError(f"expected {len(self._role)} detectors, got {len(rows)}")
        self._present = [False] * len(self.groups)
        arriving = [0] * len(self.groups)
        leaving = [0] * len(self.groups)
        for i, (count, _occ, presence) in enumerate(rows):
            last = self._last[i]
            delta = 0 if last is None else (count - last) % 65536
            self._last[i] = count
            for g in self._groups_of[i]:
                if self._role[i] == "advance":
                    arriving[g] += delta
                elif self._role[i] == "stop_bar":
                    leaving[g] += delta
                    self._present[g] = self._present[g] or bool(presence)
        for g in range(len(self.groups)):
            if arriving[g]:
                self._coming[g].append([now_s + self.travel_s, arriving[g]])
            self._settle(g, now_s)
            self._leave(g, leaving[g])
        return self.queues()

    def _settle(self, g: int, now_s: float) -> None:
        coming = self._coming[g]
        while coming and coming[0][0] <= now_s:
            self._at_bar[g] += coming.popleft()[1]

    def _leave(self, g: int, n: int) -> None:
        """Oldest first; more departures than arrivals (missed counts) empty the group, so the
        error never builds up."""
        take = min(n, self._at_bar[g])
        self._at_bar[g] -= take
        n -= take
        coming = self._coming[g]
        while n and coming:
            take = min(n, coming[0][1])
            coming[0][1] -= take
            n -= take
            if not coming[0][1]:
                coming.popleft()

    def queues(self) -> list[float]:
        """Per group, vehicles counted in and not out: at the stop bar or on their way to it."""
        q = []
        for g in range(len(self.groups)):
            n = self._at_bar[g] + sum(n for _, n in self._coming[g])
            if n == 0 and self._present[g]:
                n = 1
            q.append(float(n))
        return q

    def approaching(self, now_s: float) -> tuple[list[float], list[list[tuple[float, int]]]]:
        """(standing, coming) per group at `now_s`: vehicles at the stop bar (at least 1 while
        its loop is occupied), and (seconds from now to the stop bar, vehicles) of those on
        their way, soonest first."""
        standing, coming = [], []
        for g in range(len(self.groups)):
            self._settle(g, now_s)
            n = self._at_bar[g]
            standing.append(float(1 if n == 0 and self._present[g] else n))
            coming.append([(t - now_s, k) for t, k in self._coming[g]])
        return standing, coming
