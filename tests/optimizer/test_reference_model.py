"""The plain-Python model: a cluster's delay against numeric integration, and the earliest
start at which a block of clusters fits in max green."""

import random

import pytest

from edge.optimizer import reference_model


def _numeric_delay(arr, dur, n, h, b, steps=20000):
    """Integrate arrived - served over time with a fine midpoint rule."""
    end = max(arr + dur, b + n * h)
    dt = (end - arr) / steps
    total = 0.0
    for i in range(steps):
        t = arr + (i + 0.5) * dt
        arrived = n if dur == 0 or t >= arr + dur else n * (t - arr) / dur
        served = min(arrived, max(0.0, (t - b) / h)) if t > b else 0.0
        served = min(served, arrived)
        total += (arrived - served) * dt
    return total


def test_cluster_delay_matches_numeric_integration():
    rng = random.Random(4)
    for _ in range(40):
        arr = rng.uniform(0, 20)
        dur = rng.choice([0.0, rng.uniform(0.1, 30)])
        n = rng.uniform(0.5, 12)
        h = rng.choice([1.0, 2.0, 2.5])
        b = arr + rng.choice([0.0, rng.uniform(0, 40)])
        got = reference_model.cluster_delay(arr, dur, n, h, b)
        want = _numeric_delay(arr, dur, n, h, b)
        assert got == pytest.approx(want, rel=2e-3, abs=1e-3), (arr, dur, n, h, b)


def test_cluster_delay_known_values():
    # A standing queue of 4 served from t=10 at 2 s/veh: 4*10 waiting + 4*4*2/2 discharging.
    assert reference_model.cluster_delay(0.0, 0.0, 4.0, 2.0, 10.0) == 56.0
    # A platoon no denser than saturation, served on arrival, is not delayed.
    assert reference_model.cluster_delay(5.0, 10.0, 5.0, 2.0, 5.0) == 0.0


def _fits(block, gs):
    arr, dur, cnt, k, h, slt, maxg = block
    _, fin, _, _ = reference_model.serve_block(arr, dur, cnt, 0, k, h, slt, gs)
    return fin - gs <= maxg + 1e-9


def test_block_start_is_the_earliest_feasible_start():
    rng = random.Random(5)
    for _ in range(200):
        k = rng.randint(1, 3)
        arr = sorted(rng.uniform(0, 30) for _ in range(k))
        dur = [rng.uniform(0, 8) for _ in range(k)]
        cnt = [rng.uniform(0.5, 5) for _ in range(k)]
        h, slt, maxg = 2.0, rng.choice([0.0, 2.0]), rng.choice([10.0, 20.0, 40.0])
        ready = rng.uniform(0, 30)
        block = (arr, dur, cnt, k, h, slt, maxg)
        gs = reference_model.block_start(arr, dur, cnt, 0, k, h, slt, maxg, ready)
        if gs is None:
            assert not any(_fits(block, ready + t) for t in range(0, 200, 5))
            continue
        assert gs >= ready and _fits(block, gs)
        if gs > ready:
            assert not _fits(block, gs - 0.01)
