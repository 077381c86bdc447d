"""The budget's cluster preparation, plainly, on worked examples: cut at the horizon, split
into parts of half a green, merged back within the budget, the rest to the greedy tail.
(Against the kernel, and on random inputs: test_kernel_budget.py.)"""

from edge.optimizer import reference_budget

# One phase: max green 42, start-up lost 2 (a green serves 40 s), 2 s/veh.
TIMING = [[5.0], [42.0], [3.0], [1.0], [2.0], [2.0]]


def test_prepare_splits_a_cluster_needing_a_whole_green_in_two():
    # 20 vehicles queued need 40 s of green: two parts of 20 s (half a green) each.
    got = reference_budget.prepare([0, 1], [0.0], [0.0], [20.0], TIMING, 120.0, 10**6)
    assert got == ([0, 2], [(0.0, 0.0, 10.0), (0.0, 0.0, 10.0)], [2], 0.0)


def test_prepare_merges_back_then_leaves_the_rest_to_the_tail():
    # A budget of 2 (states x clusters): the two parts merge (one green can take them) into one
    # cluster: 2 states x 1 cluster fits.
    got = reference_budget.prepare([0, 1], [0.0], [0.0], [20.0], TIMING, 120.0, 2)
    assert got == ([0, 1], [(0.0, 0.0, 20.0)], [1], 0.0)
    # A budget of 1: nothing more can merge, so the cluster goes to the greedy tail.
    got = reference_budget.prepare([0, 1], [0.0], [0.0], [20.0], TIMING, 120.0, 1)
    assert got == ([0, 1], [(0.0, 0.0, 20.0)], [0], 20.0)


def test_prepare_cuts_at_the_horizon_and_drops_empty_clusters():
    # 10 vehicles over [100, 140] s with the horizon at 120: the first half, 5 vehicles; a
    # cluster at the horizon and one of no vehicles are dropped.
    arr, dur, cnt = [100.0, 110.0, 120.0], [40.0, 0.0, 0.0], [10.0, 0.0, 3.0]
    got = reference_budget.prepare([0, 3], arr, dur, cnt, TIMING, 120.0, 10**6)
    assert got == ([0, 1], [(100.0, 20.0, 5.0)], [1], 0.0)
