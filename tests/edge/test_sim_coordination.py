"""Coordination (upstream plans as arrivals), the extension margin and the measured headway."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge import sumo_import  # noqa: E402
from edge.sim import controllers, coordination, runner, sensing  # noqa: E402
from tests.simdata import ARTERIAL, NET, ROOT, views  # noqa: E402

GRID = ROOT / "scenarios" / "sumo-rl" / "2x2grid" / "2x2.net.xml"


def _feeds(net):
    imported = runner.import_lights(str(net))
    sumo_net = sumo_import.read_net(net)
    layouts = [sensing.plan_layout(sumo_net, imp) for imp in imported]
    return imported, coordination.plan_feeds(sumo_net, imported, layouts)


def test_arterial_approaches_are_fed_by_the_neighbour_they_come_from():
    imported, feeds = _feeds(ARTERIAL)
    ids = [imp.sumo_id for imp in imported]
    net = sumo_import.read_net(ARTERIAL)
    for k, imp in enumerate(imported):
        fed = {f.group for f in feeds[k]}
        for f in feeds[k]:
            road = net.getLane(imp.lanes[f.group][0]).getEdge()
            assert road.getFromNode().getID() == ids[f.upstream] != imp.sumo_id
            assert 0 < f.share <= 1 and f.group in f.road
            assert f.travel_s >= road.getLength() / road.getSpeed()
        # the side streets and the ends come from no light: not fed
        assert all(g.startswith(("e_", "w_")) for g in fed)
    middle = ids.index("B0")
    assert {f.upstream for f in feeds[middle]} == {ids.index("A0"), ids.index("C0")}


def test_roads_the_zones_watch_to_their_start_are_not_fed():
    _, feeds = _feeds(GRID)  # 134-142 m blocks under 200 m zones
    assert feeds and all(f == [] for f in feeds)
    _, feeds = _feeds(NET)
    assert feeds == [[]]


def _pair():
    imported, feeds = _feeds(ARTERIAL)
    ids = [imp.sumo_id for imp in imported]
    strategies = [controllers.make("schedule", imp) for imp in imported]
    for s, f in zip(strategies, feeds, strict=True):
        s.link(f, strategies)
    up, down = strategies[ids.index("A0")], strategies[ids.index("B0")]
    return imported[ids.index("A0")], imported[ids.index("B0")], up, down


def test_upstream_plan_becomes_arrivals_beyond_the_zones_and_goes_stale():
    imp_a, imp_b, up, down = _pair()
    # A0: both phases have a queue; B0 sees nothing of its own
    up.decide(100.0, views(imp_a, queue={g.name: 6.0 for g in imp_a.intersection.groups}), 0, 10.0)
    assert up.last is not None and up.last_s == 100.0
    empty = views(imp_b)
    fed = down._fed(101.0, empty)
    assert fed, "the upstream's queues are on their way"
    feed = next(f for f in down.feeds if f.upstream == down.neighbours.index(up))
    phase = down.model.serving[feed.group]
    assert phase in fed
    for cl in fed.values():
        assert all(a >= feed.travel_s - 1e-9 and n > 0 for a, _d, n in cl)
    # they are part of the clusters the plan gets, unless coordination is off
    assert down.clusters(101.0, empty)[phase]
    down.coordinate = False
    assert all(c == [] for c in down.clusters(101.0, empty))
    down.coordinate = True
    # an old plan (saturation mode upstream, say) is not used
    assert down._fed(101.0 + down.feed_max_age_s + 1.0, empty) == {}


def _trickle(imp):
    """Phase 0 green, a vehicle every 3 s on it; phase 1 has a standing queue."""
    p0 = imp.intersection.phases[0].groups
    p1 = imp.intersection.phases[1].groups
    return views(imp, queue={p1[0]: 4.0}, arrivals={p0[0]: [1.0, 4.0, 7.0]}, vehicles={p0[0]: 3.0})


def test_extension_margin_ends_a_green_that_saves_too_little():
    imp = runner.import_lights(str(NET))[0]
    plain = controllers.Schedule(controllers.PhaseModel(imp))
    assert plain.decide(0.0, _trickle(imp), 0, 20.0) == (controllers.HOLD, 0)
    strict = controllers.Schedule(controllers.PhaseModel(imp), extend_margin_veh_s=1e6)
    assert strict.decide(0.0, _trickle(imp), 0, 20.0) == (controllers.SWITCH, 1)
    # never before min green
    assert strict.decide(0.0, _trickle(imp), 0, 1.0) == (controllers.HOLD, 0)


def test_measured_headway_retimes_the_plan():
    imp = runner.import_lights(str(NET))[0]
    s = controllers.Schedule(controllers.PhaseModel(imp), measure_headway=True)
    s.saturation = False
    g = imp.intersection.phases[0].groups[0]
    before = list(s.model.headway_s)
    passed = 0
    for t in range(200):
        if t % 5 in (0, 2):
            passed += 1  # two vehicles over the stop-bar loop every 5 s with a queue behind
        r = views(imp, queue={g: 5.0})
        r.groups[g].passed = passed
        s.decide(float(t), r, 0, 10.0 + t)
    assert s.model.lane_headway_s[0] == pytest.approx(2.5, abs=0.05)
    assert s.model.headway_s[0] > before[0]
    assert s.model.lane_headway_s[1] == controllers.LANE_HEADWAY_S  # nothing measured there
