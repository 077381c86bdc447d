"""The look-ahead (measurement only): the stretches it watches and what exact sensing reads."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge import sumo_import  # noqa: E402
from edge.sim import lookahead, runner, sensing  # noqa: E402
from tests.simdata import ARTERIAL, NET, ROOT, opts  # noqa: E402


def _layout(net, tls):
    imp = runner.import_lights(str(net), [tls])[0]
    return imp, sensing.plan_layout(sumo_import.read_net(net), imp)


def test_look_ahead_follows_the_roads_upstream_through_other_lights_not_this_one():
    net = sumo_import.read_net(ARTERIAL)
    _, lay = _layout(ARTERIAL, "B0")
    approaches = {net.getLane(lane).getEdge().getID() for lane in lay.lanes}
    far = lookahead.plan_look_ahead(net, lay, 800.0)
    ways = [st for w in far.stretches.values() for st in w.values()]
    # the fringe arms behind A0 and C0 (240 m, after 280 m of road) are all within 800 m
    assert {st.edge for st in ways} >= {"left0A0", "right0C0", "A0B0", "C0B0"} - approaches
    for st in ways:
        assert st.path[0] == st.edge and st.path[-1] in approaches
        assert not approaches & set(st.path[:-1])  # never through this light
        assert 0 < st.ahead_m < 800.0 and 0.0 <= st.from_m < st.length_m
        assert st.signalled  # A0 or C0 stands between
    near = lookahead.plan_look_ahead(net, lay, 400.0)
    for edge, w in near.stretches.items():
        for path, st in w.items():
            # the same ways, cut at 400 m: a fringe arm behind a neighbour only partly
            assert st.ahead_m < 400.0
            assert st.from_m == pytest.approx(max(0.0, st.length_m - (400.0 - st.ahead_m)))
            assert far.stretches[edge][path].from_m <= st.from_m
    # single-intersection: every approach starts at the network's edge: nothing upstream
    _, lay = _layout(NET, "t")
    assert lookahead.plan_look_ahead(sumo_import.read_net(NET), lay, 800.0).stretches == {}


def test_look_ahead_sees_the_zones_vehicles_and_those_beyond(tmp_path, monkeypatch):
    """A short arterial run with exact sensing over 800 m: every step, each group has at
    least the vehicles exact sensing over the zones' reach has, and in sum many more."""
    seen = []
    real_read = sensing.ExactSensing.read

    def read(self, now_s):
        far = real_read(self, now_s)
        if not hasattr(self, "_near"):
            self._near = sensing.ExactSensing(self.layout, self.api)
        near = real_read(self._near, now_s)
        seen.append((near.groups, far.groups))
        return far

    monkeypatch.setattr(sensing.ExactSensing, "read", read)
    routes = ROOT / "scenarios" / "generated" / "arterial-moderate.rou.xml"
    o = opts(tmp_path, net=str(ARTERIAL), routes=[str(routes)], controller="max-pressure")
    o.sensing, o.reach_m, o.end, o.record = "exact", 800.0, 240.0, None
    runner.run(o)
    more = 0
    for near, far in seen:
        for g, v in near.items():
            assert far[g].vehicles >= v.vehicles
            more += far[g].vehicles - v.vehicles
    assert more > len(seen)  # more than one vehicle per step beyond the zones, over 3 lights


def test_look_ahead_is_exact_sensing_only(tmp_path):
    with pytest.raises(runner.SimError, match="--reach"):
        runner.run(opts(tmp_path, sensing="detectors", reach_m=400.0))
    with pytest.raises(runner.SimError, match="--reach"):
        runner.run(opts(tmp_path, sensing="exact", reach_m=0.0))


class _Api:
    """Just the vehicle data `lookahead.vehicles` reads: {vehicle: (edge, pos, speed, route, i)}."""

    def __init__(self, cars):
        self.cars = cars
        self.vehicle, self.lane, self.edge = self, self, self

    def getLastStepVehicleIDs(self, where):  # lanes and edges alike: "edge" or "edge_k"
        return [v for v, c in self.cars.items() if where in (c[0], c[0].rpartition("_")[0])]

    def getLanePosition(self, v):
        return self.cars[v][1]

    def getSpeed(self, v):
        return self.cars[v][2]

    def getRoute(self, v):
        return self.cars[v][3]

    def getRouteIndex(self, v):
        return self.cars[v][4]


def test_vehicles_upstream_count_on_the_lane_of_their_next_turn():
    net = sumo_import.read_net(ARTERIAL)
    _, lay = _layout(ARTERIAL, "B0")
    look = lookahead.plan_look_ahead(net, lay, 800.0)
    st = look.stretches["left0A0"][("left0A0", "A0B0")]  # behind A0, 300 m from B0's stop bar
    api = _Api(
        {
            "right": ("left0A0_0", 100.0, 0.0, ("left0A0", "A0B0", "B0bottom1"), 0),
            "straight": ("left0A0_1", 200.0, 10.0, ("left0A0", "A0B0", "B0C0"), 0),
            "elsewhere": ("left0A0_1", 200.0, 10.0, ("left0A0", "A0top0"), 0),
            "near": ("C0B0_1", 250.0, 5.0, ("C0B0", "B0A0"), 0),
        }
    )
    routes = {}
    rows = list(lookahead.vehicles(look, lay, api, routes))
    # the approach lanes first, then upstream in SUMO's order; "elsewhere" never comes to B0
    got = dict(zip(("near", "right", "straight"), rows, strict=True))
    limit = look.speed["A0B0"]  # standing behind A0's light: the earliest it can come
    assert got["right"] == ("A0B0_0", st.ahead_m + st.length_m - 100.0, 0.0, limit)
    lane, dist, _, _ = got["straight"]
    assert lane in ("A0B0_0", "A0B0_1") and dist == st.ahead_m + st.length_m - 200.0
    c0b0 = net.getLane("C0B0_1").getLength()
    assert got["near"] == ("C0B0_1", c0b0 - 250.0, 5.0, None)  # on an approach: by its lane
    assert set(routes) == {"right", "straight", "elsewhere"}  # routes read once, then kept
