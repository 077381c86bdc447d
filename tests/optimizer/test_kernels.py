"""Kernels equal their plain-Python references, on random and degenerate inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernels, max_pressure, reference
from tests.optimizer.instances import arrays, check_plan, instances, run_kernel

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
    cycle = kernels._webster(
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


# ---------------------------------------------------------------- schedule-driven


@settings(max_examples=200, deadline=None)
@given(instances(max_phases=4, max_clusters=3), st.sampled_from([1, 2, 8]))
def test_schedule_kernel_equals_reference(inst, capacity):
    assert run_kernel(inst, capacity) == reference.schedule(*inst, capacity=capacity)


def _timing(n_ph, ming=5.0, maxg=40.0):
    return [[ming] * n_ph, [maxg] * n_ph, [3.5] * n_ph, [1.5] * n_ph, [2.0] * n_ph, [2.0] * n_ph]


@pytest.mark.parametrize("current", [-1, 0, 2])
def test_schedule_zero_demand_rests(current):
    inst = ([0, 0, 0, 0], [], [], [], _timing(3), current, 12.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    assert plan["delay"] == 0.0 and plan["switch_at"] == float("inf")
    assert [g[0] for g in plan["greens"]] == ([] if current < 0 else [current])


def test_schedule_one_phase():
    inst = ([0, 2], [0.0, 20.0], [0.0, 6.0], [4.0, 3.0], _timing(1), 0, 3.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert [g[0] for g in plan["greens"]] == [0]  # one green serves both


def test_schedule_saturated_every_phase():
    # Every phase has two full-green queues: the plan still serves all within the bounds.
    room = (40.0 - 2.0) / 2.0
    rows = [(0.0, 0.0, room), (0.0, 0.0, room)]
    inst = (
        [0, 2, 4, 6],
        [r[0] for r in rows * 3],
        [r[1] for r in rows * 3],
        [r[2] for r in rows * 3],
        _timing(3),
        1,
        40.0,
    )
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert plan["greens"][1][0] != 1  # the running green is at max green: it must end now
    assert plan["switch_at"] == 0.0


def test_schedule_current_phase_past_max_green_switches_now():
    inst = ([0, 1, 2], [0.0, 0.0], [0.0, 0.0], [3.0, 3.0], _timing(2), 0, 55.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    assert plan["switch_at"] == 0.0 and plan["greens"][0][3] == 0


# ---------------------------------------------------------------- preparation


@settings(max_examples=100, deadline=None)
@given(
    instances(max_phases=4, max_clusters=4),
    st.sampled_from([1, 4, 16, 1000]),
    st.sampled_from([10.0, 30.0, 200.0]),
)
def test_prepare_fits_the_budget_and_keeps_the_vehicles(inst, max_states, horizon):
    cl_ptr, cl, tim = arrays(inst)
    cl = cl.copy()
    cl[:, 1] *= 4.0  # some clusters now need splitting
    out_ptr = np.empty_like(cl_ptr)
    out = np.empty((cl.shape[0] * 8 + 1, 3))
    dropped = np.zeros(1)
    n = kernels._prepare(cl_ptr, cl, tim, horizon, max_states, out_ptr, out, dropped)
    assert out_ptr[-1] == n and kernels._n_states(out_ptr) <= max_states
    rows, room = out[:n], tim[:, 1] - tim[:, 4]
    kept, given = np.zeros(tim.shape[0]), np.zeros(tim.shape[0])
    for p in range(tim.shape[0]):
        mine = rows[out_ptr[p] : out_ptr[p + 1]]
        assert (np.maximum(mine[:, 1], mine[:, 2] * tim[p, 5]) <= room[p] + 1e-9).all()
        assert (np.diff(mine[:, 0]) >= 0).all() and (mine[:, 0] < horizon).all()
        src = cl[cl_ptr[p] : cl_ptr[p + 1]]
        inside = np.clip((horizon - src[:, 0]) / np.maximum(src[:, 1], 1e-300), 0, 1)
        inside[src[:, 1] == 0] = (src[src[:, 1] == 0, 0] < horizon).astype(float)
        kept[p], given[p] = mine[:, 2].sum(), (src[:, 2] * inside).sum()
        assert kept[p] <= given[p] + 1e-9
    assert kept.sum() + dropped[0] == pytest.approx(given.sum())
    if dropped[0] > 0:  # clusters are left out only when nothing can merge
        for p in range(tim.shape[0]):
            for j in range(out_ptr[p], out_ptr[p + 1] - 1):
                end = max(rows[j, 0] + rows[j, 1], rows[j + 1, 0] + rows[j + 1, 1])
                need = max(end - rows[j, 0], (rows[j, 2] + rows[j + 1, 2]) * tim[p, 5])
                assert need > room[p]
