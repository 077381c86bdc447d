"""The max-pressure and Webster kernels equal their plain-Python references."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernel_simple, max_pressure, reference

# ---------------------------------------------------------------- max-pressure


@st.composite
def pressure_cases(draw):
    n_groups = draw(st.integers(1, 8))
    queue = st.floats(0, 50, allow_nan=False) | st.just(0.0)
    queues = draw(st.lists(queue, min_size=n_groups, max_size=n_groups))
    phases = draw(
        st.lists(
            st.lists(st.integers(0, n_groups - 1), min_size=1, max_size=n_groups, unique=True),
            min_size=1,
            max_size=8,
        )
    )
    current = draw(st.integers(-1, len(phases) - 1))
    gain = draw(st.sampled_from([0.0, 0.5, 2.0]) | st.floats(0, 10))
    down = draw(st.none() | st.lists(queue, min_size=n_groups, max_size=n_groups))
    return queues, phases, current, gain, down


@settings(max_examples=200, deadline=None)
@given(pressure_cases())
def test_max_pressure_kernel_equals_reference(case):
    queues, phases, current, gain, down = case
    got = max_pressure(queues, phases, current, gain, downstream=down)
    want, pressures = reference.max_pressure(queues, phases, current, gain, down)
    assert got == want, (pressures, got, want)


def test_max_pressure_saturated_everywhere_keeps_current():
    queues = np.full(8, 1e6)
    phases = [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert max_pressure(queues, phases, current=2) == 2
    assert reference.max_pressure(queues, phases, 2)[0] == 2


# ---------------------------------------------------------------- Webster


def _webster_kernel(flows, sat, phases, timing, lo, hi):
    ptr = np.cumsum([0] + [len(p) for p in phases]).astype(np.int64)
    idx = np.array([g for p in phases for g in p], np.int64)
    tim = np.array(timing, dtype=np.float64).T.copy()
    ratios, greens = np.empty(len(phases)), np.empty(len(phases))
    cycle = kernel_simple._webster(
        np.array(flows, float), np.array(sat, float), ptr, idx, tim, lo, hi, ratios, greens
    )
    return cycle, greens.tolist(), ratios.tolist()


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_webster_kernel_equals_reference(data):
    n_ph = data.draw(st.integers(1, 6))
    flows = data.draw(st.lists(st.floats(0, 2000), min_size=n_ph, max_size=n_ph))
    sat = data.draw(st.lists(st.floats(600, 3600), min_size=n_ph, max_size=n_ph))
    ming = data.draw(st.lists(st.sampled_from([0.0, 5.0, 10.0]), min_size=n_ph, max_size=n_ph))
    timing = [
        ming,
        [m + 40.0 for m in ming],
        [3.5] * n_ph,
        [1.0] * n_ph,
        [2.0] * n_ph,
        [2.0] * n_ph,
    ]
    phases = [[p] for p in range(n_ph)]
    lo = data.draw(st.sampled_from([20.0, 60.0]))
    want = reference.webster(flows, sat, phases, timing, lo, 150.0)
    assert _webster_kernel(flows, sat, phases, timing, lo, 150.0) == want
