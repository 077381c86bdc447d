"""gateway.estimator.QueueEstimator: queues per group from DETECTORS rows (count, occ, presence)."""

import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.factories import cross
from gateway.estimator import QueueEstimator


class Feed:
    """Builds DETECTORS rows for an intersection by detector name, keeping running counts."""

    def __init__(self, ix, start=0):
        self.order = [d.name for d in sorted(ix.detectors, key=lambda d: d.input)]
        self.counts = dict.fromkeys(self.order, start)

    def rows(self, add=None, presence=()):
        for name, n in (add or {}).items():
            self.counts[name] = (self.counts[name] + n) % 65536
        return [(self.counts[n], 0, 1 if n in presence else 0) for n in self.order]


def queues_by_name(est, q):
    return dict(zip(est.groups, q, strict=True))


@pytest.fixture
def ix():
    return cross()


def test_starts_empty_and_the_first_report_is_only_a_baseline(ix):
    # A gateway that starts late sees totals counted before it existed: they are not queues.
    est = QueueEstimator(ix)
    assert est.queues() == [0.0] * len(ix.groups)
    feed = Feed(ix, start=1234)
    assert est.update(feed.rows()) == [0.0] * len(ix.groups)


def test_arrivals_minus_departures_per_group(ix):
    est, feed = QueueEstimator(ix), Feed(ix)
    est.update(feed.rows())
    q = est.update(feed.rows({"n_thru_adv": 5, "e_left_adv": 2}))
    assert queues_by_name(est, q) == {g.name: 0.0 for g in ix.groups} | {
        "n_thru": 5.0,
        "e_left": 2.0,
    }
    q = est.update(feed.rows({"n_thru_stop": 3}))
    assert queues_by_name(est, q)["n_thru"] == 2.0
    assert queues_by_name(est, q)["e_left"] == 2.0
    q = est.update(feed.rows({"n_thru_stop": 2, "e_left_stop": 2}))
    assert q == [0.0] * len(ix.groups)


def test_counts_wrap_at_16_bits(ix):
    est, feed = QueueEstimator(ix), Feed(ix, start=65530)
    est.update(feed.rows())
    rows = feed.rows({"s_left_adv": 10})
    assert dict(zip(feed.order, rows, strict=True))["s_left_adv"][0] == 4  # wrapped on the wire
    q = est.update(rows)
    assert queues_by_name(est, q)["s_left"] == 10.0
    q = est.update(feed.rows({"s_left_stop": 9}))  # the stop bar wraps too: 65530 -> 3
    assert queues_by_name(est, q)["s_left"] == 1.0


def test_presence_on_the_stop_bar_means_at_least_one_waits(ix):
    est, feed = QueueEstimator(ix), Feed(ix)
    est.update(feed.rows())
    q = est.update(feed.rows(presence={"w_thru_stop"}))
    assert queues_by_name(est, q) == {g.name: 0.0 for g in ix.groups} | {"w_thru": 1.0}
    q = est.update(feed.rows())  # the car left without being counted (presence only)
    assert q == [0.0] * len(ix.groups)


def test_presence_on_an_advance_loop_is_not_a_queue(ix):
    est, feed = QueueEstimator(ix), Feed(ix)
    est.update(feed.rows())
    assert est.update(feed.rows(presence={"w_thru_adv"})) == [0.0] * len(ix.groups)


def test_presence_does_not_add_to_a_counted_queue(ix):
    est, feed = QueueEstimator(ix), Feed(ix)
    est.update(feed.rows())
    q = est.update(feed.rows({"e_thru_adv": 3}, presence={"e_thru_stop"}))
    assert queues_by_name(est, q)["e_thru"] == 3.0


def test_more_departures_than_arrivals_clamps_and_resynchronises(ix):
    est, feed = QueueEstimator(ix), Feed(ix)
    est.update(feed.rows())
    est.update(feed.rows({"n_left_adv": 2}))
    q = est.update(feed.rows({"n_left_stop": 6}))  # four arrivals were missed
    assert queues_by_name(est, q)["n_left"] == 0.0
    # The missed arrivals must not swallow the next real ones.
    q = est.update(feed.rows({"n_left_adv": 3}))
    assert queues_by_name(est, q)["n_left"] == 3.0


def test_a_report_with_the_wrong_number_of_detectors_is_refused(ix):
    est = QueueEstimator(ix)
    with pytest.raises(ValueError, match=r"expected 16 detectors, got 3"):
        est.update([(0, 0, 0)] * 3)


def _standin():
    """A two-group intersection whose detectors are listed out of input order."""
    det = types.SimpleNamespace
    return types.SimpleNamespace(
        groups=(types.SimpleNamespace(name="main"), types.SimpleNamespace(name="side")),
        detectors=(
            det(name="both_adv", input=2, calls=("main", "side"), role="advance"),
            det(name="main_stop", input=0, calls=("main",), role="stop_bar"),
            det(name="counter", input=3, calls=("side",), role="count"),
            det(name="side_stop", input=1, calls=("side",), role="stop_bar"),
        ),
    )


def test_rows_follow_detector_inputs_not_listing_order():
    est = QueueEstimator(_standin())
    est.update([(0, 0, 0)] * 4)
    # input 0 = main_stop, 1 = side_stop, 2 = both_adv, 3 = counter
    q = est.update([(0, 0, 0), (0, 0, 1), (4, 0, 0), (0, 0, 0)])
    assert q == [4.0, 4.0]  # an advance loop calling two groups feeds both
    q = est.update([(1, 0, 0), (0, 0, 0), (4, 0, 0), (0, 0, 0)])
    assert q == [3.0, 4.0]


def test_count_only_detectors_do_not_move_queues():
    est = QueueEstimator(_standin())
    est.update([(0, 0, 0)] * 4)
    assert est.update([(0, 0, 0), (0, 0, 0), (0, 0, 0), (50, 0, 1)]) == [0.0, 0.0]


# Each step: vehicles arriving at the advance loop, and how many of the waiting ones leave.
_steps = st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 40_000)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(start=st.integers(0, 65535), steps=_steps)
def test_queue_tracks_the_true_queue_through_wraps(start, steps):
    """Fed at least once per 65,535 counts, the estimate equals the true queue."""
    ix = cross()
    est, feed = QueueEstimator(ix), Feed(ix, start=start)
    est.update(feed.rows())
    true_queue = 0
    for arriving, leaving in steps:
        est.update(feed.rows({"e_thru_adv": arriving}))
        true_queue += arriving
        leaving = min(leaving, true_queue)
        q = est.update(feed.rows({"e_thru_stop": leaving}))
        true_queue -= leaving
        assert queues_by_name(est, q)["e_thru"] == float(true_queue)


# --- timing: where the counted vehicles are (the schedule optimizer's input) -----------------


def test_a_vehicle_counted_at_the_advance_loop_reaches_the_stop_bar_after_the_travel_time(ix):
    est, feed = QueueEstimator(ix, travel_s=6.0), Feed(ix)
    est.update(feed.rows(), now_s=100.0)
    est.update(feed.rows({"n_thru_adv": 2}), now_s=101.0)
    est.update(feed.rows({"n_thru_adv": 1}), now_s=103.0)
    g = est.groups.index("n_thru")
    standing, coming = est.approaching(104.0)
    assert standing[g] == 0.0
    assert coming[g] == [(3.0, 2), (5.0, 1)]  # seconds from now to the stop bar, vehicles
    assert queues_by_name(est, est.queues())["n_thru"] == 3.0  # on their way count as queued
    standing, coming = est.approaching(107.5)
    assert (standing[g], coming[g]) == (2.0, [(1.5, 1)])
    standing, coming = est.approaching(109.0)
    assert (standing[g], coming[g]) == (3.0, [])
    assert all(s == 0.0 for i, s in enumerate(standing) if i != g)


def test_departures_take_the_oldest_vehicles_first(ix):
    est, feed = QueueEstimator(ix, travel_s=6.0), Feed(ix)
    est.update(feed.rows(), now_s=0.0)
    est.update(feed.rows({"e_left_adv": 2}), now_s=1.0)
    est.update(feed.rows({"e_left_adv": 3}), now_s=8.0)  # the first two are at the stop bar
    est.update(feed.rows({"e_left_stop": 3}), now_s=9.0)  # both, and one of the next three
    g = est.groups.index("e_left")
    standing, coming = est.approaching(9.0)
    assert (standing[g], coming[g]) == (0.0, [(5.0, 2)])
    assert queues_by_name(est, est.queues())["e_left"] == 2.0


def test_presence_on_the_stop_bar_is_one_standing_while_the_counted_ones_are_coming(ix):
    est, feed = QueueEstimator(ix, travel_s=6.0), Feed(ix)
    est.update(feed.rows(), now_s=0.0)
    est.update(feed.rows({"s_thru_adv": 1}, presence={"s_thru_stop"}), now_s=1.0)
    g = est.groups.index("s_thru")
    standing, coming = est.approaching(1.0)
    assert (standing[g], coming[g]) == (1.0, [(6.0, 1)])


def test_a_negative_travel_time_is_refused(ix):
    with pytest.raises(ValueError, match=r"travel_s must be >= 0, got -1"):
        QueueEstimator(ix, travel_s=-1)
