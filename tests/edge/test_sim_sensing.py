"""Detector placement and the detector-only rule."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge import sumo_import  # noqa: E402
from edge.sim import runner, sensing, sumo  # noqa: E402
from tests.simdata import ARTERIAL, NET, opts  # noqa: E402


class _Spy:
    """The SUMO API module, noting which domains are used."""

    def __init__(self, api):
        self._api = api
        self.used = set()

    def __getattr__(self, name):
        self.used.add(name)
        return getattr(self._api, name)


@pytest.mark.parametrize("mode", ["detectors", "exact"])
def test_detector_mode_never_reads_vehicles(tmp_path, monkeypatch, mode):
    spies = []
    real_start = sumo.start

    def start(cmd, prefer="libsumo"):
        spy = _Spy(real_start(cmd, prefer))
        spies.append(spy)
        return spy

    monkeypatch.setattr(sumo, "start", start)
    runner.run(opts(tmp_path, controller="schedule", sensing=mode, end=120.0))
    (spy,) = spies
    vehicle_data = {"vehicle", "lane", "edge", "person"}
    if mode == "detectors":
        assert spy.used & vehicle_data == set()
        assert {"inductionloop", "lanearea"} <= spy.used
    else:  # the measurement mode does read them: the spy can see it
        assert {"vehicle", "lane"} <= spy.used


def test_fence_exposes_detectors_only():
    import libsumo

    fence = sensing.Fence(libsumo)
    assert fence.inductionloop is libsumo.inductionloop
    with pytest.raises(AttributeError):
        fence.vehicle  # noqa: B018
    layout = sensing.Layout("t", {}, {})
    with pytest.raises(TypeError, match="Fence"):
        sensing.DetectorSensing(layout, libsumo)


def _layout(net, tls):
    imp = runner.import_lights(str(net), [tls])[0]
    return imp, sensing.plan_layout(sumo_import.read_net(net), imp)


def test_zones_reach_200_m_over_single_predecessors_and_stop_there():
    # arterial: 300 m between lights; the middle light's approaches from its neighbours are one
    # lane each fed by a junction, so 200 m fit on the lane itself
    _, lay = _layout(ARTERIAL, "B0")
    for s in lay.lanes.values():
        lengths = [b - a for _, a, b in s.pieces]
        assert sum(lengths) <= sensing.ZONE_M + 1e-6
        assert all(0 < x <= sensing.ZONE_M for x in lengths)
        assert s.pieces[0][0] == s.lane and s.pieces[0][2] == pytest.approx(
            sumo_import.read_net(ARTERIAL).getLane(s.lane).getLength()
        )
    # single-intersection: approaches under 150 m with nothing before them: coverage ends there
    _, lay = _layout(NET, "t")
    net = sumo_import.read_net(NET)
    for s in lay.lanes.values():
        length = net.getLane(s.lane).getLength()
        assert length < 150 and len(s.pieces) == 1 and s.pieces[0][1] == 0.0
        assert s.covered_m == pytest.approx(length - 1.0)


def test_stop_bar_loops_count_vehicles_leaving_in_both_modes(tmp_path, monkeypatch):
    from edge.sim import controllers

    seen = []
    real_make = controllers.make

    def make(name, imp):
        strategy = real_make(name, imp)
        real_decide = strategy.decide

        def decide(now_s, reading, current, elapsed_s):
            seen.append(reading)
            return real_decide(now_s, reading, current, elapsed_s)

        strategy.decide = decide
        return strategy

    monkeypatch.setattr(controllers, "make", make)
    for mode in ("detectors", "exact"):
        seen.clear()
        runner.run(opts(tmp_path, controller="max-pressure", sensing=mode, end=200.0, record=None))
        first, last = seen[0].groups, seen[-1].groups
        assert sum(v.passed for v in last.values()) > 20  # vehicles went through
        for g, v in last.items():
            assert v.passed >= first[g].passed  # a count: it only grows
