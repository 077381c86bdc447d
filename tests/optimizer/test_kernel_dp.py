"""The DP kernel equals the plain-Python reference DP, on random and degenerate inputs (with
and without unseen demand, greedy tails and cyclic order)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import reference
from tests.optimizer.instances import CONTINUOUS, check_plan, instances, run_kernel


@settings(max_examples=200, deadline=None)
@given(instances(max_phases=4, max_clusters=3), st.sampled_from([1, 2, 8]))
def test_schedule_kernel_equals_reference(inst, capacity):
    assert run_kernel(inst, capacity) == reference.schedule(*inst, capacity=capacity)


RATES = st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.3, 1.0])


@st.composite
def with_rates(draw, draws=None):
    """An instance, per-phase unseen rates (veh/s, some zero), a horizon and a DP/tail split."""
    inst = draw(instances(max_phases=4, max_clusters=3, **({"draws": draws} if draws else {})))
    cl_ptr = inst[0]
    n_ph = len(cl_ptr) - 1
    rates = draw(st.lists(RATES, min_size=n_ph, max_size=n_ph))
    dp_end = [draw(st.integers(cl_ptr[p], cl_ptr[p + 1])) for p in range(n_ph)]
    start = draw(st.lists(st.sampled_from([0.0, 4.0, 11.5]), min_size=n_ph, max_size=n_ph))
    return inst, rates, draw(st.sampled_from([15.0, 60.0, 120.0])), dp_end, start


@settings(max_examples=200, deadline=None)
@given(with_rates(), st.sampled_from([1, 2, 8]))
def test_schedule_kernel_equals_reference_with_unseen_rates(case, capacity):
    inst, rates, horizon, dp_end, start = case
    args = {"capacity": capacity, "dp_end": dp_end, "rates": rates, "horizon": horizon}
    args["rates_from"] = start
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=80, deadline=None)
@given(with_rates(draws=CONTINUOUS), st.sampled_from([2, 8]))
def test_schedule_kernel_equals_reference_with_unseen_rates_continuous(case, capacity):
    inst, rates, horizon, _, start = case
    args = {"capacity": capacity, "rates": rates, "horizon": horizon, "rates_from": start}
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=100, deadline=None)
@given(with_rates(), st.sampled_from([2, 8]))
def test_zero_unseen_rates_change_nothing(case, capacity):
    inst, rates, horizon, dp_end, _ = case
    zeros = [0.0] * len(rates)
    plain = run_kernel(inst, capacity, dp_end)
    assert run_kernel(inst, capacity, dp_end, zeros, horizon) == plain
    assert reference.schedule(*inst, capacity, dp_end, zeros, horizon) == plain


def test_unseen_rate_charges_the_red_it_imposes():
    # Phase 0 green 10 s (min 5) with a car at 3 s; phase 1 has one car waiting. Serving the
    # car keeps phase 1 red until 10 s instead of 5 s: cheaper without unseen demand, dear
    # with 2 veh/s of it on phase 1: the plan ends the green now and serves the car later.
    timing = _timing(2)
    inst = ([0, 1, 2], [3.0, 0.0], [0.0, 0.0], [1.0, 1.0], timing, 0, 10.0)
    plain = reference.schedule(*inst)
    assert plain["greens"][0][3] == 1  # the running green serves the car
    dear = reference.schedule(*inst, rates=[0.0, 2.0], horizon=120.0)
    assert dear == run_kernel(inst, rates=[0.0, 2.0], horizon=120.0)
    assert dear["greens"][0][3] == 0 and dear["switch_at"] == 0.0
    # The charge is in the delay: phase 1 red from 0 to 5 s (clearance), 2 x 5^2 / 2 = 25; its
    # car waits to 7 s (start-up lost time) + half a headway (8); its green lasts until the 10
    # unseen vehicles of that red have left (7 + 10 x 2 = 27 s), so phase 0's car waits from
    # 3 to 34 s (32).
    assert dear["delay"] == 25.0 + 8.0 + 32.0
    assert dear["greens"][1][2] == 27.0
    # Serving the car first would cost 2 x 10^2 / 2 = 100 of red charge (and 11 of delay).


def _timing(n_ph, ming=5.0, maxg=40.0):
    return [[ming] * n_ph, [maxg] * n_ph, [3.5] * n_ph, [1.5] * n_ph, [2.0] * n_ph, [2.0] * n_ph]


@pytest.mark.parametrize("current", [-1, 0, 2])
def test_schedule_zero_demand_rests(current):
    inst = ([0, 0, 0, 0], [], [], [], _timing(3), current, 12.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    assert plan["delay"] == 0.0 and plan["switch_at"] == float("inf")
    assert [g[0] for g in plan["greens"]] == ([] if current < 0 else [current])


def test_schedule_one_phase():
    inst = ([0, 2], [0.0, 20.0], [0.0, 6.0], [4.0, 3.0], _timing(1), 0, 3.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert [g[0] for g in plan["greens"]] == [0]  # one green serves both


def test_schedule_saturated_every_phase():
    # Every phase has two full-green queues: the plan still serves all within the bounds.
    room = (40.0 - 2.0) / 2.0
    rows = [(0.0, 0.0, room), (0.0, 0.0, room)]
    inst = (
        [0, 2, 4, 6],
        [r[0] for r in rows * 3],
        [r[1] for r in rows * 3],
        [r[2] for r in rows * 3],
        _timing(3),
        1,
        40.0,
    )
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert plan["greens"][1][0] != 1  # the running green is at max green: it must end now
    assert plan["switch_at"] == 0.0


def test_schedule_current_phase_past_max_green_switches_now():
    inst = ([0, 1, 2], [0.0, 0.0], [0.0, 0.0], [3.0, 3.0], _timing(2), 0, 55.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    assert plan["switch_at"] == 0.0 and plan["greens"][0][3] == 0


def test_schedule_running_green_rests_past_max_green_until_another_phase_arrives():
    # Phase 0 is past max green (30 s of 20); phase 1's only vehicles arrive at 50 s. A green
    # for them may show at most 20 s, so it starts at 56 - 20 = 36 s at the earliest; until
    # then phase 0 rests in green (no other phase calls) instead of switching to an idle green.
    inst = ([0, 0, 1], [50.0], [0.0], [3.0], _timing(2, maxg=20.0), 0, 30.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert [g[:2] for g in plan["greens"]] == [(0, -30.0), (1, 36.0)]
    assert plan["switch_at"] == 36.0 - 3.5 - 1.5


# ---------------------------------------------------------------- cyclic order


@settings(max_examples=200, deadline=None)
@given(with_rates(), st.sampled_from([1, 2, 8]), st.booleans())
def test_schedule_kernel_equals_reference_in_cyclic_order(case, capacity, with_unseen):
    inst, rates, horizon, dp_end, start = case
    args = {"capacity": capacity, "dp_end": dp_end, "cyclic": True}
    if with_unseen:
        args.update(rates=rates, horizon=horizon, rates_from=start)
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=80, deadline=None)
@given(with_rates(draws=CONTINUOUS), st.sampled_from([2, 8]))
def test_schedule_kernel_equals_reference_in_cyclic_order_continuous(case, capacity):
    inst, _, _, dp_end, _ = case
    args = {"capacity": capacity, "dp_end": dp_end, "cyclic": True}
    plan = run_kernel(inst, **args)
    assert plan == reference.schedule(*inst, **args)
    check_plan(inst, plan)
