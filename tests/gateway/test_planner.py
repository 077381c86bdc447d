"""gateway.planner: the optimizer loop's choice from the queue estimator's view, with the real
estimator and the real optimizer (edge.optimizer) behind it."""

from dataclasses import replace

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
