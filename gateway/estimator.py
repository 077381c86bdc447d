"""Queue estimates per signal group from detector counts alone.

Vehicles counted at a group's advance detectors and not yet counted leaving over its stop-bar
detectors are queued (or on their way to the queue). Counts arrive as 16-bit wrapping totals.
Presence on a stop-bar loop means at least one vehicle waits there.
"""

from __future__ import annotations


class QueueEstimator:
    def __init__(self, ix):
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
        self._in = [0] * len(self.groups)
        self._out = [0] * len(self.groups)

    def update(self, rows: list[tuple[int, int, int]]) -> list[float]:
        """Feed one DETECTORS report (count, occupancy, presence per detector); return queues."""
        if len(rows) != len(self._role):
            raise ValueError(f"expected {len(self._role)} detectors, got {len(rows)}")
        self._present = [False] * len(self.groups)
        for i, (count, _occ, presence) in enumerate(rows):
            last = self._last[i]
            delta = 0 if last is None else (count - last) % 65536
            self._last[i] = count
            for g in self._groups_of[i]:
                if self._role[i] == "advance":
                    self._in[g] += delta
                elif self._role[i] == "stop_bar":
                    self._out[g] += delta
                    self._present[g] = self._present[g] or bool(presence)
        return self.queues()

    def queues(self) -> list[float]:
        q = []
        for g in range(len(self.groups)):
            n = max(0, self._in[g] - self._out[g])
            if n == 0 and self._present[g]:
                n = 1
            if self._out[g] > self._in[g]:  # missed arrivals: never let the error build up
                self._in[g] = self._out[g]
            q.append(float(n))
        return q
