"""The city batch gives the same plans as one call per intersection."""

import random
from dataclasses import fields

import numpy as np
import pytest

from edge.optimizer import cluster_table, phase_timing, schedule, schedule_batch
from edge.optimizer.results import Decision, Schedule


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


def test_batch_results_have_every_field_and_type_of_single_calls():
    # The batch builds its results (and decisions, in a kernel) its own way: field by field,
    # value and type, they are what `schedule` returns; the budget makes greedy tails here.
    problems = _problems(60, seed=7) + _problems(20, seed=8)
    for max_work in (16, 8192):
        for got, problem in zip(schedule_batch(problems, max_work=max_work), problems, strict=True):
            want = schedule(*problem, max_work=max_work)
            for f in fields(Schedule):
                a, b = getattr(got, f.name), getattr(want, f.name)
                assert type(a) is type(b), f.name
                if isinstance(a, np.ndarray):
                    assert a.dtype == b.dtype and np.array_equal(a, b), f.name
                elif f.name == "clusters":
                    assert np.array_equal(a.ptr, b.ptr) and np.array_equal(a.rows, b.rows)
                else:
                    assert a == b, f.name
            for f in fields(Decision):
                a, b = getattr(got.decision, f.name), getattr(want.decision, f.name)
                assert type(a) is type(b) and a == b, f.name


def test_batch_empty_and_single():
    assert schedule_batch([]) == []
    (only,) = schedule_batch(_problems(1), threads=1)
    assert only.decision == schedule(*_problems(1)[0]).decision


def test_batch_names_the_bad_problem():
    problems = _problems(3)
    problems[2] = (problems[2][0], problems[2][1], 99, 0.0)
    with pytest.raises(ValueError, match=r"problems\[2\]: current must be in"):
        schedule_batch(problems)


def test_batch_takes_every_input_form_schedule_takes():
    """Tables, numpy scalars and arrays go past the batch's fast checks to the same plans."""
    problems = _problems(12, seed=7)
    clusters, timing, current, elapsed = problems[3]
    problems[3] = (cluster_table(clusters), timing, current, elapsed)
    clusters, timing, current, elapsed = problems[5]
    problems[5] = (clusters, timing, np.int64(current), np.float64(elapsed))
    problems[8] = ([[]] * problems[8][1].n_phases, problems[8][1], -1, 4)
    batch = schedule_batch(problems, max_work=64)
    for got, problem in zip(batch, problems, strict=True):
        want = schedule(*problem, max_work=64)
        assert got.decision == want.decision and got.greens == want.greens


@pytest.mark.parametrize(
    ("index", "field", "value", "message"),
    [
        (1, 3, -1.0, r"problems\[1\]: elapsed_s must be a finite number >= 0, got -1.0"),
        (2, 3, float("nan"), r"problems\[2\]: elapsed_s must be a finite number >= 0, got nan"),
        (1, 2, True, r"problems\[1\]: current must be an integer, got True"),
        (2, 1, "fixed", r"problems\[2\]: timing must be a PhaseTiming"),
        (1, 0, [[(0.0, 2.0)]], r"problems\[1\]: clusters\[0\]\[0\] must be \(arrival_s"),
    ],
)
def test_batch_names_each_kind_of_bad_problem(index, field, value, message):
    problems = [list(p) for p in _problems(3, seed=2)]
    problems[index][field] = value
    with pytest.raises(ValueError, match=message):
        schedule_batch([tuple(p) for p in problems])


def test_batch_on_one_thread_and_unsorted_input_gives_the_same_plans():
    problems = _problems(30, seed=11)
    for m in range(0, 30, 3):  # reversed phases and an empty cluster: the batch sorts and drops
        clusters, timing, current, elapsed = problems[m]
        clusters = [list(reversed(c)) + [(1.0, 0.0, 0.0)] for c in clusters]
        problems[m] = (clusters, timing, current, elapsed)
    one = schedule_batch(problems, max_work=64, threads=1)
    every = schedule_batch(problems, max_work=64)
    for a, b, problem in zip(one, every, problems, strict=True):
        want = schedule(*problem, max_work=64)
        assert a.greens == b.greens == want.greens
        assert a.decision == b.decision == want.decision
        assert np.array_equal(a.clusters.rows, want.clusters.rows)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_batch_refuses_a_bad_thread_count(threads):
    with pytest.raises(ValueError, match=r"threads must be an integer >= 1 or None, got "):
        schedule_batch(_problems(2), threads=threads)
