"""benchmarks.sumo_floor: the network transformations, a short floor run and the CLI."""

import xml.etree.ElementTree as ET

import pytest

from benchmarks import sumo_floor, sumo_study
from edge.sim import sumo

SINGLE = sumo_study.SC / "sumo-rl" / "single-intersection" / "single-intersection.net.xml"
ROUTES = sumo_study.SC / "sumo-rl" / "single-intersection" / "single-intersection.rou.xml"


@pytest.fixture(autouse=True)
def _needs_sumo():
    try:
        sumo.sumo_binary("netconvert")
        sumo.sumo_binary("netgenerate")
    except sumo.SumoError as e:
        pytest.skip(str(e))


def _net(path):
    root = ET.parse(path).getroot()
    lengths = {
        e.get("id"): float(e.find("lane").get("length"))
        for e in root.iter("edge")
        if e.get("function") != "internal"
    }
    junctions = {j.get("id"): j.get("type") for j in root.iter("junction")}
    return root, lengths, junctions


def test_unregulated_copy_has_no_signals_and_the_same_roads(tmp_path):
    out = tmp_path / "free.net.xml"
    sumo_floor.unregulated(str(SINGLE), str(out))
    root, lengths, junctions = _net(out)
    _, before, _ = _net(SINGLE)
    assert root.find("tlLogic") is None
    assert junctions["t"] == "unregulated"
    assert {j: junctions[j] for j in "nesw"} == dict.fromkeys("nesw", "dead_end")
    assert lengths.keys() == before.keys()


def test_long_arms_move_only_the_roads_into_the_light(tmp_path):
    out = tmp_path / "long.net.xml"
    sumo_floor.long_arms(str(SINGLE), str(out))
    root, lengths, junctions = _net(out)
    _, before, _ = _net(SINGLE)
    # single-intersection is one-way: north and west lead into the light, east and south out
    # (less the junction: 996 and 989.6 m when written)
    assert 980.0 < lengths["n_t"] <= 1000.0 and 980.0 < lengths["w_t"] <= 1000.0
    # the rebuilt junction's corners differ slightly from the original's
    for out_of_it in ("t_e", "t_s"):
        assert lengths[out_of_it] == pytest.approx(before[out_of_it], abs=5.0)
    assert junctions["t"] == "traffic_light"
    assert root.find("tlLogic").get("id") == "t"


def test_long_generated_networks_get_1000_m_fringe_arms(tmp_path):
    net, routes, begin, end = sumo_floor.build_long("cross-mod-long", str(tmp_path))
    assert routes.endswith("cross-moderate.rou.xml") and (begin, end) == (0, 3600)
    _, lengths, junctions = _net(net)
    assert junctions["A0"] == "traffic_light"
    assert max(lengths.values()) > 900.0 and len(lengths) == 8  # 4 arms, both ways


def test_floor_is_below_a_signalled_run_of_the_same_demand():
    floor = sumo_floor.floor_one(str(SINGLE), str(ROUTES), 0, 300, 1)
    signalled = sumo_study.run_one("single-intersection", "sumo-actuated", 1, 300.0)
    assert floor["trips"] > 0
    assert 0.0 < floor["delay"] < signalled["delay"]


def test_help_and_unknown_scenarios(capsys):
    with pytest.raises(SystemExit) as e:
        sumo_floor.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "--long-arms" in out and "unregulated" in out
    assert sumo_floor.main(["--long-arms", "--scenarios", "cross-moderate"]) == 2
    assert "unknown scenarios" in capsys.readouterr().err
