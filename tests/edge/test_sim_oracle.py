"""The clairvoyant sensing (`--sensing oracle`, measurement only): the future demand, where it
appears and how it approaches, and that knowing it leaves the demand itself alone."""

import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge import sumo_import  # noqa: E402
from edge.sim import lookahead, oracle, runner, sensing  # noqa: E402
from tests.simdata import ARTERIAL, NET, opts  # noqa: E402


def _seer(netf, tls, trips, pending=(), horizon_s=120.0):
    imp = runner.import_lights(str(netf), [tls])[0]
    net = sumo_import.read_net(netf)
    lay = sensing.plan_layout(net, imp)

    class Simulation:
        @staticmethod
        def getPendingVehicles():
            return list(pending)

        @staticmethod
        def getDeltaT():
            return 1.0

    class Api:
        simulation = Simulation

    return lay, oracle.Clairvoyant(net, lay, oracle.Future(trips, Api), horizon_s)


def test_a_future_vehicle_appears_on_its_lane_at_its_distance_and_comes_closer():
    trip = oracle.Trip("ns.7", 30.0, 5.1, ("n_t", "t_s"))
    lay, seer = _seer(NET, "t", [trip])
    lane_m = lay.lanes["n_t_0"].pieces[0][2]
    limit = seer.look.speed["n_t"]
    first = seer.arrivals(0.0)
    [(lane, [arrive])] = first.items()
    assert lane in ("n_t_0", "n_t_1")  # the approach it takes to t_s
    # inserted 5.1 m into its 148.55 m approach, 30 s from now, then at the limit
    assert arrive == pytest.approx((lane_m - 5.1) / limit + 30.0)
    assert seer.arrivals(10.0) == {lane: [pytest.approx(arrive - 10.0)]}  # 10 s later: nearer
    assert seer.arrivals(29.5) == {lane: [pytest.approx(arrive - 29.5)]}
    # due since the last 1 s step: SUMO inserts it in the next one, it is still to come
    assert seer.arrivals(30.5) == {lane: [pytest.approx(arrive - 30.0)]}
    # after that step it is SUMO's: inserted (in no reading of the oracle's) or pending
    assert seer.arrivals(31.0) == {}
    lay, seer = _seer(NET, "t", [trip], pending=["ns.7"])
    assert seer.arrivals(31.0) == {lane: [pytest.approx((lane_m - 5.1) / limit)]}
    # beyond the horizon's reach: not yet
    lay, seer = _seer(NET, "t", [trip], horizon_s=20.0)
    assert seer.arrivals(0.0) == {}
    assert seer.arrivals(25.0) == {lane: [pytest.approx(arrive - 25.0)]}
    # a vehicle bound elsewhere never appears
    lay, seer = _seer(NET, "t", [oracle.Trip("we.1", 5.0, 5.1, ("w_t", "t_e"))])
    assert set(seer.arrivals(0.0)) <= {"w_t_0", "w_t_1"}


def test_a_future_vehicle_upstream_appears_behind_the_neighbour_on_its_turn_lane():
    """Arterial, light B0: a vehicle to be inserted on A0's west arm, straight on through A0 and
    then right at B0: on A0B0's right-turn lane, its route to B0's stop bar away."""
    route = ("left0A0", "A0B0", "B0bottom1")
    lay, seer = _seer(ARTERIAL, "B0", [oracle.Trip("x", 12.0, 5.1, route)])
    st = seer.look.stretches["left0A0"][("left0A0", "A0B0")]
    limit = seer.look.speed["A0B0"]
    got = seer.arrivals(2.0)
    assert got == {"A0B0_0": [pytest.approx((st.ahead_m + st.length_m - 5.1) / limit + 10.0)]}
    assert lookahead.place(seer.look, lay, "x", route, 5.1)[0] == "A0B0_0"
    # to A0 the same vehicle is on A0's own approach
    _, seer_a = _seer(ARTERIAL, "A0", [oracle.Trip("x", 12.0, 5.1, route)])
    [(lane, [arrive])] = seer_a.arrivals(2.0).items()
    assert lane.startswith("left0A0_") and arrive < got["A0B0_0"][0]


def test_trips_are_intended_departures_and_an_uninserted_vehicle_takes_its_flows_route(tmp_path):
    info = tmp_path / "t.xml"
    info.write_text(
        "<tripinfos>"
        '<tripinfo id="f.0" depart="4.00" departPos="5.10" departDelay="0.73"/>'
        '<tripinfo id="f.1" depart="-1" departPos="-1.00" departDelay="142.00"/>'
        '<tripinfo id="g.0" depart="-1" departPos="-1.00" departDelay="3.00"/>'
        "</tripinfos>"
    )
    routes = tmp_path / "r.xml"
    routes.write_text('<routes><vehicle id="f.0"><route edges="n_t t_s"/></vehicle></routes>')
    trips, left_out = oracle.read_trips(str(info), str(routes), 3600.0)
    assert trips == [
        oracle.Trip("f.0", pytest.approx(3.27), 5.1, ("n_t", "t_s")),
        oracle.Trip("f.1", 3458.0, 5.1, ("n_t", "t_s")),  # never inserted: as f's vehicles
    ]
    assert left_out == 1  # g: no vehicle of its flow was ever routed


def test_an_oracle_run_has_the_same_vehicles_and_sees_more_of_them(tmp_path, monkeypatch):
    """single-intersection, 300 s: the first pass knows the detectors run's vehicles and their
    intended departures; the oracle run keeps them all (demand unchanged); every step each
    group sees at least what exact sensing sees, and the vehicles not inserted yet besides."""
    seen = []
    real_read = oracle.OracleSensing.read

    def read(self, now_s):
        far = real_read(self, now_s)
        near = sensing.ExactSensing.read(self, now_s)
        seen.append((now_s, self.clairvoyant.horizon_s, near.groups, far.groups))
        return far

    monkeypatch.setattr(oracle.OracleSensing, "read", read)
    det = opts(tmp_path, tripinfo=str(tmp_path / "det.xml"), record=None)
    runner.run(det)
    orc = opts(tmp_path, tripinfo=str(tmp_path / "orc.xml"), record=None, sensing="oracle")
    runner.run(orc)

    def intended(path):
        rows = ET.parse(path).getroot().iter("tripinfo")
        return {t.get("id"): float(t.get("depart")) - float(t.get("departDelay")) for t in rows}

    det_ids, orc_ids = intended(det.tripinfo), intended(orc.tripinfo)
    assert set(orc_ids) == set(det_ids) and len(det_ids) > 100
    assert orc_ids == pytest.approx(det_ids)
    trips, unrouted = oracle.first_pass(det, str(tmp_path))
    assert {t.id: t.depart_s for t in trips} == pytest.approx(det_ids) and unrouted == 0
    more = 0
    for _, horizon_s, near, far in seen:
        for g, v in near.items():
            extra = far[g].vehicles - v.vehicles
            assert extra >= 0 and len(far[g].arrivals_s) - len(v.arrivals_s) == extra
            assert all(0.0 <= t <= horizon_s for t in far[g].arrivals_s)
            more += extra
    assert more > 10 * len(seen)  # about 0.7 veh/s over a 120 s horizon


def test_oracle_is_a_sensing_mode_and_takes_a_reach(tmp_path):
    with pytest.raises(runner.SimError, match="detectors, exact or oracle"):
        runner.run(opts(tmp_path, sensing="psychic"))
    r = runner.run(opts(tmp_path, sensing="oracle", reach_m=400.0, end=60.0, record=None))
    assert r.violations == [] and r.delay.vehicles > 10
