"""The `schedule` strategy: clusters from detector views, and the saturation mode."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import controllers, runner, sensing  # noqa: E402
from edge.sim.schedule import Schedule  # noqa: E402
from edge.sim.strategy import HOLD, STARTUP_LOST_S, SWITCH, PhaseModel  # noqa: E402
from tests.simdata import NET, TWO_WAY, views  # noqa: E402


def _reading(names, entered, sensed_s=10.0, queue=0.0):
    groups = {
        n: sensing.GroupView(queue=queue, vehicles=queue, entered=entered, sensed_s=sensed_s)
        for n in names
    }
    return sensing.Reading(dict.fromkeys(names, False), dict.fromkeys(names, False), groups)


def test_schedule_clusters_from_detector_views_and_optional_unsensed_flow():
    imp = runner.import_lights(str(NET))[0]
    names = [g.name for g in imp.intersection.groups]
    plain = controllers.make("schedule", imp)
    assert plain.clusters(0.0, _reading(names, 0, queue=2.0)) == [
        [(0.0, 0.0, 4.0)],  # two groups of two queued vehicles each per phase
        [(0.0, 0.0, 4.0)],
    ]
    beyond = Schedule(PhaseModel(imp), beyond_s=30.0)
    beyond.clusters(0.0, _reading(names, 0))
    out = beyond.clusters(120.0, _reading(names, 12))  # 24 veh per phase in 120 s: 720 veh/h
    assert out == [[(10.0, 30.0, pytest.approx(6.0))], [(10.0, 30.0, pytest.approx(6.0))]]


def test_saturation_mode_serves_in_order_until_the_queue_clears():
    imp = runner.import_lights(str(TWO_WAY))[0]
    names = {ph.name: ph.groups for ph in imp.intersection.phases}
    s = controllers.make("schedule", imp)
    p1_group, p3_group, p4_group = names["p1"][0], names["p3"][0], names["p4"][0]
    # a stretch 70 % full of standing vehicles: saturation mode
    full = views(imp, queue={p1_group: 14.0, p4_group: 3.0})
    assert s.decide(0.0, full, 0, 10.0) == (HOLD, 0) and s.saturated
    # p1's queue cleared (below one vehicle per group), a vehicle arriving in 2 s: keep going
    q = {p1_group: 0.0, p4_group: 13.0}
    assert s.decide(1.0, views(imp, queue=q, arrivals={p1_group: [2.0]}), 0, 30.0) == (
        HOLD,
        0,
    )
    # nothing more for p1: the next phase in order with vehicles (p2 and p3 are empty)
    assert s.decide(2.0, views(imp, queue=q), 0, 31.0) == (SWITCH, 3)
    q = {p3_group: 2.0, p4_group: 13.0}
    assert s.decide(3.0, views(imp, queue=q), 3, 5.0) == (HOLD, 3)
    assert s.saturated  # 13 of 20 still above the 0.3 exit
    # below 0.3 everywhere: back to the optimizer
    s.decide(4.0, views(imp, queue={p4_group: 5.0}), 3, 6.0)
    assert not s.saturated and s.last is not None


def test_a_queue_one_max_green_cannot_clear_counts_once_per_max_green_it_needs():
    imp = runner.import_lights(str(TWO_WAY))[0]
    model = PhaseModel(imp)
    phases = imp.intersection.phases
    short = min(range(len(phases)), key=lambda p: phases[p].max_green_s)  # a protected left
    long_ = max(range(len(phases)), key=lambda p: phases[p].max_green_s)
    assert phases[short].max_green_s < phases[long_].max_green_s
    per_group = 10.0
    q = {g: per_group for p in (short, long_) for g in phases[p].groups}
    reading = views(imp, queue=q)
    weighted = Schedule(model).clusters(0.0, reading)
    plain = Schedule(model, overflow_weight=False).clusters(0.0, reading)
    queued = per_group * len(phases[short].groups)
    need = STARTUP_LOST_S + queued * model.headway_s[short]
    assert need > phases[short].max_green_s  # more than one max green's worth
    assert plain[short] == [(0.0, 0.0, queued)]
    assert weighted[short] == [(0.0, 0.0, pytest.approx(queued * need / phases[short].max_green_s))]
    # a queue its max green clears keeps its count
    assert weighted[long_] == plain[long_] == [(0.0, 0.0, per_group * len(phases[long_].groups))]


def test_unseen_demand_is_the_entry_loop_flow_from_the_zones_reach():
    imp = runner.import_lights(str(NET))[0]
    names = [g.name for g in imp.intersection.groups]
    unseen = Schedule(PhaseModel(imp), unseen=True)
    unseen.clusters(0.0, _reading(names, 0))
    out = unseen.clusters(120.0, _reading(names, 12))  # 24 veh per phase in 120 s: 0.2 veh/s
    assert out == [[], []]  # no clusters of its own
    assert unseen.unseen_rate == [pytest.approx(0.2), pytest.approx(0.2)]
    assert unseen.unseen_from_s == [10.0, 10.0]
    # zones that see the whole horizon leave nothing unseen
    unseen.clusters(240.0, _reading(names, 24, sensed_s=200.0))
    assert unseen.unseen_rate == [0.0, 0.0]
    off = controllers.make("schedule", imp)
    off.clusters(120.0, _reading(names, 12))
    assert off.unseen_rate is None  # off by default: the plan is as without it


def test_cyclic_plans_every_waiting_phase_in_index_order():
    imp = runner.import_lights(str(TWO_WAY))[0]
    phases = imp.intersection.phases
    # every phase waits (throughs 8 per group, protected lefts 3); no stretch is full
    q = {g: 8.0 if p % 2 == 0 else 3.0 for p, ph in enumerate(phases) for g in ph.groups}
    reading = views(imp, queue=q)
    off = controllers.make("schedule", imp)
    assert off.cyclic is False  # off by default
    off.decide(0.0, reading, 0, 30.0)
    on = Schedule(PhaseModel(imp), cyclic=True)
    on.decide(0.0, reading, 0, 30.0)
    assert not on.saturated and not off.saturated
    assert [g.phase for g in off.last.greens] == [0, 2, 1, 3]  # the left phase 1 put off
    assert [g.phase for g in on.last.greens] == [0, 1, 2, 3]


def test_split_running_plans_what_the_remaining_max_green_serves_apart_from_the_rest():
    imp = runner.import_lights(str(TWO_WAY))[0]
    model = PhaseModel(imp)
    phases = imp.intersection.phases
    short = min(range(len(phases)), key=lambda p: phases[p].max_green_s)  # a protected left
    q = {g: 6.0 for g in phases[short].groups}
    reading = views(imp, queue=q)
    elapsed = phases[short].max_green_s - 4.0  # 4 s of max green left
    split = Schedule(model, overflow_weight=False)
    assert split.split_running  # on by default
    plain = Schedule(model, split_running=False, overflow_weight=False)
    queued = 6.0 * len(phases[short].groups)
    assert plain.clusters(0.0, reading, short, elapsed)[short] == [(0.0, 0.0, queued)]
    fits = 4.0 / model.headway_s[short]
    first, rest = split.clusters(0.0, reading, short, elapsed)[short]
    assert first == (0.0, 0.0, pytest.approx(fits, rel=1e-5))
    assert rest == (0.0, 0.0, pytest.approx(queued - fits, rel=1e-5))
    # a queue the remaining max green clears, or a phase that is not green, is not split
    small = views(imp, queue={g: 2.0 for g in phases[short].groups})
    assert split.clusters(0.0, small, short, 0.0)[short] == [(0.0, 0.0, 2.0 * len(q))]
    other = (short + 1) % len(phases)
    assert split.clusters(0.0, reading, other, elapsed)[short] == [(0.0, 0.0, queued)]


def test_guard_asks_for_the_phase_the_firmware_would_serve_instead_of_a_refused_skip():
    imp = runner.import_lights(str(TWO_WAY))[0]
    phases = imp.intersection.phases
    n = len(phases)
    s = controllers.make("schedule", imp)
    assert s.guard  # on by default
    waiting = n - 1  # its call is latched while phase 0 is green
    reading = views(imp, queue={phases[waiting].groups[0]: 1.0})
    reading.stop[phases[waiting].groups[0]] = True
    s.decide(0.0, reading, 0, 10.0)
    before = n - 2  # green just before it: skipping it is fine while it has waited little
    assert s.calls.target(1.0, before, 0, 10.0) == 0
    # long after, the firmware's guard would refuse the skip: ask for that phase instead
    span = sum(ph.max_green_s + ph.yellow_s + ph.all_red_s for ph in phases)
    assert s.calls.target(span, before, 0, 10.0) == waiting
    # served: its call is cleared
    s.decide(span + 1.0, views(imp), waiting, 1.0)
    assert s.calls.target(span + 2.0, before, 0, 10.0) == 0
