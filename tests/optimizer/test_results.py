"""Results: the decision a plan implies (never a switch to the phase already green), the Webster
plan's decisions, and a schedule's greens as objects and arrays."""

import math

import numpy as np
import pytest

from edge.optimizer import Decision, schedule, webster
from edge.optimizer.results import decision_from
from tests.optimizer.instances import api_timing as _timing


def test_schedule_never_switches_to_the_phase_already_green():
    # A 30-vehicle platoon arrives on the green phase in 40 s, over 60 s: more than one max
    # green, so the plan ends the running green and serves the platoon in later greens of the
    # same phase. The firmware refuses a SWITCH to the green phase: the decision must hold.
    s = schedule([[], [(40.0, 60.0, 30.0)]], _timing(2), current=1, elapsed_s=5.0)
    assert s.decision == Decision(phase=1, switch=False, next_phase=-1, switch_in_s=math.inf)
    assert all(g.phase == 1 for g in s.greens)


def test_webster_plan_and_decisions():
    plan = webster(
        [540, 540, 360, 360],
        [1800] * 4,
        [[0, 1], [2, 3]],
        _timing(2, startup_lost_s=2.0, yellow_s=3.0, all_red_s=0.0),
    )
    assert plan.cycle_s == pytest.approx(40.0) and plan.green_s == pytest.approx((20.0, 14.0))
    assert plan.decide(0, 5.0) == Decision(0, False, 1, pytest.approx(15.0))
    assert plan.decide(0, 25.0) == Decision(1, True, 1, 0.0)
    assert plan.decide(1, 14.0) == Decision(0, True, 0, 0.0)
    assert plan.decide(-1, 0.0).phase == 0


def test_schedule_greens_property_matches_the_arrays():
    s = schedule([[(0.0, 0.0, 3.0)], [(0.0, 0.0, 2.0)]], _timing(2), current=0, elapsed_s=9.0)
    assert [g.phase for g in s.greens] == s.green_phase.tolist() == [0, 1]
    assert s.greens[1].start_s == s.green_start_s[1] == s.greens[0].end_s + 5.0


def test_decision_from_holds_through_greens_that_serve_the_running_phase_again():
    # Phase 1 is green; the plan gives it two more greens before phase 0's: hold, and announce
    # phase 0 at the end of the last of them.
    g_ph = np.array([1, 1, 1, 0], np.int64)
    g_t = np.array([[-5.0, 3.0], [7.0, 20.0], [24.0, 30.0], [34.0, 40.0]])
    assert decision_from(g_ph, g_t, 0, 4, 1, 3.0, 1.0) == Decision(1, False, 0, 30.0)
    # Only the running green and phase 0's, ending within the step: switch now.
    assert decision_from(g_ph, g_t, 2, 2, 1, 0.5, 1.0) == Decision(0, True, 0, 0.5)
    # Nothing after the running green: hold it, no switch planned.
    assert decision_from(g_ph, g_t, 0, 1, 1, 3.0, 1.0) == Decision(1, False, -1, math.inf)
