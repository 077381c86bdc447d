"""edge.validation: every problem of an intersection at once, with its field path and value."""

import dataclasses
import math

import pytest

from edge.factories import corridor, cross, tee
from edge.model import BrokerSettings, ConfigError, Detector, LinkSettings, Phase, Plan, SignalGroup
from edge.validation import check, validate
from tests.edge.test_model import four_way, with_phase


def fields(problems):
    return {(p.field, p.value) for p in problems}


def test_factories_are_valid():
    for ix in [cross(), tee(), *corridor(3)]:
        assert validate(ix) == [], ix.id


def test_validate_finds_every_problem_at_once():
    ix = four_way(id="main st/1", startup_all_red_s=1.0)
    ix = with_phase(ix, 0, yellow_s=2.5, min_green_s=50.0)
    ix = with_phase(ix, 1, groups=("e", "x"), all_red_s=0)
    ix = dataclasses.replace(ix, groups=ix.groups + (SignalGroup("n"),))
    got = fields(validate(ix))
    assert {
        ("intersection.id", "main st/1"),
        ("phases[0].yellow_s", 2.5),
        ("phases[0].max_green_s", 40.0),
        ("phases[1].groups", ("e", "x")),
        ("phases[1].all_red_s", 0),
        ("groups[4].name", "n"),
        ("groups[3].name", "w"),  # w is in no phase now
    } <= got
    with pytest.raises(ConfigError) as err:
        ix.to_compact()
    assert len(err.value.problems) == len(validate(ix)) >= 7
    assert "phases[0].yellow_s = 2.5: must be >= 3.0 s" in str(err.value)


@pytest.mark.parametrize("bad", ["", "a b", "a/b", "a+b", "a#b", "tab\there", 7])
def test_ids_must_be_topic_safe(bad):
    assert fields(validate(four_way(id=bad))) == {("intersection.id", bad)}
    ix = four_way(broker=BrokerSettings(site=bad))
    assert fields(validate(ix)) == {("broker.site", bad)}


def test_conflicting_groups_in_one_phase():
    ix = with_phase(four_way(), 0, groups=("n", "e"))
    problems = [p for p in validate(ix) if p.field == "phases[0].groups"]
    assert len(problems) == 1 and "'n' and 'e' conflict" in problems[0].message


def test_unknown_groups_everywhere():
    ix = four_way(conflicts=[("n", "e"), ("n", "zz")])
    dets = list(ix.detectors)
    dets[2] = Detector("d2", 2, ("e", "qq"), "stop_bar")
    ix = dataclasses.replace(ix, detectors=tuple(dets))
    ix = with_phase(ix, 1, groups=("e", "w", "yy"))
    msgs = {(p.field, p.message) for p in validate(ix)}
    assert ("conflicts.pairs", "unknown signal group 'zz'") in msgs
    assert ("detectors[2].calls", "unknown signal group 'qq'") in msgs
    assert ("phases[1].groups", "unknown signal group 'yy'") in msgs


def test_conflict_pair_with_itself():
    got = validate(four_way(conflicts=[("n", "e"), ("n", "n")]))
    assert [(p.field, p.value) for p in got] == [("conflicts.pairs", ("n",))]


def test_duplicate_names():
    ix = four_way()
    ix = dataclasses.replace(ix, groups=ix.groups[:3] + (SignalGroup("n", "vehicle", "w"),))
    ix = with_phase(ix, 1, name="ns")
    dets = list(ix.detectors)
    dets[3] = dataclasses.replace(dets[3], name="d0", calls=("e",))
    ix = dataclasses.replace(ix, detectors=tuple(dets))
    msgs = {(p.field, p.message) for p in validate(ix)}
    assert ("groups[3].name", "duplicate signal group name (also groups[0].name)") in msgs
    assert ("phases[1].name", "duplicate phase name (also phases[0].name)") in msgs
    assert ("detectors[3].name", "duplicate detector name (also detectors[0].name)") in msgs


@pytest.mark.parametrize("value", [0, -1.0, math.nan, math.inf, "4", None, True])
def test_times_must_be_positive_finite_numbers(value):
    got = fields(validate(with_phase(four_way(), 1, passage_s=value)))
    assert ("phases[1].passage_s", value) in got


def test_startup_times():
    assert validate(four_way(startup_flash_s=0.0)) == []
    assert fields(validate(four_way(startup_flash_s=-1.0))) == {
        ("intersection.startup_flash_s", -1.0)
    }
    # the start-up all-red must clear the longest red clearance of any phase
    assert fields(validate(four_way(startup_all_red_s=1.5))) == {
        ("intersection.startup_all_red_s", 1.5)
    }


def test_detector_inputs():
    ix = four_way()
    dets = list(ix.detectors)
    dup = dataclasses.replace(ix, detectors=(*dets[:3], dataclasses.replace(dets[3], input=1)))
    assert ("detectors[3].input", 1) in fields(validate(dup))
    gap = dataclasses.replace(ix, detectors=(*dets[:3], dataclasses.replace(dets[3], input=7)))
    assert fields(validate(gap)) == {("detectors", (0, 1, 2, 7))}
    neg = dataclasses.replace(ix, detectors=(*dets[:3], dataclasses.replace(dets[3], input=-3)))
    assert ("detectors[3].input", -3) in fields(validate(neg))
    assert validate(dataclasses.replace(ix, detectors=())) == []


def test_bad_kind_movement_role():
    ix = four_way()
    groups = list(ix.groups)
    groups[0] = SignalGroup("n", "bus", "n", "thru")
    groups[1] = SignalGroup("s", "vehicle", "s", "sideways")
    groups[2] = SignalGroup("e", "pedestrian", "e", "thru")
    groups[3] = SignalGroup("w", "vehicle", "w", "crossing")
    dets = list(ix.detectors)
    dets[0] = dataclasses.replace(dets[0], role="loop")
    ix = dataclasses.replace(ix, groups=tuple(groups), detectors=tuple(dets))
    assert fields(validate(ix)) == {
        ("groups[0].kind", "bus"),
        ("groups[1].movement", "sideways"),
        ("groups[2].movement", "thru"),
        ("groups[3].movement", "crossing"),
        ("detectors[0].role", "loop"),
    }


def test_link_and_broker():
    ix = four_way(link=LinkSettings("", 0), broker=BrokerSettings("http://x", "ok"))
    assert fields(validate(ix)) == {("link.port", ""), ("link.baud", 0), ("broker.url", "http://x")}


def test_empty_model():
    got = fields(validate(four_way(groups=(), phases=(), conflicts=(), detectors=())))
    assert got == {("groups", ()), ("phases", ())}


def test_check_raises_with_source():
    with pytest.raises(ConfigError, match="intersection 'cross'") as err:
        check(with_phase(four_way(), 0, yellow_s=1.0))
    assert [p.field for p in err.value.problems] == ["phases[0].yellow_s"]
    assert isinstance(err.value, ValueError)


# -- recall, pedestrian timing, detector kinds and diagnostics --------------------------------


def test_pedestrian_timing_problems():
    base = four_way()
    ix = four_way(groups=base.groups + (SignalGroup("p", "pedestrian", "n", "crossing"),),
                  conflicts=list(base.conflicts) + [("p", "e"), ("p", "w")],
                  phases=(Phase("ns", ("n", "s", "p"), 7.0, 20.0, 3.0, 4.0, 2.0),
                          Phase("ew", ("e", "w"), 7.0, 40.0, 3.0, 4.0, 2.0)))  # fmt: skip
    assert validate(with_phase(ix, 0, walk_s=7.0, ped_clear_s=13.0)) == []
    assert fields(validate(with_phase(ix, 0, walk_s=7.0, ped_clear_s=14.0))) == {
        ("phases[0].max_green_s", 20.0)
    }
    assert fields(validate(with_phase(ix, 0, walk_s=7.0, ped_clear_s=3.5))) == {
        ("phases[0].ped_clear_s", 3.5)
    }
    assert fields(validate(with_phase(ix, 0, walk_s=7.0))) == {("phases[0].ped_clear_s", 0.0)}
    assert fields(validate(with_phase(ix, 1, walk_s=5.0, ped_clear_s=5.0))) == {
        ("phases[1].walk_s", 5.0)  # no pedestrian group in ew
    }
    assert fields(validate(with_phase(ix, 0, recall="pedestrian"))) == {
        ("phases[0].recall", "pedestrian")
    }
    assert fields(validate(with_phase(ix, 0, recall="always", walk_s=-1.0))) == {
        ("phases[0].recall", "always"),
        ("phases[0].walk_s", -1.0),
    }


def test_detector_diagnostic_problems():
    dets = list(four_way().detectors)
    dets[0] = dataclasses.replace(dets[0], role="preempt", no_activity_s=-1.0,
                                  erratic_per_min=1001, fail_action="flash")  # fmt: skip
    dets[1] = dataclasses.replace(dets[1], role="ped_button", max_presence_s=math.inf,
                                  erratic_per_min=True)  # fmt: skip
    assert fields(validate(four_way(detectors=tuple(dets)))) == {
        ("detectors[0].no_activity_s", -1.0),
        ("detectors[0].erratic_per_min", 1001),
        ("detectors[0].fail_action", "flash"),
        ("detectors[1].max_presence_s", math.inf),
        ("detectors[1].erratic_per_min", True),
    }


# -- rings and barriers --------------------------------------------------------------------------


NS, EW = ("ns",), ("ew",)


@pytest.mark.parametrize(
    "rings, field, value, message",
    [
        ("ns | ew", "rings", "ns | ew", "must be 1..4 [[rings]] tables"),
        (((NS, EW),) * 5, "rings", ((NS, EW),) * 5, "must be 1..4 [[rings]] tables"),
        ((NS, EW), "rings[0].sequence", NS, "must be a list of barrier groups, each a list"),
        (((NS, ("ew", "xx")),), "rings[0].sequence[1]", "xx", "unknown phase"),
        (((NS, ("ew", "ns")),), "rings[0].sequence[1]", "ns", "phase already in rings[0]"),
        (((NS,),), "phases[1].name", "ew", "phase is in no ring"),
        (((NS, EW), ((), ())), "rings[1].sequence", ((), ()), "holds no phase"),
        (((NS, EW), ((),)), "rings[1].sequence", ((),), "has 1 barrier groups, rings[0] has 2"),
        (((NS, (), EW),), "rings", 1, "barrier group 1 holds no phase in any ring"),
        (((NS,), (EW,)), "rings[1].sequence[0]", "ew", "conflicts with phase 'ns' of rings[0]"),
    ],
)
def test_ring_problems_name_the_field_and_value(rings, field, value, message):
    problems = validate(four_way(rings=rings))
    assert [p for p in problems if (p.field, p.value) == (field, value)], problems
    assert any(p.message.startswith(message) for p in problems if p.field == field)


def test_a_signal_group_belongs_to_one_ring():
    ix = with_phase(four_way(conflicts=[]), 1, groups=("e", "w", "n"))
    ix = dataclasses.replace(ix, rings=((NS,), (EW,)))
    (p,) = validate(ix)
    assert (p.field, p.value) == ("phases[1].groups", ("e", "w", "n"))
    assert (
        p.message
        == "group 'n' is also in phase 'ns' of rings[0]; a signal group belongs to one ring"
    )


def test_ring_problems_come_with_every_other_problem():
    ix = with_phase(four_way(rings=((("ns", "xx"),),)), 0, yellow_s=2.5)
    with pytest.raises(ConfigError) as err:
        ix.to_compact()
    assert fields(err.value.problems) == {
        ("phases[0].yellow_s", 2.5),
        ("rings[0].sequence[0]", "xx"),
        ("phases[1].name", "ew"),
    }
    assert "rings[0].sequence[0] = 'xx': unknown phase" in str(err.value)


def test_a_plan_lies_between_each_phases_floor_and_its_base_max_green():
    ix = cross(peds=True)  # ns_thru walks: floor max(7, 7) + 12 = 19 s
    ok = dataclasses.replace(ix, plans=(Plan("p", {"ns_thru": 19.0, "ns_left": 7.0}),))
    assert validate(ok) == []
    assert ok.plan_max_green_s(0) == [30.0, 45.0, 30.0, 40.0]
    assert ok.plan_max_green_s(1) == [7.0, 19.0, 30.0, 40.0]
    with pytest.raises(KeyError):
        ok.plan_max_green_s(2)
    bad = dataclasses.replace(ix, plans=(Plan("p", {"ns_thru": 18.5, "ew_thru": 41.0}),))
    got = {str(p) for p in validate(bad)}
    assert got == {
        "plans[0].max_green_s.ns_thru = 18.5: below the phase's max(walk_s, min_green_s) + "
        "ped_clear_s = 19.0",
        "plans[0].max_green_s.ew_thru = 41.0: above the phase's max_green_s = 40.0 (a plan "
        "only trims)",
    }
    many = dataclasses.replace(ix, plans=tuple(Plan(f"p{i}", {"ns_left": 8.0}) for i in range(17)))
    assert [p.field for p in validate(many)] == ["plans"]
    empty = dataclasses.replace(ix, plans=(Plan("p", {}),))
    assert [p.field for p in validate(empty)] == ["plans[0].max_green_s"]
    assert "plans" not in ix.to_compact()  # no plans: the compact form is as before
