"""The greedy tail, plainly: a worked example, the first green's limit, and the rule that a
phase does not follow itself while another has clusters left. (Against the kernel:
test_kernel_tail.py; inside plans: test_bruteforce.py.)"""

import pytest

from edge.optimizer import reference_model, reference_tail

INF = float("inf")
# Two phases: min green 5, max green 30, yellow 3, all-red 1, start-up lost 2, 2 s/veh.
TIMING = [[5.0, 5.0], [30.0, 30.0], [3.0, 3.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]]
# Phase 0: 2 vehicles queued now; phase 1: 1 vehicle arriving over [3, 5] s.
CLUSTERS = ([0, 1, 2], [0.0, 3.0], [0.0, 2.0], [2.0, 1.0])


def test_finish_worked_example():
    delay, greens = reference_tail.finish(*CLUSTERS, TIMING, [0, 0], -1, 0.0, INF)
    # Phase 0 first (it arrives first): green at 0, served from 2 to 6 (delay 2 x 2 + 2 x 2 x
    # 2 / 2 = 8), min green to 5 but service to 6; clearance 4 s, so phase 1's green starts
    # at 10, its car is served from 12 to 14 (arrived over [3, 5]: delay 9), min green to 15.
    assert greens == [(0, 0.0, 6.0, 1), (1, 10.0, 15.0, 1)]
    assert (
        delay
        == 8.0 + 9.0
        == reference_model.cluster_delay(0.0, 0.0, 2.0, 2.0, 2.0)
        + reference_model.cluster_delay(3.0, 2.0, 1.0, 2.0, 12.0)
    )


def test_finish_refuses_a_first_green_after_its_limit():
    delay, greens = reference_tail.finish(*CLUSTERS, TIMING, [0, 0], -1, 0.0, -1.0)
    assert delay == INF and greens == []


@pytest.mark.parametrize("cyclic", [False, True])
def test_finish_does_not_serve_a_phase_twice_while_another_waits(cyclic):
    # Phase 0 was green last and its next cluster arrives first: phase 1 still goes first.
    clusters = ([0, 1, 2], [0.0, 20.0], [0.0, 0.0], [1.0, 1.0])
    _, greens = reference_tail.finish(*clusters, TIMING, [0, 0], 0, 4.0, INF, cyclic=cyclic)
    assert [g[0] for g in greens] == [1, 0]


def test_finish_with_nothing_left_plans_nothing():
    assert reference_tail.finish(*CLUSTERS, TIMING, [1, 1], 1, 0.0, INF) == (0.0, [])
