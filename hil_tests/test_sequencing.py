"""The real firmware on the real interpreter, clock stepped lock-step by the rig, checked by the
rig's own safety oracle (not the firmware's monitor)."""

import random

import pytest

from edge.factories import cross, nema8, tee
from hil_tests.rig.emulator import EmulatedController

WRAP = 1 << 30


def _detectors_for(ix, groups):
    mask = 0
    for d in ix.detectors:
        if set(d.calls) & set(groups):
            mask |= 1 << d.input
    return mask


def _explain(rig):
    return (
        f"violations: {[str(v) for v in rig.oracle.violations[:5]]}\n"
        f"last changes: {rig.changes[-8:]}\nfirmware log {rig.log_path}:\n{rig.log_tail()}"
    )


def test_startup_goes_flash_then_all_red_then_first_phase(rig_kind):
    ix = cross()
    with EmulatedController(ix, clock="stepped", heapsize="64k") as rig:
        rig.advance(20_000)
        seq = [s for _, s in rig.changes]
        n = len(ix.groups)
        assert seq[0] == "f" * n, _explain(rig)
        assert seq[1] == "r" * n, _explain(rig)
        assert "G" in seq[2] and set(seq[2]) <= {"G", "r"}, _explain(rig)
        t_flash_end = rig.changes[1][0]
        assert t_flash_end >= ix.startup_flash_s - 0.011
        assert rig.oracle.violations == [], _explain(rig)


def test_random_demand_across_the_tick_wrap_is_safe_and_serves_every_phase(rig_kind):
    """Ten virtual minutes of random calls, starting 60 s before the 2^30 ms counter wraps."""
    ix = cross()
    rng = random.Random(7)
    with EmulatedController(ix, clock="stepped", offset_ms=WRAP - 60_000, heapsize="64k") as rig:
        t = 0
        while t < 600_000:
            rig.set_detectors(
                rng.getrandbits(len(ix.detectors)) & rng.getrandbits(len(ix.detectors))
            )
            t += rng.choice((100, 500, 1000, 3000))
            rig.advance(t)
        assert rig.alive, _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
        greens = {s for _, s in rig.changes if "G" in s}
        for p in ix.phases:
            idx = [ix.group_index(g) for g in p.groups]
            assert any(all(s[i] == "G" for i in idx) for s in greens), (
                f"phase {p.name} never served\n" + _explain(rig)
            )


def test_every_green_ends_through_yellow_then_all_red(rig_kind):
    ix = tee()
    with EmulatedController(ix, clock="stepped", heapsize="64k") as rig:
        every = (1 << len(ix.detectors)) - 1
        rig.set_detectors(every)
        rig.advance(300_000)
        changes = rig.changes
        assert len(changes) > 10, _explain(rig)
        for (_, before), (_, after) in zip(changes, changes[1:], strict=False):
            for i, (a, b) in enumerate(zip(before, after, strict=True)):
                if a == "G" and b != "G":
                    assert b == "y", f"group {ix.groups[i].name}: {before} -> {after}"
                if a == "y" and b != "y":
                    assert b == "r", f"group {ix.groups[i].name}: {before} -> {after}"
        assert rig.oracle.violations == [], _explain(rig)


def test_a_lone_call_on_a_side_phase_is_served(rig_kind):
    ix = cross()
    side = ix.phases[-1]
    with EmulatedController(ix, clock="stepped") as rig:
        rig.advance(15_000)
        rig.set_detectors(_detectors_for(ix, side.groups))
        rig.advance(16_000)
        rig.set_detectors(0)
        rig.advance(120_000)
        idx = [ix.group_index(g) for g in side.groups]
        assert any(all(s[i] == "G" for i in idx) for _, s in rig.changes), _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)


def test_peds_and_preemption_run_in_a_64k_heap(rig_kind):
    """The largest canonical config (pedestrian groups, push buttons, a preempt input) runs in a
    board's 64 KiB heap: six virtual minutes of random demand and two preemptions, no reset
    (a MemoryError resets the controller), no oracle violation, walks shown, preemption served."""
    ix = cross(peds=True, preempt=True)
    pre = next(d for d in ix.detectors if d.role == "preempt")
    buttons = [d.input for d in ix.detectors if d.role == "ped_button"]
    others = sum(1 << d.input for d in ix.detectors if d.role not in ("preempt", "ped_button"))
    peds = [ix.group_index(g.name) for g in ix.groups if g.kind == "pedestrian"]
    ns_thru = [ix.group_index(g) for g in pre.calls]
    rng = random.Random(11)
    with EmulatedController(ix, clock="stepped", heapsize="64k") as rig:
        t = 0
        served = []
        while t < 360_000:
            levels = rng.getrandbits(len(ix.detectors)) & rng.getrandbits(len(ix.detectors))
            levels &= others
            if rng.random() < 0.2:
                levels |= 1 << rng.choice(buttons)
            hold_end = 130_000 if t < 200_000 else 280_000  # each preemption is held 30 s
            preempting = hold_end - 30_000 <= t < hold_end
            if preempting:
                levels |= 1 << pre.input
            rig.set_detectors(levels)
            t += rng.choice((100, 500, 1000, 3000))
            rig.advance(t)
            if preempting and hold_end - 5_000 <= t < hold_end:  # the input still held
                served.append(all(rig.signals[i] == "G" for i in ns_thru))
        assert rig.alive and rig.resets == [], _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
        for i in peds:
            assert any(s[i] not in "rf" for _, s in rig.changes), (
                f"{ix.groups[i].name} never walked\n" + _explain(rig)
            )
        assert served and all(served), f"preemption not holding ns_thru: {served}\n" + _explain(rig)


# A board's heap: a config with rings loads firmware/rings.py instead of the free-order half of
# the sequencer (firmware/free.py). docs/architecture.md (Memory) has the figures.
RING_HEAP = "64k"


@pytest.mark.parametrize("full", [False, True], ids=["nema8", "nema8-peds-preempt"])
def test_nema_8_phase_dual_ring_on_the_interpreter(rig_kind, full):
    """The NEMA 8-phase dual ring (ring 1 = p1 p2 | p3 p4, ring 2 = p5 p6 | p7 p8) on the real
    interpreter: ten virtual minutes of random demand across the 2^30 wrap, no reset, no oracle
    violation, every phase served, two phases of different rings green together, and the rings
    crossing each barrier together (never a phase of one side green or yellow while a phase of
    the other side is). With walks and a preempt input (p4): walks shown, and p4 alone green
    while the preemption is held."""
    ix = nema8(peds=full, preempt=full)
    rng = random.Random(5)
    idx = [ix.group_index(p.groups[0]) for p in ix.phases]
    side = {idx[k]: 0 if k % 4 < 2 else 1 for k in range(8)}  # p1 p2 p5 p6 | p3 p4 p7 p8
    pre = [d.input for d in ix.detectors if d.role == "preempt"]
    plain = sum(1 << d.input for d in ix.detectors if d.role != "preempt")
    held = []
    with EmulatedController(
        ix, clock="stepped", offset_ms=WRAP - 60_000, heapsize=RING_HEAP
    ) as rig:
        t = 0
        while t < 600_000:
            n = len(ix.detectors)
            levels = rng.getrandbits(n) & rng.getrandbits(n) & rng.getrandbits(n) & plain
            preempting = pre and 300_000 <= t < 330_000
            if preempting:
                levels |= 1 << pre[0]
            rig.set_detectors(levels)
            t += rng.choice((100, 500, 1000, 3000))
            rig.advance(t)
            if preempting and t >= 325_000:  # the input still held: p4 alone, green
                held.append(rig.signals)
        assert rig.alive and rig.resets == [], _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
        states = [s for _, s in rig.changes]
        for k, i in enumerate(idx):
            assert any(s[i] == "G" for s in states), f"p{k + 1} never served\n" + _explain(rig)
        assert any(sum(s[i] == "G" for i in idx) == 2 for s in states), _explain(rig)
        for s in states:
            shown = {side[i] for i in idx if s[i] in "Gy"}
            assert len(shown) <= 1, f"both sides of the barrier at once: {s}\n" + _explain(rig)
        for g in ix.groups:
            if g.kind == "pedestrian":
                i = ix.group_index(g.name)
                assert any(s[i] == "G" for s in states), f"{g.name} never walked\n" + _explain(rig)
        if full:
            p4 = ix.group_index("w_thru")
            assert held and all(
                s[p4] == "G" and sum(s[i] == "G" for i in idx) == 1 for s in held
            ), f"preemption not holding p4 alone: {held}\n" + _explain(rig)
