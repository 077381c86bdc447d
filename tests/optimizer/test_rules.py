"""edge.optimizer.rules: the decision rules the simulator's and the gateway's schedule share."""

import pytest

from edge.optimizer.rules import CallGuard, overflow_weight, split_running


def test_the_overflow_weight_is_the_max_greens_a_queue_needs_and_at_least_one():
    # 2 s lost + 20 vehicles at 1 s = 22 s: under a 30 s max green, one green's worth
    assert overflow_weight(20.0, 1.0, 30.0, 2.0) == 1.0
    assert overflow_weight(0.0, 1.0, 30.0, 2.0) == 1.0
    assert overflow_weight(40.0, 1.0, 30.0, 2.0) == pytest.approx(42.0 / 30.0)
    assert overflow_weight(10.0, 2.0, 12.0, 2.0) == pytest.approx(22.0 / 12.0)  # a 12 s left


def test_the_running_queue_is_split_at_what_the_remaining_max_green_serves():
    timing = dict(max_green_s=12.0, headway_s=1.0, startup_lost_s=2.0)
    coming = (5.0, 2.0, 2.0)
    first, rest, later = split_running([(0.0, 0.0, 10.0), coming], 10.0, elapsed_s=8.0, **timing)
    assert first == (0.0, 0.0, pytest.approx(4.0, rel=1e-5))
    assert rest == (0.0, 0.0, pytest.approx(6.0, rel=1e-5))
    assert first[2] + rest[2] == pytest.approx(10.0)
    assert later == coming
    # the start-up lost time counts before any vehicle crosses
    first, _ = split_running([(0.0, 0.0, 20.0)], 20.0, elapsed_s=0.0, **timing)
    assert first[2] == pytest.approx(10.0, rel=1e-5)


@pytest.mark.parametrize(
    ("clusters", "queue", "elapsed_s"),
    [
        ([(0.0, 0.0, 3.0)], 3.0, 8.0),  # fits in the 4 s left
        ([(0.0, 0.0, 10.0)], 10.0, 12.0),  # max green spent: nothing fits
        ([(0.0, 0.0, 10.0)], 10.0, 14.0),
        ([(1.0, 0.0, 10.0)], 10.0, 8.0),  # not a standing queue
        ([], 10.0, 8.0),
    ],
)
def test_a_queue_that_fits_or_a_spent_green_is_not_split(clusters, queue, elapsed_s):
    out = split_running(
        clusters, queue, max_green_s=12.0, elapsed_s=elapsed_s, headway_s=1.0, startup_lost_s=2.0
    )
    assert out == clusters


def guard():
    # four phases: max green 30, yellow 3, all-red 2 -> call bound 4 x 35 + 5 = 145 s
    return CallGuard([5.0] * 4, [30.0] * 4, [3.0] * 4, [2.0] * 4)


def test_the_call_bound_is_the_max_cycle_plus_the_longest_clearance():
    assert guard().call_bound_s == 145.0


def test_a_switch_that_would_let_a_latched_call_wait_past_the_bound_is_not_allowed():
    g = guard()
    g.track(0.0, current=0, calling=[True, False, True, False])
    assert g.latch_s == [None, None, 0.0, None]  # the green phase has no call
    # green 1 -> 3 skips 2: 10 s waited + 5 (1's clearance) + 35 (3) + 35 (0) + 35 (1) = 120 s
    assert g.allows(10.0, 1, 3, 10.0)  # within the bound less a second's margin (144 s)
    assert g.target(10.0, 1, 3, 10.0) == 3
    # 60 s on, skipping 2 would reach 60 + 5 + 35 + 35 + 35 = 170 s: serve 2 instead
    assert not g.allows(60.0, 1, 3, 10.0)
    assert g.target(60.0, 1, 3, 10.0) == 2
    assert g.allows(60.0, 1, 2, 10.0)
    # the min green still to run counts as waiting too: 140 s, or 145 s with 5 s of it left
    assert g.allows(30.0, 1, 3, 10.0) and not g.allows(30.0, 1, 3, 0.0)
    # served: cleared; latched again only when it calls again
    g.track(70.0, current=2, calling=[False, False, True, False])
    assert g.latch_s == [None] * 4
    g.track(80.0, current=3, calling=[False, False, True, False])
    assert g.latch_s[2] == 80.0
    g.track(90.0, current=3, calling=[False, False, True, False])
    assert g.latch_s[2] == 80.0  # the first latch stands


def test_no_green_phase_or_no_allowed_call_leaves_the_target():
    g = guard()
    g.track(0.0, current=0, calling=[False, False, True, False])
    assert g.target(200.0, -1, 3, 0.0) == 3
    assert g.target(200.0, 1, 2, 10.0) == 2  # the call itself: allowed


def test_timings_must_be_one_per_phase():
    with pytest.raises(ValueError, match=r"\[2, 3, 3, 3\]"):
        CallGuard([5.0] * 2, [30.0] * 3, [3.0] * 3, [2.0] * 3)
