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


@pytest.mark.parametrize("mode", ["detectors", "exact", "oracle"])
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


def test_sub_zones_tile_the_zones_nearest_first():
    for net, tls in ((ARTERIAL, "B0"), (NET, "t")):
        _, lay = _layout(net, tls)
        for s in lay.lanes.values():
            assert len(s.subzones) == len(s.segments) >= len(s.zones) == len(s.pieces)
            near = 0.0
            for _lane, a, b, dist in s.segments:
                assert 0 < b - a <= sensing.SEGMENT_M + 1e-6
                assert dist == pytest.approx(near)  # stop bar to the sub-zone's near end
                near += b - a
            total = sum(b - a for _, a, b in s.pieces)
            assert near == pytest.approx(total)
            for lane, a, b in s.pieces:  # every piece is split, and only into its own lane
                mine = [x for x in s.segments if x[0] == lane]
                assert min(x[1] for x in mine) == pytest.approx(a)
                assert max(x[2] for x in mine) == pytest.approx(b)


def _arrival_error(tmp_path, monkeypatch, segmented):
    """Over a short run, per group and second with no standing vehicles: |vehicles the
    detectors predict at the stop bar within 8 s - the vehicles' own (exact) count|, summed;
    and the exact count, summed."""
    monkeypatch.setattr(sensing.DetectorSensing, "segmented", segmented)
    pairs = []
    real_read = sensing.ExactSensing.read

    def read(self, now_s):
        det = self.detectors.read(now_s)  # a second read in the same step changes nothing
        exact = real_read(self, now_s)
        pairs.append((det.groups, exact.groups))
        return exact

    monkeypatch.setattr(sensing.ExactSensing, "read", read)
    runner.run(opts(tmp_path, controller="max-pressure", sensing="exact", end=400.0, record=None))
    err = total = 0
    for det, exact in pairs:
        for g, e in exact.items():
            if e.queue or det[g].queue:
                continue  # behind standing vehicles both estimates time vehicles at free speed
            n_exact = sum(t <= 8.0 for t in e.arrivals_s)
            err += abs(sum(t <= 8.0 for t in det[g].arrivals_s) - n_exact)
            total += n_exact
    return err, total


def test_sub_zones_place_approaching_vehicles_closer_than_entry_times(tmp_path, monkeypatch):
    err, total = _arrival_error(tmp_path, monkeypatch, segmented=True)
    err_entry, total_entry = _arrival_error(tmp_path, monkeypatch, segmented=False)
    assert total == total_entry > 300  # the same run: the control reads the exact view
    assert err < 0.9 * err_entry  # 258 against 312 when written
