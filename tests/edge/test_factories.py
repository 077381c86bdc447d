import importlib.util
import itertools
from pathlib import Path

import pytest

from edge import config, factories
from edge.factories import corridor, cross, nema8, tee
from edge.validation import validate
from firmware import config as fwconfig

CROSS_STREET = {"n": "ew", "s": "ew", "e": "ns", "w": "ns"}
OPPOSITE = {"n": "s", "s": "n", "e": "w", "w": "e"}


def expected_cross_conflict(a, b) -> bool:
    """The crossing rule, stated from the traffic side: different streets always cross; on one
    street a through movement crosses only the opposing left."""
    if CROSS_STREET[a.approach] != CROSS_STREET[b.approach]:
        return True
    moves = {a.movement, b.movement}
    return a.approach == OPPOSITE[b.approach] and moves == {"thru_right", "left"}


def all_intersections():
    return [cross(), tee(), *corridor(4), nema8()]


@pytest.mark.parametrize("ix", all_intersections(), ids=lambda ix: ix.id)
def test_valid_and_realistic(ix):
    assert validate(ix) == []
    for ph in ix.phases:
        assert ph.min_green_s == 7.0
        assert 30.0 <= ph.max_green_s <= 45.0
        assert 2.0 <= ph.passage_s <= 3.0
        assert 3.5 <= ph.yellow_s <= 4.0
        assert 1.5 <= ph.all_red_s <= 2.0
    # every group is covered by a stop-bar detector
    stop_bar = {g for d in ix.detectors if d.role == "stop_bar" for g in d.calls}
    assert stop_bar == set(ix.group_names())
    assert sorted(d.input for d in ix.detectors) == list(range(len(ix.detectors)))


def test_cross_layout():
    ix = cross()
    assert len(ix.groups) == 8 and all(g.kind == "vehicle" for g in ix.groups)
    assert [ph.name for ph in ix.phases] == ["ns_left", "ns_thru", "ew_left", "ew_thru"]
    assert {(g.approach, g.movement) for g in ix.groups} == {
        (a, m) for a in "nsew" for m in ("thru_right", "left")
    }
    for ph in ix.phases:
        assert len(ph.groups) == 2
        street = ph.name[:2]
        assert all(CROSS_STREET[ix.groups[ix.group_index(g)].approach] != street for g in ph.groups)


def test_cross_conflicts_follow_the_crossing_rule():
    ix = cross()
    for a, b in itertools.combinations(ix.groups, 2):
        assert ix.conflicting(a.name, b.name) == expected_cross_conflict(a, b), (a.name, b.name)
    n_thru = {b for (a, b) in ix.conflict_pairs() if a == "n_thru"}
    n_thru |= {a for (a, b) in ix.conflict_pairs() if b == "n_thru"}
    assert n_thru == {"e_thru", "e_left", "w_thru", "w_left", "s_left"}


def test_cross_detectors():
    ix = cross()
    assert [d.input for d in ix.detectors] == list(range(16))
    for g in ix.group_names():
        roles = sorted(d.role for d in ix.detectors if d.calls == (g,))
        assert roles == ["advance", "stop_bar"], g


def test_tee_layout():
    ix = tee()
    assert {g.approach for g in ix.groups} == {"e", "w", "s"}
    assert len(ix.phases) == 3
    # no phase may hold two conflicting groups, and every conflict separates some phase pair
    for ph in ix.phases:
        for a, b in itertools.combinations(ph.groups, 2):
            assert not ix.conflicting(a, b)
    assert ix.conflicting("w_thru", "e_left") and ix.conflicting("e_thru", "s_left")
    assert not ix.conflicting("w_thru", "e_thru")


def test_corridor():
    ixs = corridor(5)
    assert [ix.id for ix in ixs] == [f"corridor-{k}" for k in range(1, 6)]
    assert [len(ix.phases) for ix in ixs] == [3, 2, 3, 2, 3]
    assert corridor(1) == ixs[:1]
    for ix in ixs:
        for a, b in itertools.combinations(ix.groups, 2):
            assert ix.conflicting(a.name, b.name) == expected_cross_conflict(a, b)


@pytest.mark.parametrize("n", [0, -2, 2.0, "3", True])
def test_corridor_rejects_bad_n(n):
    with pytest.raises(ValueError, match=repr(n).replace("(", r"\(")):
        corridor(n)


@pytest.mark.parametrize("name", factories.EXAMPLES)
def test_example_toml_loads_back_to_the_factory(name):
    text = factories.example_toml(name)
    assert config.loads(text) == factories.example(name)
    assert text.startswith("# Greenwave intersection config")
    assert "greenwave config validate" in text
    for key in ("min_green_s", "passage_s", "max_green_s", "yellow_s", "all_red_s"):
        assert f"# {key}:" in text


def test_example_models():
    assert factories.example("cross") == cross(plans=True)
    assert factories.example("nema8") == nema8(plans=True)
    assert factories.example("tee") == tee()
    assert factories.example("corridor") == corridor(3)[0]
    assert "its own file" in factories.example_toml("corridor")
    with pytest.raises(ValueError, match="'roundabout'"):
        factories.example_toml("roundabout")


def test_tests_factories_reexports():
    path = Path(__file__).parents[1] / "factories.py"
    spec = importlib.util.spec_from_file_location("tests_factories", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.cross is cross and module.tee is tee and module.corridor is corridor
    assert module.nema8 is nema8


@pytest.mark.parametrize("kw", [{}, {"peds": True}, {"peds": True, "preempt": True}])
def test_nema8_is_a_standard_dual_ring(kw):
    ix = nema8(**kw)
    assert validate(ix) == []
    assert ix.rings == ((("p1", "p2"), ("p3", "p4")), (("p5", "p6"), ("p7", "p8")))
    names = {ph.name: ph.groups[0] for ph in ix.phases}
    assert [names[f"p{k}"] for k in range(1, 9)] == [
        "n_left", "s_thru", "e_left", "w_thru", "s_left", "n_thru", "w_left", "e_thru"
    ]  # fmt: skip
    # concurrent pairs never conflict; a phase's ring partner on its side always does
    for a, b in (
        ("p1", "p5"),
        ("p1", "p6"),
        ("p2", "p5"),
        ("p2", "p6"),
        ("p3", "p8"),
        ("p4", "p7"),
    ):
        assert not ix.conflicting(names[a], names[b])
    for a, b in (("p1", "p2"), ("p5", "p6"), ("p3", "p4"), ("p7", "p8"), ("p2", "p4")):
        assert ix.conflicting(names[a], names[b])
    cfg = fwconfig.load(ix.to_compact())
    assert cfg.rings == [[bytes([0, 1]), bytes([2, 3])], [bytes([4, 5]), bytes([6, 7])]]
    walks = [ph.name for ph in ix.phases if ph.walk_s]
    assert walks == (["p2", "p4", "p6", "p8"] if kw else [])
    assert any(d.role == "preempt" for d in ix.detectors) == bool(kw.get("preempt"))
