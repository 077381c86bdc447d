"""Decision rules around the schedule optimizer that need no particular sensing: the simulator's
strategy (edge.sim.schedule `Schedule`) and the gateway's (gateway.planner `Schedule`) both
apply them, so that what the SUMO study measures is what the gateway ships.

Pure logic over plain numbers (no SUMO, no MQTT, no serial, no clock reads; the caller gives
the time):

- `overflow_weight`: how many max greens a standing queue needs; the queue counts that often.
- `split_running`: the running phase's standing queue split at what its remaining max green
  can serve.
- `CallGuard`: the firmware's starvation guard (firmware/free.py `_allows`) mirrored from the
  calls as the gateway side sees them, and the phase the firmware would serve instead of a
  SWITCH it would refuse ("would starve a call").

docs/sim.md ("Strategies", sixth round) has the measurements behind each.
"""

from __future__ import annotations

from collections.abc import Sequence

Cluster = tuple[float, float, float]  # (arrival s from now, duration s, vehicles)


def overflow_weight(
    queue: float, headway_s: float, max_green_s: float, startup_lost_s: float
) -> float:
    """How many max greens a phase needs for its standing `queue` (at least 1).

    The plan serves every queue within its horizon; a phase capped by its max green (a
    protected left at 12 s) that cannot clear its queue in one green is put off behind the
    uncapped ones, and comes back twice in a cycle when it is finally served. Counting its
    vehicles this many times gives it the priority its lost capacity calls for.
    """
    need = startup_lost_s + queue * headway_s
    return max(1.0, need / max_green_s)


def split_running(
    clusters: list[Cluster],
    queue: float,
    *,
    max_green_s: float,
    elapsed_s: float,
    headway_s: float,
    startup_lost_s: float,
) -> list[Cluster]:
    """The running phase's clusters with its standing queue (the first, at 0) split at what its
    remaining max green serves: the optimizer cuts long clusters into parts of half a green,
    and a running green with less than a part left could serve none of them. Unchanged when
    the queue fits, the green is spent, or the first cluster is not that queue."""
    room = max_green_s - max(elapsed_s, startup_lost_s)
    fits = room / headway_s * (1.0 - 1e-6)
    if not 0 < fits < queue or not clusters or clusters[0] != (0.0, 0.0, queue):
        return clusters
    return [(0.0, 0.0, fits), (0.0, 0.0, queue - fits), *clusters[1:]]


class CallGuard:
    """The firmware's starvation guard as the gateway side sees it.

    The firmware latches a phase's call when a vehicle is on one of its groups' loops while it
    is red, and clears it when the phase is served; it refuses a SWITCH that would let a
    latched call wait past the call bound (max cycle plus the longest clearance), assuming max
    green everywhere afterwards in cyclic order, and then serves the first latched phase after
    the green one that it allows. `track` latches from what the caller senses; `target` is the
    phase to ask for instead of a SWITCH the guard would refuse.

    Timings are per phase (seconds), in phase order.
    """

    MARGIN_S = 1.0  # latch times are known to a decision step, not to the firmware's tick

    def __init__(
        self,
        min_green_s: Sequence[float],
        max_green_s: Sequence[float],
        yellow_s: Sequence[float],
        all_red_s: Sequence[float],
    ):
        self.min_green_s = list(min_green_s)
        self.max_green_s = list(max_green_s)
        self.yellow_s = list(yellow_s)
        self.all_red_s = list(all_red_s)
        sizes = [len(self.min_green_s), len(self.max_green_s), len(self.yellow_s)]
        sizes.append(len(self.all_red_s))
        if not sizes[0] or len(set(sizes)) > 1:
            raise ValueError(f"one timing per phase: min/max green, yellow, all-red {sizes!r}")
        n = sizes[0]
        self.latch_s: list[float | None] = [None] * n  # when each phase's call was latched
        timing = zip(self.max_green_s, self.yellow_s, self.all_red_s, strict=True)
        self.call_bound_s = sum(g + y + r for g, y, r in timing) + max(
            y + r for y, r in zip(self.yellow_s, self.all_red_s, strict=True)
        )

    @classmethod
    def for_phases(cls, phases) -> CallGuard:
        """From config phases (`min_green_s`, `max_green_s`, `yellow_s`, `all_red_s`)."""
        return cls(
            [ph.min_green_s for ph in phases],
            [ph.max_green_s for ph in phases],
            [ph.yellow_s for ph in phases],
            [ph.all_red_s for ph in phases],
        )

    def track(self, now_s: float, current: int, calling: Sequence[bool]) -> None:
        """Latch the calls of the phases `calling` (per phase: a vehicle on its loops) at
        `now_s`, unless already latched; the green phase `current` has none."""
        for k, call in enumerate(calling):
            if k == current:
                self.latch_s[k] = None
            elif self.latch_s[k] is None and call:
                self.latch_s[k] = now_s

    def allows(self, now_s: float, p: int, c: int, elapsed_s: float) -> bool:
        """Would serving c after p (green for elapsed_s) keep every other latched call within
        the call bound?"""
        n = len(self.latch_s)
        mx, yl, ar = self.max_green_s, self.yellow_s, self.all_red_s
        end = now_s + max(self.min_green_s[p] - elapsed_s, 0.0)
        base = yl[p] + ar[p] + mx[c] + yl[c]
        base += ar[c]
        for k, t in enumerate(self.latch_s):
            if t is None or k == c or k == p:
                continue
            total = end - t + base
            j = (c + 1) % n
            while j != k:
                total += mx[j] + yl[j] + ar[j]
                j = (j + 1) % n
            if total > self.call_bound_s - self.MARGIN_S:
                return False
        return True

    def target(self, now_s: float, current: int, target: int, elapsed_s: float) -> int:
        """The phase to ask for instead of `target`: `target` when the guard allows it, else
        the first latched phase after `current` in cyclic order that it allows (the
        firmware's own choice); `target` when there is none or no phase is green."""
        if current < 0 or self.allows(now_s, current, target, elapsed_s):
            return target
        n = len(self.latch_s)
        for step in range(1, n):
            k = (current + step) % n
            if self.latch_s[k] is not None and self.allows(now_s, current, k, elapsed_s):
                return k
        return target
