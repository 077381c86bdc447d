"""The simple strategies (fixed, max-pressure, webster, actuated) and the registry `make`."""

import dataclasses

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import CONTROLLERS, controllers, runner, schedule, strategy  # noqa: E402
from tests.simdata import NET, TWO_WAY, views  # noqa: E402

HOLD, SWITCH = controllers.HOLD, controllers.SWITCH


def test_make_builds_every_controller_by_name_and_refuses_others():
    imp = runner.import_lights(str(NET))[0]
    kinds = {
        "schedule": schedule.Schedule,
        "max-pressure": controllers.MaxPressure,
        "actuated": controllers.Actuated,
        "webster": controllers.Webster,
        "fixed": controllers.Fixed,
    }
    assert set(kinds) == set(CONTROLLERS)
    for name, kind in kinds.items():
        s = controllers.make(name, imp)
        assert type(s) is kind and isinstance(s.model, strategy.PhaseModel)
        assert s.remote is (name != "actuated")
    with pytest.raises(ValueError, match=r"one of schedule, .*got 'sumo'"):
        controllers.make("sumo", imp)


def test_the_moved_names_are_still_found_here():
    # importers (runner, coordination, the study's --schedule) know them as controllers.X
    assert controllers.Schedule is schedule.Schedule
    assert controllers._BY_NAME["schedule"] is schedule.Schedule
    assert controllers.PhaseModel is strategy.PhaseModel
    assert controllers.Strategy is strategy.Strategy
    assert (controllers.HOLD, controllers.SWITCH) == (1, 2)
    assert controllers.STARTUP_LOST_S == strategy.STARTUP_LOST_S
    assert controllers.LANE_HEADWAY_S == strategy.LANE_HEADWAY_S


def test_actuated_sends_no_request():
    imp = runner.import_lights(str(NET))[0]
    s = controllers.make("actuated", imp)
    assert s.decide(0.0, views(imp, queue={"n_thru": 5.0}), 0, 30.0) is None


def test_fixed_holds_for_the_programs_green_then_switches_in_order():
    imp = runner.import_lights(str(TWO_WAY))[0]
    s = controllers.make("fixed", imp)
    reading = views(imp)
    assert imp.green_s[0] == 33.0 and imp.green_s[1] == 6.0
    assert s.decide(0.0, reading, 0, 32.9) == (HOLD, 0)
    assert s.decide(0.0, reading, 0, 33.0) == (SWITCH, 1)
    assert s.decide(0.0, reading, 1, 5.9) == (HOLD, 1)
    assert s.decide(0.0, reading, 3, 6.0) == (SWITCH, 0)  # after the last phase, the first
    # a program green above max green or below min green is brought inside them
    s.model.imported = dataclasses.replace(imp, green_s=(100.0, 2.0, 33.0, 6.0))
    assert s.decide(0.0, reading, 0, 65.9) == (HOLD, 0)
    assert s.decide(0.0, reading, 0, 66.0) == (SWITCH, 1)  # max green 66 s
    assert s.decide(0.0, reading, 1, 4.9) == (HOLD, 1)  # min green 5 s
    assert s.decide(0.0, reading, 1, 5.0) == (SWITCH, 2)


def test_max_pressure_holds_the_heaviest_phase_and_switches_to_it():
    imp = runner.import_lights(str(NET))[0]
    s = controllers.make("max-pressure", imp)
    west = views(imp, queue={"w_thru": 6.0, "w_thru_2": 4.0, "n_thru": 1.0})
    assert s.decide(0.0, west, 0, 10.0) == (SWITCH, 1)
    assert s.decide(0.0, west, 1, 10.0) == (HOLD, 1)


def test_webster_plans_from_counted_flows_and_replans_at_the_cycle_start():
    imp = runner.import_lights(str(NET))[0]
    s = controllers.make("webster", imp)
    first = s.decide(0.0, views(imp, entered=0), 0, 0.0)
    assert first == (HOLD, 0)  # just started: inside min green
    plan = s._plan
    assert s.decide(1.0, views(imp, entered=0), 0, 1.0) == (HOLD, 0)
    assert s._plan is plan  # same cycle: same plan
    s.decide(2.0, views(imp, entered=0), 1, 1.0)
    s.decide(120.0, views(imp, entered=20), 0, 0.0)  # back at phase 0: a new cycle, a new plan
    assert s._plan is not plan
