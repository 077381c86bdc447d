import re
from pathlib import Path

import pytest

pytest.importorskip("sumolib")

from edge import cli, config, sumo_import  # noqa: E402
from edge.validation import validate  # noqa: E402
from firmware import config as fw_config  # noqa: E402

NETS = Path(__file__).resolve().parents[2] / "scenarios" / "sumo-rl"
SINGLE = NETS / "single-intersection" / "single-intersection.net.xml"
TWO_WAY = NETS / "2way-single-intersection" / "single-intersection.net.xml"
GRID = NETS / "2x2grid" / "2x2.net.xml"


def _edited(tmp_path, source, *replacements, phases=None):
    """A copy of `source` with text replaced, or its one tlLogic's phases set to `phases`."""
    text = source.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    if phases is not None:
        # A phase is (duration, state) or (duration, state, extra attributes).
        body = "".join(
            f'<phase duration="{p[0]}" state="{p[1]}" {"".join(p[2:])}/>' for p in phases
        )
        text, n = re.subn(
            r"(<tlLogic [^>]*>).*?(</tlLogic>)", rf"\g<1>{body}\g<2>", text, count=1, flags=re.S
        )
        assert n == 1
    path = tmp_path / "edited.net.xml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("net, count", [(SINGLE, 1), (TWO_WAY, 1), (GRID, 4)])
def test_every_light_imports_valid_round_trips_and_loads_in_firmware(net, count):
    imported = sumo_import.import_net(net)
    assert len(imported) == count
    for imp in imported:
        ix = imp.intersection
        assert validate(ix) == []
        assert config.loads(config.dumps(ix)) == ix
        assert config.loads(sumo_import.to_toml(imp, net.name)) == ix
        fw_config.load(ix.to_compact())
        # Every group has a stop-bar and an advance detector on the group's lanes.
        for g in ix.group_names():
            roles = {d.role for d in ix.detectors if d.calls == (g,)}
            assert roles == {"stop_bar", "advance"}
            assert imp.detector_lanes[f"{g}_stop"] == imp.lanes[g]


def test_single_intersection_exact():
    (imp,) = sumo_import.import_net(SINGLE)
    ix = imp.intersection
    assert ix.id == "t"
    assert imp.program == "0"
    assert imp.lanes == {
        "n_thru": ("n_t_0",),
        "n_thru_2": ("n_t_1",),
        "w_thru": ("w_t_0",),
        "w_thru_2": ("w_t_1",),
    }
    assert [(p.name, p.groups) for p in ix.phases] == [
        ("p1", ("n_thru", "n_thru_2")),
        ("p2", ("w_thru", "w_thru_2")),
    ]
    assert ix.conflicting("n_thru", "w_thru_2")
    assert not ix.conflicting("n_thru", "n_thru_2")
    assert len(ix.conflicts) == 4
    # SUMO's 2 s yellow is raised to the 3 s minimum and 0 s all-red to 1 s, with warnings.
    assert {(p.yellow_s, p.all_red_s) for p in ix.phases} == {(3.0, 1.0)}
    assert "p1: SUMO yellow 2.0 s raised to 3.0 s" in imp.warnings
    assert "p1: SUMO all-red 0.0 s raised to 1.0 s" in imp.warnings
    # 42 s fixed green: max green twice that, standard min green and passage.
    assert [(p.min_green_s, p.max_green_s, p.passage_s) for p in ix.phases[:1]] == [
        (7.0, 84.0, 3.0)
    ]
    assert len(ix.detectors) == 8


def test_two_way_protected_lefts():
    (imp,) = sumo_import.import_net(TWO_WAY)
    ix = imp.intersection
    assert [p.groups for p in ix.phases] == [
        ("n_thru_right", "s_thru_right"),
        ("n_left", "s_left"),
        ("e_thru_right", "w_thru_right"),
        ("e_left", "w_left"),
    ]
    assert ix.conflicting("n_left", "s_thru_right")  # foes, never green together
    assert not ix.conflicting("n_left", "s_left")  # not foes
    left = ix.phases[1]
    assert (left.min_green_s, left.max_green_s, left.passage_s) == (5.0, 12.0, 2.0)


def test_yellow_and_all_red_sum_their_phases(tmp_path):
    phases = [(30, "GGrr"), (2, "yyrr"), (2, "yyrr"), (1, "rrrr"), (1.5, "rrrr")]
    phases += [(30, "rrGG"), (4, "rryy"), (2, "rrrr")]
    (imp,) = sumo_import.import_net(_edited(tmp_path, SINGLE, phases=phases))
    assert [(p.yellow_s, p.all_red_s) for p in imp.intersection.phases] == [(4.0, 2.5), (4.0, 2.0)]
    assert imp.warnings == ()


def test_actuated_program_uses_min_and_max_duration(tmp_path):
    phases = [(30, "GGrr", 'minDur="10" maxDur="60"'), (3, "yyrr"), (2, "rrrr")]
    phases += [(30, "rrGG", 'minDur="4" maxDur="200"'), (3, "rryy"), (2, "rrrr")]
    net = _edited(tmp_path, SINGLE, ('type="static"', 'type="actuated"'), phases=phases)
    (imp,) = sumo_import.import_net(net)
    times = [(p.min_green_s, p.max_green_s) for p in imp.intersection.phases]
    assert times == [(10.0, 60.0), (7.0, 120.0)]  # min green never below 7 s, max capped


def test_permissive_left_on_shared_lane_is_one_group_not_a_conflict(tmp_path):
    # The north left moves onto the through lane; lefts go permissive ('g') with the through.
    net = _edited(
        tmp_path,
        TWO_WAY,
        ('from="n_t" to="t_e" fromLane="1"', 'from="n_t" to="t_e" fromLane="0"'),
        phases=[
            (33, "GGgrrrGGgrrr"),
            (3, "yyyrrryyyrrr"),
            (33, "rrrGGgrrrGGg"),
            (3, "rrryyyrrryyy"),
        ],
    )
    (imp,) = sumo_import.import_net(net)
    ix = imp.intersection
    assert imp.lanes["n_thru"] == ("n_t_0",)  # links 0, 1, 2: right, thru and left
    assert ix.groups[ix.group_index("n_thru")].movement == "thru"
    assert ix.phases[0].groups == ("n_thru", "s_thru_right", "s_left")
    # n's left and s's through are foes in SUMO but green together: not a conflict here.
    assert not ix.conflicting("n_thru", "s_thru_right")
    assert ix.conflicting("n_thru", "e_thru_right")
    assert validate(ix) == []


@pytest.mark.parametrize(
    "phases, message",
    [
        ([(42, "GGrr"), (2, "rrrr"), (42, "rrGG"), (2, "rryy")], "is followed by 'rrrr', not by"),
        ([(42, "GGrr"), (42, "rrGG"), (2, "rryy")], "is followed by 'rrGG', not by yellow"),
        ([(42, "GGrr"), (2, "yrrr"), (42, "rrGG"), (2, "rryy")], "at link indices [1]"),
        ([(42, "GGyy"), (42, "rrGG"), (2, "rryy")], "mixes green and yellow"),
        ([(42, "GGrr"), (2, "yyrr"), (42, "rrGr"), (2, "rryr")], "link indices [3] are never"),
        ([(42, "GGoo"), (2, "yyrr")], "uses 'o'"),
        ([(42, "GGr"), (2, "yyr")], "has 3 signals for 4 link indices"),
        ([(3, "rrrr")], "no green phase"),
    ],
)
def test_malformed_program_names_the_light(tmp_path, phases, message):
    net = _edited(tmp_path, SINGLE, phases=phases)
    with pytest.raises(sumo_import.SumoImportError) as err:
        sumo_import.import_net(net)
    assert any(p.startswith("traffic light 't': ") and message in p for p in err.value.problems)
    assert str(net) in str(err.value)


def test_unknown_light_and_missing_file(tmp_path):
    with pytest.raises(sumo_import.SumoImportError, match="traffic light 'x': not in the network"):
        sumo_import.import_net(GRID, ["1", "x"])
    with pytest.raises(sumo_import.SumoImportError, match="no such file"):
        sumo_import.import_net(tmp_path / "nope.net.xml")


def test_selected_lights_only():
    assert [i.intersection.id for i in sumo_import.import_net(GRID, ["6", "2"])] == ["6", "2"]


def test_cli_single_light_to_stdout(capsys):
    code = cli.main(["config", "import-sumo", str(SINGLE)])
    out, err = capsys.readouterr()
    assert code == 0
    assert config.loads(out) == sumo_import.import_net(SINGLE)[0].intersection
    assert "raised to 3.0 s" in err


def test_cli_several_lights(capsys, tmp_path):
    assert cli.main(["config", "import-sumo", str(GRID)]) == 1
    assert "give --out-dir" in capsys.readouterr().err
    assert cli.main(["config", "import-sumo", str(GRID), "--out-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1.toml", "2.toml", "5.toml", "6.toml"]
    assert capsys.readouterr().out.count("wrote ") == 4
    assert config.load(tmp_path / "5.toml").id == "5"
    assert cli.main(["config", "import-sumo", str(GRID), "--tls", "2"]) == 0
    assert config.loads(capsys.readouterr().out).id == "2"


def test_cli_reports_every_problem(capsys, tmp_path):
    net = _edited(tmp_path, SINGLE, phases=[(42, "GGrr"), (42, "rrGG")])
    assert cli.main(["config", "import-sumo", str(net)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2
    assert all(line.startswith(f"{net}: traffic light 't': green phase") for line in err)
