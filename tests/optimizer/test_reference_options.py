"""The DP's options, plainly: which phases cyclic order allows next, and the unseen demand's
red charge and green extension, on worked examples."""

from edge.optimizer import reference_options

INF = float("inf")


def test_cyclic_next_walks_from_the_last_phase_up_to_the_first_that_calls():
    # Four phases with one cluster each, arriving at 10, 0, 30, 5; phase 1 was green last.
    cl_ptr, arr, n = [0, 1, 2, 3, 4], [10.0, 0.0, 30.0, 5.0], [1, 1, 1, 1]
    served = [0, 1, 0, 0]  # phase 1's cluster was served
    # At 6 s phase 3 calls (arrived at 5): phases 2 and 3 may come, not 0 (after 3).
    assert reference_options.cyclic_next(cl_ptr, arr, served, n, 1, 6.0) == [2, 3]
    # At 1 s nobody calls: every phase with something left, in cyclic order.
    assert reference_options.cyclic_next(cl_ptr, arr, served, n, 1, 1.0) == [2, 3, 0]
    # Nothing left elsewhere: the last phase itself; no last phase: any.
    assert reference_options.cyclic_next(cl_ptr, arr, [1, 0, 1, 1], n, 1, 0.0) == [1]
    assert reference_options.cyclic_next(cl_ptr, arr, served, n, -1, 0.0) is None


def test_unseen_charge_is_none_without_a_positive_rate():
    assert reference_options.unseen_charge(None, 120.0) is None
    assert reference_options.unseen_charge([0.0, 0.0], 120.0) is None
    assert reference_options.unseen_charge([0.0, 0.5], 120.0, [0.0, 3.0]) == (
        [0.0, 0.25],
        120.0,
        [0.0, 0.5],
        [0.0, 3.0],
    )


def test_red_charge_counts_the_red_from_first_arrival_to_the_horizon():
    unseen = reference_options.unseen_charge([2.0], 20.0, [4.0])
    # The red from 0 to 10 s counts from 4 s (first arrival): 2 x 6^2 / 2 = 36.
    assert reference_options.red_length(unseen, 0, 0.0, 10.0) == 6.0
    assert reference_options.red_charge(unseen, 0, 0.0, 10.0) == 36.0
    # Clipped at the horizon (20 s), and nothing before the first arrival.
    assert reference_options.red_length(unseen, 0, 0.0, 50.0) == 16.0
    assert reference_options.red_length(unseen, 0, 0.0, 3.0) == 0.0


def test_unseen_end_discharges_the_reds_queue_within_max_green():
    timing = [[5.0], [30.0], [3.0], [1.0], [2.0], [2.0]]
    unseen = reference_options.unseen_charge([0.5], INF)
    # A red of 10 s at 0.5 veh/s: 5 vehicles, 2 s each after 2 s start-up: to gs + 12.
    assert reference_options.unseen_end(6.0, 10.0, unseen, 0.0, 0, timing) == 22.0
    # Never past max green; never shorter than the green was.
    assert reference_options.unseen_end(6.0, 100.0, unseen, 0.0, 0, timing) == 130.0
    assert reference_options.unseen_end(40.0, 10.0, unseen, 0.0, 0, timing) == 40.0
