"""The budget kernels: the cluster preparation equals `reference_budget.prepare` and fits the
DP's budget; the Pareto capacity per state shrinks for big DPs like the reference's."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernel_budget, reference, reference_budget
from tests.optimizer.instances import arrays, instances


def run_prepare(cl_ptr, arr, dur, cnt, timing, horizon, max_work):
    """kernel_budget._prepare on reference-layout input; returns (ptr, rows, dp_end, tail) like
    reference_budget.prepare."""
    ptr, cl, tim = arrays((cl_ptr, arr, dur, cnt, timing))
    out_ptr = np.empty_like(ptr)
    out = np.empty((kernel_budget._split_rows(ptr, cl, tim), 3))
    dp_end = np.empty(tim.shape[0], np.int64)
    tail = np.zeros(1)
    n = kernel_budget._prepare(ptr, cl, tim, horizon, max_work, out_ptr, out, dp_end, tail)
    assert out_ptr[-1] == n
    rows = [tuple(r) for r in out[:n].tolist()]
    return out_ptr.tolist(), rows, dp_end.tolist(), float(tail[0])


@st.composite
def prepare_inputs(draw):
    """Clusters in any order per phase, some empty or past the horizon, some long enough to
    be split, and a budget from none at all to plenty."""
    inst = draw(instances(max_phases=4, max_clusters=4))
    cl_ptr, arr, dur, cnt, timing = inst[:5]
    rows = []
    for p in range(len(cl_ptr) - 1):
        mine = [
            (
                arr[j] * draw(st.sampled_from([1.0, 1.0, 3.0])),
                dur[j] * draw(st.sampled_from([1.0, 4.0, 12.0])),
                cnt[j] * draw(st.sampled_from([0.0, 1.0, 1.0, 5.0])),
            )
            for j in range(cl_ptr[p], cl_ptr[p + 1])
        ]
        rows.append(draw(st.permutations(mine)))
    ptr = [0]
    for mine in rows:
        ptr.append(ptr[-1] + len(mine))
    flat = [r for mine in rows for r in mine]
    cols = [[r[c] for r in flat] for c in range(3)]
    horizon = draw(st.sampled_from([5.0, 30.0, 120.0, 1e6]))
    max_work = draw(st.sampled_from([1, 2, 16, 64, 500, 4096, 10**9]))
    return ptr, *cols, timing, horizon, max_work


@settings(max_examples=300, deadline=None)
@given(prepare_inputs())
def test_prepare_kernel_equals_reference(args):
    assert run_prepare(*args) == reference_budget.prepare(*args)


def _prep_timing(n_ph):
    return [[5.0] * n_ph, [20.0] * n_ph, [3.5] * n_ph, [1.5] * n_ph, [2.0] * n_ph, [2.0] * n_ph]


@pytest.mark.parametrize(
    "args",
    [
        ([0, 0, 0], [], [], [], _prep_timing(2), 120.0, 1),  # nothing arriving
        ([0, 3], [0.0, 0.0, 50.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], _prep_timing(1), 120.0, 1),
        ([0, 2], [150.0, 120.0], [5.0, 0.0], [3.0, 2.0], _prep_timing(1), 120.0, 8),  # beyond
        ([0, 1], [100.0], [40.0], [8.0], _prep_timing(1), 120.0, 64),  # cut at the horizon
        # saturated: every cluster needs a whole green, nothing can merge, the latest go
        (
            [0, 3, 6],
            [0.0, 0.0, 9.0, 0.0, 0.0, 9.0],
            [0.0] * 6,
            [9.0] * 6,
            _prep_timing(2),
            120.0,
            12,
        ),
        # ties everywhere: equal arrivals and equal needs across phases
        ([0, 3, 6], [4.0] * 6, [2.0] * 6, [1.0] * 6, _prep_timing(2), 120.0, 20),
        ([0, 1], [0.0], [600.0], [300.0], _prep_timing(1), 1e6, 4096),  # one huge cluster
    ],
)
def test_prepare_degenerate_inputs(args):
    got = run_prepare(*args)
    assert got == reference_budget.prepare(*args)
    ptr, rows, dp_end, tail = got
    n = [dp_end[i] - ptr[i] for i in range(len(ptr) - 1)]
    states = int(np.prod([k + 1 for k in n]))
    assert states * max(sum(n), 1) <= args[-1]
    in_tail = sum(r[2] for i in range(len(n)) for r in rows[dp_end[i] : ptr[i + 1]])
    assert tail == pytest.approx(in_tail)


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
    dp_end = np.empty(tim.shape[0], np.int64)
    tail = np.zeros(1)
    n = kernel_budget._prepare(cl_ptr, cl, tim, horizon, max_states, out_ptr, out, dp_end, tail)
    assert out_ptr[-1] == n and kernel_budget._work(out_ptr, dp_end) <= max_states
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
    assert kept.sum() == pytest.approx(given.sum())  # every vehicle is planned
    assert tail[0] == pytest.approx(
        sum(rows[dp_end[p] : out_ptr[p + 1], 2].sum() for p in range(tim.shape[0]))
    )
    if tail[0] > 0:  # clusters go to the tail only when nothing can merge
        for p in range(tim.shape[0]):
            for j in range(out_ptr[p], out_ptr[p + 1] - 1):
                end = max(rows[j, 0] + rows[j, 1], rows[j + 1, 0] + rows[j + 1, 1])
                need = max(end - rows[j, 0], (rows[j, 2] + rows[j + 1, 2]) * tim[p, 5])
                assert need > room[p]


def test_capacity_shrinks_for_big_dps_like_the_reference():
    for states in [1, 2, 100, 128, 129, 256, 300, 512, 513, 864, 1296, 10**6]:
        for cap in (1, 2, 8, 64):
            assert kernel_budget._capacity(states, cap) == reference.capacity_for(states, cap)
    assert kernel_budget._capacity(100, 8) == 8 and kernel_budget._capacity(864, 8) == 2
