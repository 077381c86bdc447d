"""Clusters from detector data, validation, and the coordination outflow."""

import pytest

from edge.optimizer import (
    cluster_table,
    flow_cluster,
    phase_clusters,
    phase_timing,
    projected_outflow,
    schedule,
)


def test_phase_clusters_groups_arrivals_by_gap():
    got = phase_clusters(3, [10.0, 4.0, 5.5, 6.0, 30.0], sat_headway_s=2.0, gap_s=2.5)
    assert got == [(0.0, 0.0, 3.0), (4.0, 4.0, 3.0), (10.0, 2.0, 1.0), (30.0, 2.0, 1.0)]


def test_phase_clusters_nothing_arriving():
    assert phase_clusters() == []
    assert phase_clusters(0.0, []) == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((-1,), {}, "queue_veh must be finite and >= 0, got -1"),
        (("3",), {}, "queue_veh must be finite and >= 0, got '3'"),
        ((0, [-2.0]), {}, "arrivals_s must be finite and >= 0"),
        ((0, []), {"sat_headway_s": 0}, "need sat_headway_s > 0"),
    ],
)
def test_phase_clusters_refuses(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        phase_clusters(*args, **kwargs)


def test_flow_cluster():
    assert flow_cluster(720, 30, 120) == [(30.0, 90.0, 18.0)]
    assert flow_cluster(0, 30, 120) == []
    with pytest.raises(ValueError, match="flow_vph must be finite and >= 0"):
        flow_cluster(-5, 0, 10)
    with pytest.raises(ValueError, match="need 0 <= start_s <= end_s"):
        flow_cluster(100, 20, 10)


def test_cluster_table_sorts_and_drops_empty_clusters():
    t = cluster_table([[(9.0, 1.0, 2.0), (1.0, 0.0, 0.0), (3.0, 0.0, 1.0)], []])
    assert t.ptr.tolist() == [0, 2, 2]
    assert t.phase(0) == [(3.0, 0.0, 1.0), (9.0, 1.0, 2.0)] and t.phase(1) == []


def test_cluster_table_reports_every_problem():
    with pytest.raises(ValueError) as err:
        cluster_table([[(-1.0, 0.0, 1.0)], [(0.0, float("inf"), 1.0), "ab"]])
    msg = str(err.value)
    assert "clusters[0][0] arrival_s must be finite and >= 0, got -1.0" in msg
    assert "clusters[1][0] duration_s must be finite and >= 0, got inf" in msg
    assert "clusters[1][1] must be (arrival_s, duration_s, vehicles)" in msg


def test_projected_outflow_follows_the_plan():
    timing = phase_timing([5, 5], [40, 40], 3.5, 1.5, startup_lost_s=2.0, sat_headway_s=2.0)
    plan = schedule([[(0.0, 0.0, 4.0)], [(0.0, 0.0, 2.0)]], timing, current=0, elapsed_s=10.0)
    # Phase 0 is green: its 4 queued vehicles leave over 0..8 s and reach the neighbour 20 s on.
    assert projected_outflow(plan, 0, travel_s=20.0, share=0.5) == [(20.0, 8.0, 2.0)]
    out = projected_outflow(plan, 1, travel_s=30.0, horizon_s=46.0)
    ((start, length, n),) = out
    assert start == pytest.approx(plan.cluster_start_s[1] + 30.0)
    assert start + length == pytest.approx(46.0) and n < 2.0  # cut at the horizon
    with pytest.raises(ValueError, match="0 <= share <= 1"):
        projected_outflow(plan, 0, travel_s=5.0, share=2.0)
    with pytest.raises(ValueError, match="phase must be in 0..1, got 2"):
        projected_outflow(plan, 2, travel_s=5.0)
