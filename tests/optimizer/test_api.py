"""The public optimizer API: answers and refusals."""

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.optimizer import (
    Decision,
    cluster_table,
    max_pressure,
    reference,
    schedule,
    warm_up,
    webster,
)
from tests.optimizer.instances import api_timing as _timing
from tests.optimizer.instances import check_plan

CROSS = [[0, 1], [2, 3]]


def test_max_pressure_picks_the_heaviest_phase():
    assert max_pressure([1.0, 2.0, 3.0, 4.0], CROSS) == 1
    assert max_pressure([5.0, 2.0, 3.0, 0.0], CROSS) == 0


def test_max_pressure_keeps_current_on_tie_and_within_gain():
    assert max_pressure([1.0, 1.0, 1.0, 1.0], CROSS, current=1) == 1
    assert max_pressure([1.0, 1.0, 1.0, 1.0], CROSS) == 0  # no current: lowest index
    assert max_pressure([1.0, 2.0, 3.0, 4.0], CROSS, current=0, min_switch_gain=4.0) == 0
    assert max_pressure([1.0, 2.0, 3.0, 4.0], CROSS, current=0, min_switch_gain=3.9) == 1


def test_max_pressure_downstream_term_counts():
    # Phase 1 has more queue, but its exits are blocked.
    assert max_pressure([1.0, 1.0, 3.0, 3.0], CROSS, downstream=[0, 0, 3, 3]) == 0


def test_max_pressure_one_phase_and_zero_demand():
    assert max_pressure([0.0], [[0]]) == 0
    assert max_pressure([0.0, 0.0], [[0], [1]], current=1) == 1


# ---------------------------------------------------------------- schedule


def test_schedule_nothing_arriving_holds_the_current_phase():
    s = schedule([[], [], []], _timing(), current=1, elapsed_s=20.0)
    assert s.decision == Decision(phase=1, switch=False, next_phase=-1, switch_in_s=math.inf)
    assert s.delay_veh_s == 0.0
    assert [(g.phase, g.clusters) for g in s.greens] == [(1, 0)]


def test_schedule_switches_to_waiting_traffic_after_min_green():
    clusters = [[], [(0.0, 0.0, 6.0)], []]
    waiting = schedule(clusters, _timing(), current=0, elapsed_s=2.0)
    assert waiting.decision.switch is False  # min green has 3 s left
    assert waiting.decision.next_phase == 1
    assert waiting.decision.switch_in_s == pytest.approx(3.0)
    now = schedule(clusters, _timing(), current=0, elapsed_s=5.0)
    assert now.decision == Decision(phase=1, switch=True, next_phase=1, switch_in_s=0.0)
    assert now.greens[1].start_s == pytest.approx(5.0)  # after yellow and all-red


def test_schedule_extends_for_an_arriving_platoon():
    # Phase 0 is green with a platoon 4 s out; phase 1 has one car waiting.
    clusters = [[(4.0, 6.0, 3.0)], [(0.0, 0.0, 1.0)]]
    s = schedule(clusters, _timing(2), current=0, elapsed_s=10.0)
    assert s.decision.switch is False and s.decision.phase == 0
    assert s.greens[0].clusters == 1 and s.decision.switch_in_s == pytest.approx(10.0)


def test_schedule_does_not_reserve_a_phase_through_its_clearance_while_another_waits():
    # As above, with one car waiting on phase 0: re-serving phase 1 right after its own
    # clearance would sidestep max green, so phase 0 gets its green in between.
    s = schedule([[(0.0, 0.0, 1.0)], [(40.0, 60.0, 30.0)]], _timing(2), current=1, elapsed_s=5.0)
    assert [g.phase for g in s.greens][:3] == [1, 0, 1]
    assert s.decision == Decision(phase=0, switch=True, next_phase=0, switch_in_s=0.0)


def test_schedule_from_all_red_starts_the_busiest_phase():
    s = schedule([[(0.0, 0.0, 1.0)], [(0.0, 0.0, 9.0)]], _timing(2), current=-1)
    assert s.decision == Decision(phase=1, switch=True, next_phase=1, switch_in_s=0.0)


def test_schedule_drops_clusters_beyond_the_horizon():
    s = schedule([[(0.0, 0.0, 2.0)], [(130.0, 5.0, 3.0)]], _timing(2), current=0, horizon_s=120)
    assert s.clusters.phase(1) == [] and len(s.greens) == 1


def test_schedule_saturated_plan_respects_the_bounds():
    timing = _timing(4, max_green_s=[30.0, 45.0, 30.0, 40.0])
    clusters = [[(0.0, 0.0, 60.0), (10.0, 100.0, 60.0)] for _ in range(4)]
    s = schedule(clusters, timing, current=2, elapsed_s=7.0, max_work=256)
    assert s.states <= 256 and s.tail_veh > 0  # far more than 120 s of demand per phase
    assert sum(g.clusters for g in s.greens) == s.clusters.rows.shape[0]
    assert s.clusters.rows[:, 2].sum() == pytest.approx(4 * (60 + 60))  # every vehicle planned
    for g, nxt in zip(s.greens, s.greens[1:], strict=False):
        assert nxt.start_s == pytest.approx(g.end_s + 3.5 + 1.5)
    for g in s.greens:
        assert g.end_s - g.start_s >= 5.0 - 1e-9
    assert (s.cluster_end_s >= s.cluster_start_s).all()


def test_schedule_accepts_a_cluster_table_and_numpy_scalars():
    table = cluster_table([[(0.0, 0.0, 2.0)], []])
    s = schedule(table, _timing(2), current=np.int64(0), elapsed_s=np.float64(1.0))
    assert s.decision.phase == 0


# ---------------------------------------------------------------- Webster


def test_webster_zero_demand_splits_evenly_and_respects_min_green():
    plan = webster([0, 0, 0], [1800] * 3, [[0], [1], [2]], _timing(3, min_green_s=[5, 5, 20]))
    assert plan.green_s[0] == plan.green_s[1] and plan.green_s[2] >= 20.0


def test_warm_up_runs_every_kernel():
    assert warm_up() >= 0.0


def _check_decision(decision, greens, current, switch_at):
    """The decision a plan implies: never a SWITCH to the phase already green."""
    if current < 0:
        nxt = greens[0][0] if greens else -1
        switch = nxt >= 0 and switch_at < 1.0
        assert decision == Decision(nxt if switch else current, switch, nxt, switch_at)
        return
    g = 1
    while g < len(greens) and greens[g][0] == current:  # greens re-serving `current` first
        g += 1
    if g == len(greens):
        assert decision == Decision(current, False, -1, math.inf)
        return
    end = greens[g - 1][2] if g > 1 else switch_at
    switch = end < 1.0
    assert decision == Decision(greens[g][0] if switch else current, switch, greens[g][0], end)


@st.composite
def _api_problems(draw):
    n_ph = draw(st.integers(1, 4))
    timing = _timing(
        n_ph,
        min_green_s=draw(st.lists(st.sampled_from([0.0, 5.0, 7.0]), min_size=n_ph, max_size=n_ph)),
        max_green_s=draw(
            st.lists(st.sampled_from([10.0, 25.0, 40.0]), min_size=n_ph, max_size=n_ph)
        ),
        sat_headway_s=draw(st.sampled_from([1.0, 2.0])),
    )
    cluster = st.tuples(
        st.sampled_from([0.0, 3.0, 12.5, 40.0, 90.0, 130.0]),
        st.sampled_from([0.0, 2.0, 15.0, 60.0]),
        st.sampled_from([0.0, 1.0, 4.0, 30.0]),
    )
    clusters = draw(st.lists(st.lists(cluster, max_size=4), min_size=n_ph, max_size=n_ph))
    current = draw(st.integers(-1, n_ph - 1))
    return clusters, timing, current, draw(st.sampled_from([0.0, 4.0, 60.0]))


def _reference_instance(s, timing, current, elapsed):
    """The plain-Python reference's arguments for the problem `s` (a Schedule) solved."""
    t = s.clusters
    return (
        t.ptr.tolist(),
        *(t.rows[:, c].tolist() for c in range(3)),
        [c.tolist() for c in timing.array.T],
        current,
        elapsed,
    )


@settings(max_examples=100, deadline=None)
@given(_api_problems(), st.sampled_from([64, 4096]))
def test_schedule_plan_is_valid_and_equals_the_reference(problem, max_work):
    clusters, timing, current, elapsed = problem
    s = schedule(clusters, timing, current, elapsed, max_work=max_work)
    t = s.clusters
    inst = _reference_instance(s, timing, current, elapsed)
    cap = reference.capacity_for(s.states)
    want = reference.schedule(*inst, capacity=cap, dp_end=s.tail_from.tolist())
    got = {
        "delay": s.delay_veh_s,
        "greens": [(g.phase, g.start_s, g.end_s, g.clusters) for g in s.greens],
        "starts": s.cluster_start_s.tolist(),
        "ends": s.cluster_end_s.tolist(),
        "pruned": s.pruned,
        "rollout": s.rollout,
    }
    want_switch_at = want.pop("switch_at")
    assert got == want
    _check_decision(s.decision, want["greens"], current, want_switch_at)
    check_plan(inst, want)
    given_veh = sum(
        n * (min(1.0, (120 - a) / d) if d else a < 120)
        for ph in clusters
        for a, d, n in ph
        if a < 120
    )
    assert t.rows[:, 2].sum() == pytest.approx(given_veh)
    tail = sum(t.rows[s.tail_from[p] : t.ptr[p + 1], 2].sum() for p in range(t.n_phases))
    assert s.tail_veh == pytest.approx(tail)


@settings(max_examples=60, deadline=None)
@given(_api_problems(), st.sampled_from([64, 4096]))
def test_schedule_zero_unseen_rate_is_no_unseen_rate(problem, max_work):
    clusters, timing, current, elapsed = problem
    plain = schedule(clusters, timing, current, elapsed, max_work=max_work)
    zeros = schedule(
        clusters, timing, current, elapsed, max_work=max_work, unseen_rate=[0.0] * timing.n_phases
    )
    for f in fields(plain):
        a, b = getattr(plain, f.name), getattr(zeros, f.name)
        if f.name == "clusters":
            a, b = (a.ptr, a.rows), (b.ptr, b.rows)
            assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), f.name
        elif isinstance(a, np.ndarray):
            assert np.array_equal(a, b), f.name
        else:
            assert a == b, f.name


def test_schedule_unseen_rate_ends_a_green_that_keeps_another_phase_red():
    # Phase 0 green with a car every 3 s from 1 s to 10 s; phase 1 one car waiting. Without
    # unseen demand the plan serves phase 0's stream (green to 12 s); 1 veh/s unseen on phase 1
    # charges the red that imposes (1 x red^2 / 2), and the plan switches now.
    clusters = [[(1.0 + 3.0 * i, 0.0, 1.0) for i in range(4)], [(0.0, 0.0, 1.0)]]
    plain = schedule(clusters, _timing(2), current=0, elapsed_s=10.0)
    assert plain.decision == Decision(phase=0, switch=False, next_phase=1, switch_in_s=12.0)
    much = schedule(clusters, _timing(2), current=0, elapsed_s=10.0, unseen_rate=[0.0, 1.0])
    assert much.decision == Decision(phase=1, switch=True, next_phase=1, switch_in_s=0.0)
    # phase 1 red from 0 to 5 s: 1 x 25 / 2, and its green lasts until the 5 unseen vehicles
    # have left (5 + 2 + 5 x 2 = 17 s)
    assert much.delay_veh_s > plain.delay_veh_s + 12.5
    assert much.greens[1].end_s == pytest.approx(17.0)
    # unseen demand on the green phase itself does not make it end sooner
    own = schedule(clusters, _timing(2), current=0, elapsed_s=10.0, unseen_rate=[1.0, 0.0])
    assert own.decision == plain.decision


# ---------------------------------------------------------------- cyclic order


@settings(max_examples=60, deadline=None)
@given(_api_problems(), st.sampled_from([64, 4096]))
def test_schedule_cyclic_false_is_the_default_and_cyclic_equals_the_reference(problem, max_work):
    clusters, timing, current, elapsed = problem
    plain = schedule(clusters, timing, current, elapsed, max_work=max_work)
    off = schedule(clusters, timing, current, elapsed, max_work=max_work, cyclic=False)
    assert plain.greens == off.greens and plain.decision == off.decision
    assert plain.delay_veh_s == off.delay_veh_s and plain.pruned == off.pruned
    on = schedule(clusters, timing, current, elapsed, max_work=max_work, cyclic=True)
    inst = _reference_instance(on, timing, current, elapsed)
    cap = reference.capacity_for(on.states)
    want = reference.schedule(*inst, capacity=cap, dp_end=on.tail_from.tolist(), cyclic=True)
    assert [(g.phase, g.start_s, g.end_s, g.clusters) for g in on.greens] == want["greens"]
    assert on.delay_veh_s == want["delay"]
    check_plan(inst, want)
    assert on.delay_veh_s >= 0.0


def _steps(greens):
    """Phase steps between greens, up to where one phase alone is left (it follows itself)."""
    seq = [g.phase for g in greens]
    end = next((k for k in range(1, len(seq)) if seq[k] == seq[k - 1]), len(seq))
    return [(b - a) % 3 for a, b in zip(seq[: end - 1], seq[1:end], strict=True)]


def test_schedule_cyclic_order_serves_every_waiting_phase_before_one_again():
    # Three phases with standing queues and steady streams (so every phase calls while it has
    # vehicles left); phase 1, a protected left with a 12 s max green, has more than its
    # greens clear. Free order goes 0 -> 2 while phase 1 waits; cyclic order always goes on
    # to the next phase.
    timing = _timing(3, max_green_s=[40.0, 12.0, 40.0])
    clusters = [
        [(0.0, 0.0, 4.0), (0.0, 120.0, 20.0)],
        [(0.0, 0.0, 9.0), (0.0, 120.0, 25.0)],
        [(0.0, 0.0, 6.0), (0.0, 120.0, 20.0)],
    ]
    free = schedule(clusters, timing, current=0, elapsed_s=10.0)
    on = schedule(clusters, timing, current=0, elapsed_s=10.0, cyclic=True)
    assert 2 in _steps(free.greens)
    assert set(_steps(on.greens)) == {1}
    assert on.delay_veh_s >= free.delay_veh_s  # a restriction: the DP's optimum can only rise


def test_schedule_cyclic_order_skips_a_phase_that_does_not_call():
    # Phase 1 has a car only at 60 s: cyclic order goes 0 -> 2 now rather than holding the
    # intersection for it, and serves phase 1 when it comes.
    timing = _timing(3)
    clusters = [[], [(60.0, 0.0, 1.0)], [(0.0, 0.0, 5.0)]]
    on = schedule(clusters, timing, current=0, elapsed_s=10.0, cyclic=True)
    assert on.decision.switch and on.decision.next_phase == 2


@pytest.mark.parametrize("value", [1, "yes", None])
def test_schedule_refuses_a_cyclic_that_is_not_a_bool(value):
    with pytest.raises(ValueError, match="cyclic must be True or False"):
        schedule([[(0.0, 0.0, 1.0)], []], _timing(2), 0, 5.0, cyclic=value)
