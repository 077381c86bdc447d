"""The plain-Python reference: its model pieces, and its DP against exhaustive search."""

import math
import random

import pytest
from hypothesis import given, settings

from edge.optimizer import reference
from tests.optimizer.instances import CONTINUOUS, check_plan, instances, run_kernel


def _numeric_delay(arr, dur, n, h, b, steps=20000):
    """Integrate arrived - served over time with a fine midpoint rule."""
    end = max(arr + dur, b + n * h)
    dt = (end - arr) / steps
    total = 0.0
    for i in range(steps):
        t = arr + (i + 0.5) * dt
        arrived = n if dur == 0 or t >= arr + dur else n * (t - arr) / dur
        served = min(arrived, max(0.0, (t - b) / h)) if t > b else 0.0
        served = min(served, arrived)
        total += (arrived - served) * dt
    return total


def test_cluster_delay_matches_numeric_integration():
    rng = random.Random(4)
    for _ in range(40):
        arr = rng.uniform(0, 20)
        dur = rng.choice([0.0, rng.uniform(0.1, 30)])
        n = rng.uniform(0.5, 12)
        h = rng.choice([1.0, 2.0, 2.5])
        b = arr + rng.choice([0.0, rng.uniform(0, 40)])
        got = reference.cluster_delay(arr, dur, n, h, b)
        want = _numeric_delay(arr, dur, n, h, b)
        assert got == pytest.approx(want, rel=2e-3, abs=1e-3), (arr, dur, n, h, b)


def test_cluster_delay_known_values():
    # A standing queue of 4 served from t=10 at 2 s/veh: 4*10 waiting + 4*4*2/2 discharging.
    assert reference.cluster_delay(0.0, 0.0, 4.0, 2.0, 10.0) == 56.0
    # A platoon no denser than saturation, served on arrival, is not delayed.
    assert reference.cluster_delay(5.0, 10.0, 5.0, 2.0, 5.0) == 0.0


def _fits(block, gs):
    arr, dur, cnt, k, h, slt, maxg = block
    _, fin, _, _ = reference.serve_block(arr, dur, cnt, 0, k, h, slt, gs)
    return fin - gs <= maxg + 1e-9


def test_block_start_is_the_earliest_feasible_start():
    rng = random.Random(5)
    for _ in range(200):
        k = rng.randint(1, 3)
        arr = sorted(rng.uniform(0, 30) for _ in range(k))
        dur = [rng.uniform(0, 8) for _ in range(k)]
        cnt = [rng.uniform(0.5, 5) for _ in range(k)]
        h, slt, maxg = 2.0, rng.choice([0.0, 2.0]), rng.choice([10.0, 20.0, 40.0])
        ready = rng.uniform(0, 30)
        block = (arr, dur, cnt, k, h, slt, maxg)
        gs = reference.block_start(arr, dur, cnt, 0, k, h, slt, maxg, ready)
        if gs is None:
            assert not any(_fits(block, ready + t) for t in range(0, 200, 5))
            continue
        assert gs >= ready and _fits(block, gs)
        if gs > ready:
            assert not _fits(block, gs - 0.01)


@settings(max_examples=150, deadline=None)
@given(instances(max_phases=3, max_clusters=2))
def test_schedule_finds_the_exhaustive_optimum(inst):
    plan = reference.schedule(*inst)
    assert plan is not None
    assert plan["pruned"] == 0
    check_plan(inst, plan)
    best = reference.schedule_exhaustive(*inst)
    assert plan["delay"] == pytest.approx(best, rel=1e-9, abs=1e-9)


@settings(max_examples=30, deadline=None)
@given(instances(max_phases=4, max_clusters=3))
def test_schedule_finds_the_exhaustive_optimum_bigger(inst):
    plan = reference.schedule(*inst, capacity=64)
    check_plan(inst, plan)
    assert plan["delay"] == pytest.approx(reference.schedule_exhaustive(*inst), rel=1e-9)


@settings(max_examples=30, deadline=None)
@given(instances(max_phases=4, max_clusters=3))
def test_schedule_finds_the_exhaustive_optimum_in_cyclic_order(inst):
    plan = reference.schedule(*inst, capacity=64, cyclic=True)
    check_plan(inst, plan)
    best = reference.schedule_exhaustive(*inst, cyclic=True)
    assert plan["delay"] == pytest.approx(best, rel=1e-9)
    assert best >= reference.schedule_exhaustive(*inst) - 1e-9 * max(1.0, best)


@settings(max_examples=100, deadline=None)
@given(instances(max_phases=3, max_clusters=2, draws=CONTINUOUS))
def test_schedule_finds_the_exhaustive_optimum_continuous_times(inst):
    plan = reference.schedule(*inst, capacity=64)
    check_plan(inst, plan)
    assert plan["delay"] == pytest.approx(reference.schedule_exhaustive(*inst), rel=1e-9)


def test_schedule_regression_reviewer_instance():
    # Found by a reviewer (three phases, from all-red, continuous times); the optimum is
    # 324.9925 veh-s: phase 2, then 1 (three clusters), then 0, then 2 again.
    inst = (
        [0, 1, 4, 6],
        [29.7, 12.3, 14.8, 23.1, 10.8, 38.1],
        [6.1, 12.7, 11.0, 9.7, 6.0, 6.0],
        [5.5, 5.1, 4.0, 1.8, 2.4, 2.4],
        [
            [7.0, 5.0, 0.0],
            [37.0, 25.0, 6.0],
            [3.0, 3.0, 3.0],
            [2.0, 0.0, 2.0],
            [2.0, 0.0, 0.0],
            [2.5, 2.0, 2.5],
        ],
        -1,
        20.0,
    )
    plan = reference.schedule(*inst)
    check_plan(inst, plan)
    best = reference.schedule_exhaustive(*inst)
    assert best == pytest.approx(324.9925, abs=1e-9)
    assert plan["delay"] == pytest.approx(best, rel=1e-9)
    assert run_kernel(inst)["delay"] == plan["delay"]


def test_schedule_waits_for_a_platoon_rather_than_splitting_it():
    # One phase, max green 20 s: 6 vehicles trickling in over 30 s fit in one green only if
    # it starts late enough for them to bunch up: at 30 - 20 = 10 s, when 2 have arrived.
    inst = ([0, 1], [0.0], [30.0], [6.0], [[0.0], [20.0], [3.0], [1.0], [2.0], [2.0]], -1, 0.0)
    plan = reference.schedule(*inst)
    check_plan(inst, plan)
    ((phase, start, end, k),) = plan["greens"]
    assert (phase, start, end, k) == (0, 10.0, 30.0, 1)


def test_webster_textbook_values():
    timing = [[5.0, 5.0], [60.0, 60.0], [3.0, 3.0], [0.0, 0.0], [2.0, 2.0], [2.0, 2.0]]
    # y = 0.3 + 0.2, L = 2 * (2 + 3) = 10: C = (1.5 * 10 + 5) / 0.5 = 40, 30 s effective green.
    cycle, greens, ratios = reference.webster(
        [540, 360], [1800, 1800], [[0], [1]], timing, 30.0, 120.0
    )
    assert ratios == [0.3, 0.2]
    assert greens == pytest.approx([18.0 + 2.0, 12.0 + 2.0])
    assert cycle == pytest.approx(40.0)


def test_webster_saturated_uses_the_longest_cycle():
    timing = [[5.0, 5.0], [200.0, 200.0], [3.0, 3.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]]
    cycle, greens, _ = reference.webster([1800, 1800], [1800, 1800], [[0], [1]], timing, 30.0, 90.0)
    assert cycle == pytest.approx(90.0) and greens[0] == greens[1]


def test_max_pressure_reference_examples():
    assert reference.max_pressure([1, 5, 2], [[0], [1], [2]])[0] == 1
    assert reference.max_pressure([1, 5, 2], [[0], [1], [2]], current=2, min_switch_gain=3)[0] == 2
    assert math.isclose(reference.max_pressure([1, 5], [[0, 1]])[1][0], 6.0)


def test_planned_green_counts_idle_green_toward_max_green():
    # From all-red, one phase (max green 20 s, start-up 2 s, 2 s/veh): 5 queued vehicles arrive
    # at 30 s. A green starting at 0 would show 40 s of green (30 s of it idle) for 10 s of
    # service: over max green. The green may start at 40 - 20 = 20 s at the earliest.
    inst = ([0, 1], [30.0], [0.0], [5.0], [[0.0], [20.0], [3.0], [1.0], [2.0], [2.0]], -1, 0.0)
    for plan in (reference.schedule(*inst), run_kernel(inst)):
        check_plan(inst, plan)
        ((phase, start, end, k),) = plan["greens"]
        assert (phase, start, end, k) == (0, 20.0, 40.0, 1)
        assert end - start <= 20.0
    assert reference.block_start([30.0], [0.0], [5.0], 0, 1, 2.0, 2.0, 20.0, 0.0) == 20.0
