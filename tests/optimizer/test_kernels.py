"""Kernels equal their plain-Python references, on random and degenerate inputs."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import kernels, max_pressure, reference
from tests.optimizer.instances import CONTINUOUS, arrays, check_plan, instances, run_kernel

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


RATES = st.sampled_from([0.0, 0.0, 0.02, 0.1, 0.3, 1.0])


@st.composite
def with_rates(draw, draws=None):
    """An instance, per-phase unseen rates (veh/s, some zero), a horizon and a DP/tail split."""
    inst = draw(instances(max_phases=4, max_clusters=3, **({"draws": draws} if draws else {})))
    cl_ptr = inst[0]
    n_ph = len(cl_ptr) - 1
    rates = draw(st.lists(RATES, min_size=n_ph, max_size=n_ph))
    dp_end = [draw(st.integers(cl_ptr[p], cl_ptr[p + 1])) for p in range(n_ph)]
    start = draw(st.lists(st.sampled_from([0.0, 4.0, 11.5]), min_size=n_ph, max_size=n_ph))
    return inst, rates, draw(st.sampled_from([15.0, 60.0, 120.0])), dp_end, start


@settings(max_examples=200, deadline=None)
@given(with_rates(), st.sampled_from([1, 2, 8]))
def test_schedule_kernel_equals_reference_with_unseen_rates(case, capacity):
    inst, rates, horizon, dp_end, start = case
    args = {"capacity": capacity, "dp_end": dp_end, "rates": rates, "horizon": horizon}
    args["rates_from"] = start
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=80, deadline=None)
@given(with_rates(draws=CONTINUOUS), st.sampled_from([2, 8]))
def test_schedule_kernel_equals_reference_with_unseen_rates_continuous(case, capacity):
    inst, rates, horizon, _, start = case
    args = {"capacity": capacity, "rates": rates, "horizon": horizon, "rates_from": start}
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=100, deadline=None)
@given(with_rates(), st.sampled_from([2, 8]))
def test_zero_unseen_rates_change_nothing(case, capacity):
    inst, rates, horizon, dp_end, _ = case
    zeros = [0.0] * len(rates)
    plain = run_kernel(inst, capacity, dp_end)
    assert run_kernel(inst, capacity, dp_end, zeros, horizon) == plain
    assert reference.schedule(*inst, capacity, dp_end, zeros, horizon) == plain


def test_unseen_rate_charges_the_red_it_imposes():
    # Phase 0 green 10 s (min 5) with a car at 3 s; phase 1 has one car waiting. Serving the
    # car keeps phase 1 red until 10 s instead of 5 s: cheaper without unseen demand, dear
    # with 2 veh/s of it on phase 1: the plan ends the green now and serves the car later.
    timing = _timing(2)
    inst = ([0, 1, 2], [3.0, 0.0], [0.0, 0.0], [1.0, 1.0], timing, 0, 10.0)
    plain = reference.schedule(*inst)
    assert plain["greens"][0][3] == 1  # the running green serves the car
    dear = reference.schedule(*inst, rates=[0.0, 2.0], horizon=120.0)
    assert dear == run_kernel(inst, rates=[0.0, 2.0], horizon=120.0)
    assert dear["greens"][0][3] == 0 and dear["switch_at"] == 0.0
    # The charge is in the delay: phase 1 red from 0 to 5 s (clearance), 2 x 5^2 / 2 = 25; its
    # car waits to 7 s (start-up lost time) + half a headway (8); its green lasts until the 10
    # unseen vehicles of that red have left (7 + 10 x 2 = 27 s), so phase 0's car waits from
    # 3 to 34 s (32).
    assert dear["delay"] == 25.0 + 8.0 + 32.0
    assert dear["greens"][1][2] == 27.0
    # Serving the car first would cost 2 x 10^2 / 2 = 100 of red charge (and 11 of delay).


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


def run_prepare(cl_ptr, arr, dur, cnt, timing, horizon, max_work):
    """kernels._prepare on reference-layout input; returns (ptr, rows, dp_end, tail) like
    reference.prepare."""
    ptr, cl, tim = arrays((cl_ptr, arr, dur, cnt, timing))
    out_ptr = np.empty_like(ptr)
    out = np.empty((kernels._split_rows(ptr, cl, tim), 3))
    dp_end = np.empty(tim.shape[0], np.int64)
    tail = np.zeros(1)
    n = kernels._prepare(ptr, cl, tim, horizon, max_work, out_ptr, out, dp_end, tail)
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
    assert run_prepare(*args) == reference.prepare(*args)


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
    assert got == reference.prepare(*args)
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
    n = kernels._prepare(cl_ptr, cl, tim, horizon, max_states, out_ptr, out, dp_end, tail)
    assert out_ptr[-1] == n and kernels._work(out_ptr, dp_end) <= max_states
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


def test_schedule_running_green_rests_past_max_green_until_another_phase_arrives():
    # Phase 0 is past max green (30 s of 20); phase 1's only vehicles arrive at 50 s. A green
    # for them may show at most 20 s, so it starts at 56 - 20 = 36 s at the earliest; until
    # then phase 0 rests in green (no other phase calls) instead of switching to an idle green.
    inst = ([0, 0, 1], [50.0], [0.0], [3.0], _timing(2, maxg=20.0), 0, 30.0)
    plan = run_kernel(inst)
    assert plan == reference.schedule(*inst)
    check_plan(inst, plan)
    assert [g[:2] for g in plan["greens"]] == [(0, -30.0), (1, 36.0)]
    assert plan["switch_at"] == 36.0 - 3.5 - 1.5


def test_capacity_shrinks_for_big_dps_like_the_reference():
    for states in [1, 2, 100, 128, 129, 256, 300, 512, 513, 864, 1296, 10**6]:
        for cap in (1, 2, 8, 64):
            assert kernels._capacity(states, cap) == reference.capacity_for(states, cap)
    assert kernels._capacity(100, 8) == 8 and kernels._capacity(864, 8) == 2


# ---------------------------------------------------------------- cyclic order


@settings(max_examples=200, deadline=None)
@given(with_rates(), st.sampled_from([1, 2, 8]), st.booleans())
def test_schedule_kernel_equals_reference_in_cyclic_order(case, capacity, with_unseen):
    inst, rates, horizon, dp_end, start = case
    args = {"capacity": capacity, "dp_end": dp_end, "cyclic": True}
    if with_unseen:
        args.update(rates=rates, horizon=horizon, rates_from=start)
    assert run_kernel(inst, **args) == reference.schedule(*inst, **args)


@settings(max_examples=80, deadline=None)
@given(with_rates(draws=CONTINUOUS), st.sampled_from([2, 8]))
def test_schedule_kernel_equals_reference_in_cyclic_order_continuous(case, capacity):
    inst, _, _, dp_end, _ = case
    args = {"capacity": capacity, "dp_end": dp_end, "cyclic": True}
    plan = run_kernel(inst, **args)
    assert plan == reference.schedule(*inst, **args)
    check_plan(inst, plan)
