"""The phase model every strategy shares, and the strategy base."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import runner, strategy  # noqa: E402
from tests.simdata import NET, TWO_WAY, views  # noqa: E402


def test_the_model_says_which_phase_serves_each_group_and_its_lanes():
    imp = runner.import_lights(str(TWO_WAY))[0]
    m = strategy.PhaseModel(imp)
    assert m.names == [g.name for g in imp.intersection.groups]
    assert m.phase_groups == [
        [m.names.index(g) for g in ph.groups] for ph in imp.intersection.phases
    ]
    assert m.serving["n_left"] == m.serving["s_left"] == 1
    assert m.serving["e_thru_right"] == 2
    assert m.lanes_of == {g: len(imp.lanes[g]) for g in m.names}
    assert m.n_lanes == [2, 2, 2, 2]  # two one-lane groups per phase


def test_retime_sets_each_phases_headway_from_one_lanes():
    imp = runner.import_lights(str(NET))[0]
    m = strategy.PhaseModel(imp)
    assert m.lane_headway_s == [strategy.LANE_HEADWAY_S] * 2
    assert m.headway_s == [strategy.LANE_HEADWAY_S / 2] * 2  # two lanes per phase
    assert list(m.timing.array[:, -1]) == m.headway_s  # the optimizer's bounds carry it
    m.retime([3.0, 1.6])
    assert m.lane_headway_s == [3.0, 1.6] and m.headway_s == [1.5, 0.8]
    assert list(m.timing.array[:, -1]) == [1.5, 0.8]
    assert strategy.LANE_SATURATION_VPH == 1800.0


def test_the_base_strategy_is_remote_and_decides_nothing_itself():
    imp = runner.import_lights(str(NET))[0]
    s = strategy.Strategy(strategy.PhaseModel(imp))
    assert s.remote
    with pytest.raises(NotImplementedError):
        s.decide(0.0, views(imp), 0, 0.0)


def test_flow_rate_is_counts_over_the_window_once_a_minute_is_in_it():
    rate = strategy.FlowRate(window_s=120.0)
    assert rate(0.0, [0, 0]) == [0.0, 0.0]
    assert rate(59.0, [10, 3]) == [0.0, 0.0]  # under 60 s of counts: no figure yet
    assert rate(60.0, [12, 3]) == [720.0, 180.0]  # 12 and 3 vehicles in 60 s
    assert rate(120.0, [20, 3]) == [600.0, 90.0]  # from the count at 0 s: 20 and 3 in 120 s
    # the counts at 0, 59 and 60 s have left the window: from the one at 120 s; never negative
    assert rate(181.0, [30, 2]) == [10 * 3600.0 / 61.0, 0.0]
