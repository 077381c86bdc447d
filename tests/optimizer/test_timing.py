"""Phase timing for the optimizer: built from plain arrays, every problem reported."""

from types import SimpleNamespace

import pytest

from edge.optimizer import phase_timing, timing_from_phases


def test_phase_timing_columns_and_scalars():
    t = phase_timing([5, 7], [40, 30], 3.5, [1.0, 2.0], startup_lost_s=1.5)
    assert t.n_phases == 2
    assert t.min_green_s == (5.0, 7.0) and t.yellow_s == (3.5, 3.5)
    assert t.startup_lost_s == (1.5, 1.5) and t.sat_headway_s == (2.0, 2.0)
    assert not t.array.flags.writeable


def test_phase_timing_reports_every_problem_at_once():
    with pytest.raises(ValueError) as err:
        phase_timing([5, 50], [40, 30], [2.0, 3.5], [1, -1], sat_headway_s=[2.0, 0.0])
    msg = str(err.value)
    assert "phase 0: yellow_s must be >= 3.0, got 2.0" in msg
    assert "phase 1: all_red_s must be finite and >= 0, got -1.0" in msg
    assert "phase 1: min_green_s 50.0 is above max_green_s 30.0" in msg
    assert "phase 1: sat_headway_s must be > 0, got 0.0" in msg


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([5, 5], [40], 3.5, 1.0), "max_green_s has 1 values but there are 2 phases"),
        (([], [], [], []), "no phases"),
        (([5], ["x"], 3.5, 1.0), "max_green_s must be a sequence of numbers"),
        (([5], [2], 3.5, 1.0), "min_green_s 5.0 is above max_green_s 2.0"),
        (([0], [2], 3.5, 1.0), "max_green_s 2.0 leaves no time after startup_lost_s 2.0"),
        (([float("nan")], [20], 3.5, 1.0), "min_green_s must be finite"),
    ],
)
def test_phase_timing_refuses(args, message):
    with pytest.raises(ValueError, match=message):
        phase_timing(*args)


def test_timing_from_phase_objects():
    phases = [
        SimpleNamespace(min_green_s=7.0, max_green_s=30.0, yellow_s=3.5, all_red_s=1.5),
        SimpleNamespace(min_green_s=7.0, max_green_s=45.0, yellow_s=4.0, all_red_s=2.0),
    ]
    t = timing_from_phases(phases, sat_headway_s=[2.0, 1.0])
    assert t.max_green_s == (30.0, 45.0) and t.sat_headway_s == (2.0, 1.0)
    with pytest.raises(ValueError, match="lacks a timing attribute"):
        timing_from_phases([SimpleNamespace(min_green_s=7.0)])
