"""Refusals: every public function names the bad field and shows its value."""

import math

import pytest

from edge.optimizer import max_pressure, schedule, webster
from tests.optimizer.instances import api_timing as _timing

CROSS = [[0, 1], [2, 3]]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"queues": [1.0, -0.5, 0, 0]}, r"queues\[1\] must be finite and >= 0, got -0.5"),
        ({"queues": [1.0, float("nan"), 0, 0]}, r"queues\[1\]"),
        ({"queues": []}, "queues is empty"),
        ({"queues": "abc"}, "queues must be"),
        ({"phase_groups": []}, "at least one phase"),
        ({"phase_groups": [[0, 1], []]}, r"phase_groups\[1\] has no signal groups"),
        ({"phase_groups": [[0, 4]]}, r"phase_groups\[0\] entry must be in 0..3, got 4"),
        ({"phase_groups": [[0, 0]]}, "twice"),
        ({"phase_groups": [[0, 1.5]]}, "must be an integer"),
        ({"current": 2}, r"current must be in -1..1, got 2"),
        ({"current": True}, "current must be an integer"),
        ({"min_switch_gain": -1.0}, "min_switch_gain must be >= 0"),
        ({"min_switch_gain": float("inf")}, "min_switch_gain must be a finite number"),
        ({"downstream": [0.0]}, "downstream has 1 entries"),
    ],
)
def test_max_pressure_refuses_bad_input(kwargs, message):
    args = {"queues": [1.0, 2.0, 3.0, 4.0], "phase_groups": CROSS, **kwargs}
    with pytest.raises(ValueError, match=message):
        max_pressure(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clusters": [[(0.0, 0.0, -1.0)], [], []]}, r"clusters\[0\]\[0\] vehicles must be"),
        ({"clusters": [[(0.0, 0.0)], [], []]}, r"clusters\[0\]\[0\] must be \(arrival_s"),
        ({"clusters": [[], []]}, "timing has 3 phases but there are 2"),
        ({"timing": {"min_green_s": 5}}, "timing must be a PhaseTiming"),
        ({"current": 3}, r"current must be in -1..2, got 3"),
        ({"elapsed_s": -1.0}, "elapsed_s must be a finite number >= 0, got -1.0"),
        ({"horizon_s": 0.0}, "horizon_s must be a finite number > 0"),
        ({"max_work": 0}, "max_work must be an integer >= 1, got 0"),
        ({"unseen_rate": [0.1, -0.2, 0.0]}, r"unseen_rate\[1\] must be finite and >= 0, got -0.2"),
        (
            {"unseen_rate": [0.1, math.nan, 0.0]},
            r"unseen_rate\[1\] must be finite and >= 0, got nan",
        ),
        ({"unseen_rate": [0.1, 0.2]}, r"unseen_rate has 2 entries but there are 3 phases"),
        ({"unseen_rate": 0.1}, r"unseen_rate must be a flat sequence of numbers, got 0.1"),
    ],
)
def test_schedule_refuses_bad_input(kwargs, message):
    args = {"clusters": [[], [], []], "timing": _timing(), "current": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        schedule(**args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([-1, 0], [1800, 1800], [[0], [1]]), r"flows_vph\[0\] must be finite and >= 0"),
        (([1, 0], [1800, 0], [[0], [1]]), r"saturation_vph\[1\] must be > 0"),
        (([1, 0], [1800], [[0], [1]]), "one value per signal group"),
        (([1, 0], [1800, 1800], [[0], []]), r"phase_groups\[1\] has no signal groups"),
        (([1, 0], [1800, 1800], [[0]]), "timing has 2 phases but there are 1"),
    ],
)
def test_webster_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        webster(*args, _timing(2))


def test_webster_refuses_inverted_cycle_bounds():
    with pytest.raises(ValueError, match="cycle_min_s 90 is above cycle_max_s 60"):
        webster([1, 1], [1800, 1800], [[0], [1]], _timing(2), cycle_min_s=90, cycle_max_s=60)
