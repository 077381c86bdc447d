"""The city batch gives the same plans as one call per intersection."""

import random

import numpy as np
import pytest

from edge.optimizer import phase_timing, schedule, schedule_batch


def _problems(n, seed=1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        n_ph = rng.choice([1, 2, 3, 4])
        timing = phase_timing([5.0] * n_ph, [rng.choice([20.0, 40.0])] * n_ph, 3.5, 1.5)
        clusters = [
            [
                (rng.choice([0.0, rng.uniform(0, 90)]), rng.uniform(0, 20), rng.uniform(0.5, 12))
                for _ in range(rng.randint(0, 3))
            ]
            for _ in range(n_ph)
        ]
        out.append((clusters, timing, rng.randint(-1, n_ph - 1), rng.choice([0.0, 6.0, 50.0])))
    return out


def test_batch_equals_single_calls():
    problems = _problems(40)
    batch = schedule_batch(problems, max_work=64)
    for got, problem in zip(batch, problems, strict=True):
        want = schedule(*problem, max_work=64)
        assert got.decision == want.decision
        assert got.greens == want.greens and got.delay_veh_s == want.delay_veh_s
        assert np.array_equal(got.clusters.rows, want.clusters.rows)
        assert np.array_equal(got.cluster_start_s, want.cluster_start_s)


def test_batch_empty_and_single():
    assert schedule_batch([]) == []
    (only,) = schedule_batch(_problems(1), threads=1)
    assert only.decision == schedule(*_problems(1)[0]).decision


def test_batch_names_the_bad_problem():
    problems = _problems(3)
    problems[2] = (problems[2][0], problems[2][1], 99, 0.0)
    with pytest.raises(ValueError, match=r"problems\[2\]: current must be in"):
        schedule_batch(problems)
