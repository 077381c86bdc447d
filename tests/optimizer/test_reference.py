"""The plain-Python references: Webster, max-pressure, and the DP against exhaustive search."""

import math

import pytest
from hypothesis import given, settings

from edge.optimizer import reference, reference_model
from tests.optimizer.instances import CONTINUOUS, check_plan, instances, run_kernel


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
    assert reference_model.block_start([30.0], [0.0], [5.0], 0, 1, 2.0, 2.0, 20.0, 0.0) == 20.0
