import dataclasses
import json

import pytest

from edge.factories import cross, tee
from edge.model import Detector, Intersection, Phase, Problem, SignalGroup
from edge.validation import validate


def four_way(**changes) -> Intersection:
    """The four-group, two-phase example of docs/architecture.md."""
    ix = Intersection(
        id="cross",
        groups=tuple(SignalGroup(n, "vehicle", n, "thru_right") for n in "nsew"),
        conflicts=[("n", "e"), ("n", "w"), ("s", "e"), ("s", "w")],
        phases=(
            Phase("ns", ("n", "s"), 7.0, 40.0, 3.0, 4.0, 2.0),
            Phase("ew", ("e", "w"), 7.0, 40.0, 3.0, 4.0, 2.0),
        ),
        detectors=tuple(Detector(f"d{i}", i, (g,), "stop_bar") for i, g in enumerate("nsew")),
    )
    return dataclasses.replace(ix, **changes)


def with_phase(ix, i, **changes):
    phases = list(ix.phases)
    phases[i] = dataclasses.replace(phases[i], **changes)
    return dataclasses.replace(ix, phases=tuple(phases))


def test_compact_matches_architecture_example():
    assert four_way().to_compact() == {
        "v": 1,
        "id": "cross",
        "groups": ["n", "s", "e", "w"],
        "ped": [0, 0, 0, 0],
        "conflicts": [[0, 2], [0, 3], [1, 2], [1, 3]],
        "phases": [[0, 1], [2, 3]],
        "timing": [[7000, 40000, 3000, 4000, 2000], [7000, 40000, 3000, 4000, 2000]],
        "detectors": [[0], [0], [1], [1]],
        "startup_flash": 5000,
        "startup_all_red": 3000,
    }


def test_compact_of_cross_hand_computed_entries():
    c = cross().to_compact()
    assert c["groups"][:2] == ["n_thru", "n_left"]
    assert c["groups"][4] == "e_thru"
    assert [0, 4] in c["conflicts"]  # n_thru x e_thru (cross street)
    assert [0, 3] in c["conflicts"]  # n_thru x s_left (opposing left)
    assert [0, 2] not in c["conflicts"]  # n_thru and s_thru run together
    assert [1, 3] not in c["conflicts"]  # the two NS lefts run together
    assert all(i < j for i, j in c["conflicts"]) and c["conflicts"] == sorted(c["conflicts"])
    assert len(c["conflicts"]) == 20
    assert c["phases"] == [[1, 3], [0, 2], [5, 7], [4, 6]]
    assert c["timing"][0] == [7000, 30000, 2000, 3500, 1500]
    assert c["timing"][1] == [7000, 45000, 3000, 4000, 2000]
    assert c["detectors"][0] == [1]  # n_thru stop bar calls ns_thru
    assert c["detectors"][9] == [0]  # n_left advance calls ns_left
    assert len(c["detectors"]) == 16
    assert json.loads(json.dumps(c)) == c


def test_compact_detectors_follow_input_order_and_all_phases_of_a_group():
    ix = tee()
    dets = list(reversed(ix.detectors))  # file order must not matter, input numbers do
    c = dataclasses.replace(ix, detectors=tuple(dets)).to_compact()
    assert c == ix.to_compact()
    assert c["detectors"][1] == [0, 1]  # e_thru is green in e_lead and ew_thru


def test_compact_times_are_rounded_integer_ms():
    ix = with_phase(four_way(), 0, yellow_s=3.0 + 0.1 + 0.2, passage_s=2.0004)
    timing = ix.to_compact()["timing"][0]
    assert timing[2:4] == [2000, 3300] and all(isinstance(v, int) for v in timing)


def test_pedestrian_flag():
    ix = four_way()
    groups = ix.groups + (SignalGroup("p_ns", "pedestrian", "n", "crossing"),)
    ix = dataclasses.replace(ix, groups=groups)
    ix = with_phase(ix, 0, groups=("n", "s", "p_ns"))
    ix = dataclasses.replace(ix, conflicts=ix.conflicts | {frozenset(("p_ns", "e"))})
    assert ix.to_compact()["ped"] == [0, 0, 0, 0, 1]


def test_group_bounds_take_the_minimum_over_phases():
    ix = tee()
    bounds = ix.group_bounds()
    assert list(bounds) == ix.group_names()
    assert bounds["e_thru"] == (7.0, 3.5, 1.5)  # e_lead (3.5, 1.5) beats ew_thru (4.0, 2.0)
    assert bounds["w_thru"] == (7.0, 4.0, 2.0)
    ix = with_phase(ix, 1, min_green_s=5.0)
    assert ix.group_bounds()["e_thru"] == (5.0, 3.5, 1.5)


def test_record_header():
    h = tee().record_header()
    assert h == {
        "type": "header",
        "intersection": "tee",
        "groups": ["w_thru", "e_thru", "e_left", "s_left", "s_right"],
        "conflicts": [[0, 2], [0, 3], [0, 4], [1, 3], [2, 3]],
        "min_green": dict.fromkeys(["w_thru", "e_thru", "e_left", "s_left", "s_right"], 7.0),
        "yellow": {"w_thru": 4.0, "e_thru": 3.5, "e_left": 3.5, "s_left": 4.0, "s_right": 4.0},
        "all_red": {"w_thru": 2.0, "e_thru": 1.5, "e_left": 1.5, "s_left": 2.0, "s_right": 2.0},
    }
    assert all(isinstance(v, float) for v in h["yellow"].values())


def test_group_index():
    ix = cross()
    assert ix.group_index("e_thru") == 4
    with pytest.raises(KeyError, match="'nope'"):
        ix.group_index("nope")


def test_models_compare_by_content():
    a = four_way()
    b = four_way(conflicts=[["w", "s"], ("e", "n"), ("w", "n"), ("e", "s")])
    assert a == b and hash(a) == hash(b)
    assert with_phase(a, 0, groups=["n", "s"]) == a


def test_conflict_pair_must_be_a_pair():
    with pytest.raises(TypeError, match="'ne'"):
        four_way(conflicts=["ne"])


def test_problem_shows_value_by_repr():
    assert str(Problem("phases[1].yellow_s", "4", "must be a number of seconds")) == (
        "phases[1].yellow_s = '4': must be a number of seconds"
    )


# -- recall, pedestrian timing, detector kinds and diagnostics --------------------------------


def test_cross_with_pedestrians_and_preemption_is_valid_and_compacts_its_extras():
    ix = cross(peds=True, preempt=True)
    assert validate(ix) == []
    d = ix.to_compact()
    assert d["ped"] == [0] * 8 + [1, 1]
    assert d["ped_timing"] == [[0, 0], [7000, 12000], [0, 0], [7000, 12000]]
    assert d["det_kind"] == [0] * 16 + [1, 1, 2]
    assert d["detectors"][16:] == [[1], [3], [1]]
    assert "recall" not in d and "det_diag" not in d
    assert "ped_timing" not in cross().to_compact()  # configs without extras stay as they were


def test_compact_recall_and_diagnostics():
    ix = with_phase(four_way(), 1, recall="max")
    dets = list(ix.detectors)
    dets[2] = dataclasses.replace(dets[2], no_activity_s=600.0, max_presence_s=120.5,
                                  erratic_per_min=40, fail_action="none")  # fmt: skip
    d = dataclasses.replace(ix, detectors=tuple(dets)).to_compact()
    assert d["recall"] == [0, 2]
    assert d["det_diag"] == [[0, 0, 0, 0], [0, 0, 0, 0], [600000, 120500, 40, 1], [0, 0, 0, 0]]


# -- rings and barriers --------------------------------------------------------------------------


def test_rings_default_to_free_order_and_are_compacted_only_when_present():
    free = four_way()
    ringed = four_way(rings=[[["ns"], ["ew"]]])  # lists from TOML or callers become tuples
    assert free.rings == () and "rings" not in free.to_compact()
    assert ringed.rings == ((("ns",), ("ew",)),) and ringed == four_way(rings=ringed.rings)
    assert hash(ringed) == hash(four_way(rings=ringed.rings))
    assert validate(ringed) == []
    assert ringed.to_compact() == {**free.to_compact(), "rings": [[[0], [1]]]}
    # the record header holds what the safety rules need; rings change none of them
    assert ringed.record_header() == free.record_header()
