"""pytest-benchmark suite for the optimizer; every case is validated before it is timed.

Run: .venv/bin/python -m pytest benchmarks --benchmark-only --benchmark-enable
(under the default --benchmark-skip only the correctness tests run).
"""

import itertools

import pytest

from benchmarks import cases
from benchmarks.optimizer import all_cases, measure_batch
from edge import optimizer

CASES = {(c[0], c[1]): c for c in all_cases()}


@pytest.mark.parametrize("key", list(CASES), ids=[f"{a}/{c}" for a, c in CASES])
def test_case_gives_the_reference_answer(key):
    _, _, api, ref, same, _ = CASES[key]
    assert api and ref and same()


def test_city_batch_gives_the_single_call_answers():
    assert measure_batch(cases.city(60, 8), runs=1, log=lambda msg: None)["same"]


def _rotating(calls):
    """pedantic() setup that hands out the next input each round."""
    it = itertools.cycle(calls)

    def setup():
        fn, args = next(it)
        return (fn, args), {}

    return setup


@pytest.mark.parametrize("key", list(CASES), ids=[f"{a}/{c}" for a, c in CASES])
def test_bench_api(benchmark, key):
    _, _, api, _, same, _ = CASES[key]
    assert same()  # validated before timed
    benchmark.group = key[1]
    benchmark.pedantic(lambda fn, args: fn(*args), setup=_rotating(api), rounds=2000)


@pytest.mark.parametrize("key", [k for k in CASES if k[0] == "schedule"][:2])
def test_bench_reference(benchmark, key):
    _, _, _, ref, same, _ = CASES[key]
    assert same()
    benchmark.group = key[1]
    benchmark.pedantic(lambda fn, args: fn(*args), setup=_rotating(ref), rounds=20)


@pytest.mark.parametrize("shape", ["city", "8-phase"])
def test_bench_batch_1000(benchmark, shape):
    problems = cases.city(1000, 8) if shape == "city" else cases.problems("8-phase", 1000, 9)
    assert measure_batch(problems[:100], runs=1, log=lambda msg: None)["same"]
    benchmark.group = "batch of 1000"
    result = benchmark.pedantic(optimizer.schedule_batch, args=(problems,), rounds=10)
    assert len(result) == 1000
