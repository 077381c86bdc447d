"""gateway.planner: the optimizer loop's choice from the queue estimator's view, with the real
estimator and the real optimizer (edge.optimizer) behind it."""

from dataclasses import replace
from unittest.mock import ANY

import pytest

from edge.factories import cross
from gateway.estimator import QueueEstimator
from gateway.planner import ALGORITHMS, Schedule, make, warm_up
from tests.gateway.test_estimator import Feed


@pytest.fixture(scope="module", autouse=True)
def kernels():
    warm_up("schedule")


def planner(ix=None, name="schedule", travel_s=6.0):
    ix = ix or cross()
    est = QueueEstimator(ix, travel_s=travel_s)
    feed = Feed(ix)
    est.update(feed.rows(), now_s=0.0)
    return make(name, ix, est), est, feed


def phase(ix, name):
    return [p.name for p in ix.phases].index(name)


def test_standing_vehicles_are_a_queue_at_0_and_counted_ones_arrive_after_the_travel_time():
    p, est, feed = planner()
    ix = p.ix
    est.update(feed.rows({"e_thru_adv": 3, "w_thru_adv": 1}), now_s=10.0)
    est.update(feed.rows({"e_thru_adv": 2}), now_s=14.0)
    clusters = p.clusters(17.0)
    ew = phase(ix, "ew_thru")
    # the first four are at the stop bar; two more are due at 20 s, 3 s from now
    assert clusters[ew] == [(0.0, 0.0, 4.0), (3.0, p.headway_s[ew], 2.0)]
    assert all(clusters[q] == [] for q in range(len(ix.phases)) if q != ew)
    assert p.headway_s[ew] == 1.0  # two groups, one lane each, discharge side by side


def test_a_phase_with_a_queue_is_switched_to_once_the_empty_green_has_had_its_min_green():
    p, est, feed = planner()
    ix = p.ix
    current, target = phase(ix, "ns_thru"), phase(ix, "ew_left")
    est.update(feed.rows({"e_left_stop": 0}, presence={"e_left_stop"}), now_s=1.0)
    best, info = p.decide(1.0, current, elapsed_s=3.0)
    assert best == current  # min green (7 s) first
    assert info["plan"]["next_phase"] == "ew_left"
    assert info["plan"]["switch_in_s"] == pytest.approx(4.0)
    best, info = p.decide(5.0, current, elapsed_s=7.0)
    assert best == target
    assert info["plan"]["switch_in_s"] == pytest.approx(0.0)


def test_with_nothing_waiting_anywhere_the_green_rests_and_no_next_phase_is_planned():
    p, _, _ = planner()
    best, info = p.decide(1.0, 1, elapsed_s=30.0)
    assert best == 1
    assert info["plan"]["next_phase"] is None
    assert info["plan"]["delay_veh_s"] == 0.0


def test_a_busy_green_is_extended_while_its_platoon_arrives():
    p, est, feed = planner()
    ix = p.ix
    current = phase(ix, "ns_thru")
    est.update(feed.rows({"n_thru_adv": 4, "s_thru_adv": 4}, presence={"w_left_stop"}), 10.0)
    best, info = p.decide(12.0, current, elapsed_s=8.0)
    assert best == current  # eight vehicles 4 s away beat one waiting left turn
    assert info["plan"]["next_phase"] == "ew_left"
    assert info["plan"]["switch_in_s"] > 4.0


def test_a_group_in_two_phases_is_demand_of_the_first():
    ix = cross()
    overlap = replace(ix.phases[1], groups=(*ix.phases[1].groups, "n_left"))
    ix = replace(ix, phases=(ix.phases[0], overlap, *ix.phases[2:]))
    p = Schedule(ix, QueueEstimator(ix))
    assert p.serving[ix.group_index("n_left")] == 0
    assert p.headway_s[:2] == [1.0, 1.0]


def test_max_pressure_serves_the_largest_queue():
    p, est, feed = planner(name="max-pressure", travel_s=0.0)
    ix = p.ix
    est.update(feed.rows({"e_thru_adv": 5, "n_left_adv": 1}), now_s=1.0)
    assert p.decide(1.0, phase(ix, "ns_left"), 10.0) == (phase(ix, "ew_thru"), {})


def test_an_unknown_algorithm_is_refused_naming_the_choices():
    ix = cross()
    with pytest.raises(ValueError, match=r"one of schedule, max-pressure, got 'webster'"):
        make("webster", ix, QueueEstimator(ix))
    assert ALGORITHMS == ("schedule", "max-pressure")


# The simulator's rules that need no zones (edge.optimizer.rules), as the gateway applies them


def test_a_queue_one_max_green_cannot_clear_counts_once_per_max_green_it_needs():
    ix = cross()
    left = phase(ix, "ew_left")  # max green 30 s, two groups: 1 s a vehicle
    plain, weighted = (planner(ix, travel_s=0.0) for _ in range(2))
    for _, est, feed in (plain, weighted):
        est.update(feed.rows({"e_left_adv": 20, "w_left_adv": 20, "n_thru_adv": 5}), now_s=1.0)
    plain, weighted = plain[0], weighted[0]
    assert weighted.overflow_weight  # on by default
    plain.overflow_weight = False
    assert plain.clusters(1.0)[left] == [(0.0, 0.0, 40.0)]
    # 2 s lost + 40 vehicles at 1 s = 42 s: 1.4 max greens
    assert weighted.clusters(1.0)[left] == [(0.0, 0.0, pytest.approx(56.0))]
    # a queue its max green clears keeps its count
    assert weighted.clusters(1.0)[phase(ix, "ns_thru")] == [(0.0, 0.0, 5.0)]


def test_the_running_greens_queue_is_split_at_what_its_remaining_max_green_serves():
    ix = cross()
    left = phase(ix, "ew_left")
    p, est, feed = planner(ix, travel_s=0.0)
    assert p.split_running  # on by default
    est.update(feed.rows({"e_left_adv": 5, "w_left_adv": 5}), now_s=1.0)
    first, rest = p.clusters(1.0, left, elapsed_s=26.0)[left]  # 4 s of its 30 s left: 4 fit
    assert first == (0.0, 0.0, pytest.approx(4.0, rel=1e-5))
    assert rest == (0.0, 0.0, pytest.approx(6.0, rel=1e-5))
    # a queue the remaining green clears, another phase green, or the option off: one cluster
    assert p.clusters(1.0, left, elapsed_s=10.0)[left] == [(0.0, 0.0, 10.0)]
    assert p.clusters(1.0, phase(ix, "ns_thru"), elapsed_s=26.0)[left] == [(0.0, 0.0, 10.0)]
    p.split_running = False
    assert p.clusters(1.0, left, elapsed_s=26.0)[left] == [(0.0, 0.0, 10.0)]


def _skipping(guard):
    """ew_thru's call latched at 1 s; at ew_left's green (just before it) the plan wants ns_left,
    which skips ew_thru: within the call bound at 30 s, not at 60 s."""
    ix = cross()
    p, est, feed = planner(ix, travel_s=0.0)
    p.guard = guard
    est.update(feed.rows(presence={"e_thru_stop"}), now_s=1.0)
    p.decide(1.0, phase(ix, "ns_thru"), elapsed_s=3.0)
    est.update(feed.rows({"n_left_adv": 6, "s_left_adv": 6}), now_s=2.0)
    return p, phase(ix, "ew_left")


def test_a_switch_the_controllers_starvation_guard_would_refuse_asks_for_the_phase_it_serves():
    p, current = _skipping(guard=True)
    ix = p.ix
    assert p.guard  # on by default
    # 29 s after the latch, skipping ew_thru keeps it within the call bound: the plan stands
    best, info = p.decide(30.0, current, elapsed_s=10.0)
    assert best == phase(ix, "ns_left") and "guard" not in info
    # 59 s after, the controller would refuse it ("would starve a call") and serve ew_thru
    best, info = p.decide(60.0, current, elapsed_s=10.0)
    assert best == phase(ix, "ew_thru")
    assert info["guard"] == {"planned": "ns_left"}
    assert info["plan"]["next_phase"] == "ns_left"  # the record keeps what the plan wanted
    # served: its call is cleared, and the plan's choice stands again
    p.decide(61.0, phase(ix, "ew_thru"), elapsed_s=1.0)
    assert p.decide(62.0, current, elapsed_s=10.0)[0] == phase(ix, "ns_left")


def test_without_the_guard_the_plans_switch_goes_down_as_planned():
    p, current = _skipping(guard=False)
    assert p.decide(60.0, current, elapsed_s=10.0) == (phase(p.ix, "ns_left"), ANY)
