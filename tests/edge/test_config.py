import dataclasses
import textwrap
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge import config
from edge.factories import corridor, cross, nema8, tee
from edge.model import MISSING, BrokerSettings, ConfigError, LinkSettings

MINIMAL = """
[intersection]
id = "mini"

[[groups]]
name = "a"
movement = "thru"

[[groups]]
name = "b"
movement = "thru"

[conflicts]
pairs = [["a", "b"]]

[[phases]]
name = "pa"
groups = ["a"]
min_green_s = 7
max_green_s = 30
passage_s = 2.5
yellow_s = 4
all_red_s = 2

[[phases]]
name = "pb"
groups = ["b"]
min_green_s = 7.0
max_green_s = 30.0
passage_s = 2.5
yellow_s = 4.0
all_red_s = 2.0
"""


def problems_of(text):
    with pytest.raises(ConfigError) as err:
        config.loads(text, source="x.toml")
    return err.value


def fields(err):
    """Problems as {field: value}; fields are unique in these tests."""
    got = {p.field: p.value for p in err.problems}
    assert len(got) == len(err.problems)
    return got


@pytest.mark.parametrize(
    "ix",
    [cross(), tee(), *corridor(4), nema8(peds=True), cross(plans=True), nema8(plans=True)],
    ids=lambda ix: ix.id + ("+plans" if ix.plans else ""),
)
def test_round_trip(ix):
    text = config.dumps(ix)
    assert config.loads(text) == ix
    assert config.loads(config.dumps(ix, comments=True)) == ix


def test_round_trip_of_awkward_strings():
    ix = cross()
    groups = list(ix.groups)
    groups[0] = dataclasses.replace(groups[0], approach='north "main" \\ st\t\x01\x7f é')
    ix = dataclasses.replace(
        ix,
        groups=tuple(groups),
        link=LinkSettings("loop://", 921600),
        broker=BrokerSettings("mqtts://broker.example:8883", "città-1"),
    )
    assert config.loads(config.dumps(ix)) == ix


times = st.floats(min_value=3.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(mg=times, gap=times, passage=times, yellow=times, red=times)
def test_round_trip_keeps_every_float(mg, gap, passage, yellow, red):
    ix = tee()
    phase = dataclasses.replace(
        ix.phases[2],
        min_green_s=mg,
        max_green_s=mg + gap,
        passage_s=passage,
        yellow_s=yellow,
        all_red_s=red,
    )
    ix = dataclasses.replace(ix, phases=ix.phases[:2] + (phase,), startup_all_red_s=red + 1)
    assert config.loads(config.dumps(ix)) == ix


def test_minimal_config_gets_defaults_and_float_times():
    ix = config.loads(MINIMAL)
    assert ix.id == "mini"
    assert ix.groups[0].kind == "vehicle" and ix.groups[0].approach == ""
    assert ix.detectors == ()
    assert ix.link == LinkSettings() and ix.broker == BrokerSettings()
    assert ix.startup_flash_s == 5.0 and ix.startup_all_red_s == 3.0
    assert isinstance(ix.phases[0].yellow_s, float) and ix.phases[0].yellow_s == 4.0
    assert ix.conflicting("b", "a")


def test_syntax_error_names_line_and_column():
    text = MINIMAL.replace("passage_s = 2.5\nyellow_s = 4\n", "passage_s = 2.5\nyellow_s = = 4\n")
    err = problems_of(text)
    [p] = err.problems
    line = text.splitlines().index("yellow_s = = 4") + 1
    assert p.field == f"line {line}, column 12"
    assert p.value == "yellow_s = = 4"
    assert p.message.startswith("TOML syntax error")
    assert str(err).startswith("x.toml: 1 config problem(s)")


def test_syntax_error_at_end_of_document():
    [p] = problems_of(MINIMAL + "broken = [1,\n").problems
    assert "end of document" in p.field and "TOML syntax error" in p.message


def test_every_problem_at_once_schema_and_model():
    text = MINIMAL.replace('id = "mini"', 'id = "mini 1"\ncolour = "red"')
    text = text.replace("yellow_s = 4\n", 'yellow_s = "4"\n')
    text = text.replace("all_red_s = 2.0\n", "all_red_s = 2.0\nyelow_s = 3.0\n")
    text = text.replace('groups = ["b"]', 'groups = ["b", "c"]')
    text = text.replace("min_green_s = 7.0\n", "")
    err = problems_of(text)
    assert fields(err) == {
        "intersection.id": "mini 1",
        "intersection.colour": "red",
        "phases[0].yellow_s": "4",
        "phases[1].yelow_s": 3.0,
        "phases[1].min_green_s": MISSING,
        "phases[1].groups": ("b", "c"),
    }
    messages = {p.field: p.message for p in err.problems}
    assert messages["phases[1].min_green_s"] == "required key is missing"
    assert (
        "unknown key" in messages["phases[1].yelow_s"]
        and "yellow_s" in messages["phases[1].yelow_s"]
    )
    assert "phases[1].min_green_s = <missing>: required key is missing" in str(err)


def test_unknown_top_level_key_and_missing_tables():
    err = problems_of('phase = 1\n[intersection]\nid = "x"\n')
    assert fields(err) == {"phase": 1, "groups": MISSING, "phases": MISSING}


def test_array_of_tables_written_as_table():
    second = '[[groups]]\nname = "b"\nmovement = "thru"\n'
    assert second in MINIMAL
    err = problems_of(MINIMAL.replace(second, "").replace("[[groups]]", "[groups]"))
    assert [p.field for p in err.problems] == ["groups"]
    assert "[[groups]]" in err.problems[0].message


def test_conflicts_shapes():
    err = problems_of('conflicts = [["a", "b"]]\n' + MINIMAL.replace("[conflicts]\npairs", "x"))
    assert "[conflicts]" in {p.field: p.message for p in err.problems}["conflicts"]
    err = problems_of(MINIMAL.replace('pairs = [["a", "b"]]', 'pairs = [["a", "b", "c"], "ab"]'))
    assert fields(err) == {"conflicts.pairs[0]": ["a", "b", "c"], "conflicts.pairs[1]": "ab"}


def test_wrong_types_in_settings_tables():
    err = problems_of(MINIMAL + '\n[link]\nbaud = "fast"\n\n[broker]\nsite = 3\n')
    assert fields(err) == {"link.baud": "fast", "broker.site": 3}


def test_model_problems_use_config_paths():
    err = problems_of(MINIMAL.replace('groups = ["b"]', 'groups = ["a", "b"]'))
    assert [p.field for p in err.problems] == ["phases[1].groups"]
    assert "'a' and 'b' conflict" in err.problems[0].message


def test_load_from_file(tmp_path):
    path = tmp_path / "mini.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert config.load(path).id == "mini"
    path.write_text(MINIMAL.replace("yellow_s = 4\n", "yellow_s = 2\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        config.load(str(path))
    assert err.value.source == str(path)
    assert str(path) in str(err.value)


def test_load_rejects_non_utf8(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(MINIMAL.replace("mini", "m\xe9").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load(path)


def test_dumps_is_plain_toml_with_documented_layout():
    data = tomllib.loads(config.dumps(tee()))
    assert set(data) == {"intersection", "groups", "conflicts", "phases", "detectors", "link",
                         "broker"}  # fmt: skip
    assert data["conflicts"]["pairs"][:2] == [["w_thru", "e_left"], ["w_thru", "s_left"]]
    assert data["phases"][0] == {
        "name": "e_lead",
        "groups": ["e_thru", "e_left"],
        "min_green_s": 7.0,
        "max_green_s": 30.0,
        "passage_s": 2.0,
        "yellow_s": 3.5,
        "all_red_s": 1.5,
    }


def test_comments_explain_fields_and_wrap():
    text = config.dumps(cross(), comments=True)
    for key in ("min_green_s", "max_green_s", "passage_s", "yellow_s", "all_red_s"):
        assert f"# {key}: " in text
    assert "Minimum Green" in text and "Red Clearance" in text and "Passage" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    # help appears once per section, not for every repeated entry
    assert text.count("# min_green_s:") == 1


def test_empty_conflicts_round_trip():
    ix = config.loads(textwrap.dedent(MINIMAL).replace('[conflicts]\npairs = [["a", "b"]]', ""))
    assert ix.conflicts == frozenset()
    assert "pairs = []" in config.dumps(ix)
    assert config.loads(config.dumps(ix)) == ix


def test_round_trip_of_recall_pedestrians_preemption_and_diagnostics():
    from edge.factories import cross

    ix = cross(peds=True, preempt=True)
    phases = list(ix.phases)
    phases[0] = dataclasses.replace(phases[0], recall="min")
    dets = list(ix.detectors)
    dets[3] = dataclasses.replace(dets[3], no_activity_s=600.0, erratic_per_min=40,
                                  fail_action="none")  # fmt: skip
    ix = dataclasses.replace(ix, phases=tuple(phases), detectors=tuple(dets))
    text = config.dumps(ix)
    assert 'recall = "min"' in text and "walk_s = 7.0" in text and 'role = "preempt"' in text
    assert text.count("recall =") == 1  # defaults are not written
    assert config.loads(text) == ix
    assert config.loads(config.dumps(ix, comments=True)) == ix


RINGS = """
[[rings]]
sequence = [["p1", "p2"], ["p3", "p4"]]

[[rings]]
sequence = [["p5", "p6"], ["p7", "p8"]]
"""


def _nema_text(rings):
    text = config.dumps(nema8())
    return text[: text.index("[[rings]]")] + rings + text[text.index("[[detectors]]") - 1 :]


def test_rings_are_read_written_and_sent_to_the_controller():
    ix = config.loads(_nema_text(RINGS))
    assert ix == nema8() and ix.rings == (
        (("p1", "p2"), ("p3", "p4")),
        (("p5", "p6"), ("p7", "p8")),
    )
    assert ix.to_compact()["rings"] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    free = config.dumps(cross())
    assert "[[rings]]" not in free and config.loads(free).rings == ()
    assert "rings" not in cross().to_compact()
    text = config.dumps(ix, comments=True)
    assert "[[rings]]\n# sequence: the ring's barrier groups in order" in text
    assert 'sequence = [["p5", "p6"], ["p7", "p8"]]' in text


def test_ring_problems_name_the_field_and_value():
    bad = """
[[rings]]
sequence = [["p1", "p2"], ["p3", "p9"]]

[[rings]]
sequence = [["p5", "p6", "p7", "p8", "p2"]]

[[rings]]
sequence = "1 2 | 3 4"
colour = "red"
"""
    got = {(p.field, str(p.value)): p.message for p in problems_of(_nema_text(bad)).problems}
    assert got[("rings[0].sequence[1]", "p9")] == "unknown phase"
    assert got[("rings[1].sequence[0]", "p2")] == "phase already in rings[0]"
    assert "rings[0] has 2" in got[("rings[1].sequence", "(('p5', 'p6', 'p7', 'p8', 'p2'),)")]
    assert "barrier groups" in got[("rings[2].sequence", "1 2 | 3 4")]
    assert "unknown key" in got[("rings[2].colour", "red")]
    assert got[("phases[3].name", "p4")].startswith("phase is in no ring")
    msg = got[("rings[1].sequence[0]", "p7")]
    assert "of rings[0] in barrier group 0 (groups" in msg and "at the same time" in msg


def test_ring_rules_group_in_one_ring_and_every_side_used():
    ix = nema8()
    phases = list(ix.phases)
    phases[5] = dataclasses.replace(phases[5], groups=("n_thru", "s_thru"))  # p6 takes p2's group
    ix = dataclasses.replace(ix, phases=tuple(phases), rings=(
        (("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8")), ((), ())))  # fmt: skip
    with pytest.raises(ConfigError) as err:
        ix.to_compact()
    got = {p.field: p.message for p in err.value.problems}
    assert "a signal group belongs to one ring" in got["phases[5].groups"]
    assert got["rings[2].sequence"] == "holds no phase"


def test_rings_on_any_intersection_round_trip():
    ix = dataclasses.replace(cross(), rings=[[["ns_left", "ns_thru"], ["ew_left", "ew_thru"]]])
    assert ix.phases == cross().phases and ix.to_compact()["rings"] == [[[0, 1], [2, 3]]]
    assert config.loads(config.dumps(ix)) == ix
    assert config.loads(config.dumps(ix, comments=True)) == ix


def test_ring_and_other_problems_are_reported_together():
    text = _nema_text(RINGS.replace('"p7", "p8"', '"p7", "p9"')).replace(
        "yellow_s = 4.0", "yellow_s = 2.0", 1
    )
    got = {(p.field, p.value) for p in problems_of(text).problems}
    assert got == {
        ("phases[1].yellow_s", 2.0),
        ("rings[1].sequence[1]", "p9"),
        ("phases[7].name", "p8"),
    }


def test_plans_are_tables_of_max_green_per_phase_name_and_every_problem_is_named():
    base = config.dumps(cross())
    ok = config.loads(
        base + '[[plans]]\nname = "night"\nmax_green_s = { ns_thru = 20, ew_thru = 19.5 }\n'
    )
    assert ok.plans[0].name == "night"
    assert ok.plans[0].max_green_s == (("ns_thru", 20.0), ("ew_thru", 19.5))
    assert ok.plan_max_green_s(1) == [30.0, 20.0, 30.0, 19.5]
    assert ok.to_compact()["plans"] == [[30000, 20000, 30000, 19500]]
    bad = (
        base
        + '[[plans]]\nname = "a"\nmax_green_s = { ns_thru = 46.0, ew_left = 6.5, nope = 9 }\n'
        + '[[plans]]\nname = "a"\nmax_green_s = 5\nextra = 1\n'
    )
    with pytest.raises(ConfigError) as err:
        config.loads(bad)
    assert fields(err.value) == {
        "plans[0].max_green_s.ns_thru": 46.0,
        "plans[0].max_green_s.ew_left": 6.5,
        "plans[0].max_green_s.nope": 9.0,
        "plans[1].extra": 1,
        "plans[1].name": "a",
        "plans[1].max_green_s": 5,
    }
    text = str(err.value)
    assert "above the phase's max_green_s = 45.0 (a plan only trims)" in text
    assert "below the phase's min_green_s = 7.0" in text
