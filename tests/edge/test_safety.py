import json

import pytest

from edge.factories import corridor, cross, tee
from edge.record import RecordError, RecordWriter
from edge.safety import RULES, HeaderError, SafetyOracle, Violation, check_record

# Two groups that conflict: ns and ew; min green 7 s, yellow 4 s, all-red 2 s.
HEADER = {
    "type": "header",
    "intersection": "two",
    "groups": ["ns", "ew"],
    "conflicts": [[0, 1]],
    "min_green": {"ns": 7.0, "ew": 7.0},
    "yellow": {"ns": 4.0, "ew": 4.0},
    "all_red": {"ns": 2.0, "ew": 2.0},
}

GOOD = [
    (0.0, "ff"),  # start-up flash
    (5.0, "rr"),  # start-up all-red: red onset for both
    (8.0, "Gr"),
    (20.0, "yr"),
    (24.0, "rr"),
    (26.0, "rG"),
    (30.0, "rg"),  # protected -> permissive is still the same green
    (40.0, "ry"),
    (44.0, "rr"),
    (46.0, "Gr"),
]


def run(trace, header=HEADER):
    oracle = SafetyOracle(header)
    for t, s in trace:
        oracle.feed(t, s)
    return oracle.violations


def rules(trace, header=HEADER):
    return [v.rule for v in run(trace, header)]


def replace(trace, t, signals):
    """GOOD with the entry at time t replaced (or inserted when absent)."""
    out = [(tt, s) for tt, s in trace if tt != t] + [(t, signals)]
    return sorted(out)


def fixed_time(ix, cycles=2, extra_green_s=1.0):
    """A correct fixed-time trace from the model's own timing: flash, all-red, then phases in
    order; a group in two consecutive phases stays green across the change."""
    names = ix.group_names()
    t, trace = 0.0, [(0.0, "f" * len(names))]
    t += ix.startup_flash_s
    trace.append((t, "r" * len(names)))
    t += ix.startup_all_red_s
    order = list(ix.phases) * cycles
    for k, ph in enumerate(order):
        trace.append((t, "".join("G" if g in ph.groups else "r" for g in names)))
        t += ph.min_green_s + extra_green_s
        nxt = set(order[k + 1].groups) if k + 1 < len(order) else set()
        keep = set(ph.groups) & nxt
        trace.append(
            (t, "".join("G" if g in keep else "y" if g in ph.groups else "r" for g in names))
        )
        t += ph.yellow_s
        trace.append((t, "".join("G" if g in keep else "r" for g in names)))
        t += ph.all_red_s
    return trace


def test_good_trace_is_quiet():
    assert run(GOOD) == []


@pytest.mark.parametrize("ix", [cross(), tee(), *corridor(2)], ids=lambda ix: ix.id)
def test_fixed_time_runs_of_the_factories_are_quiet(ix):
    assert run(fixed_time(ix), ix.record_header()) == []


@pytest.mark.parametrize("ix", [cross(), tee()], ids=lambda ix: ix.id)
def test_shortened_clearance_in_a_factory_run_is_caught(ix):
    trace = fixed_time(ix)
    # cut the all-red before the third phase by 0.5 s: move every later change earlier
    starts = [t for t, s in trace if "y" in s]
    cut_from = [t for t, s in trace if t > starts[1] and "y" not in s][1]
    bad = [(t - 0.5 if t >= cut_from else t, s) for t, s in trace]
    assert "all_red" in rules(bad, ix.record_header())


def test_rule_1_conflict_fires_once_while_it_lasts():
    bad = replace(GOOD, 26.0, "yG")
    found = run(bad)
    conflicts = [v for v in found if v.rule == "conflict"]
    assert len(conflicts) == 1
    assert conflicts[0].groups == ("ns", "ew") and conflicts[0].t == 26.0


def test_rule_2_green_must_end_through_yellow():
    assert rules(replace(GOOD, 20.0, "rr")) == ["green_end"]
    # a partial flash is not a fault flash
    assert rules(replace(GOOD, 20.0, "fr")) == ["green_end"]


def test_rule_3_yellow_time():
    bad = [(t, s) for t, s in GOOD if t != 24.0] + [(23.5, "rr")]
    found = run(sorted(bad))
    assert [v.rule for v in found] == ["yellow_time"]
    assert "3.500 s" in found[0].detail and found[0].groups == ("ns",)


def test_rule_3_tolerance_is_one_millisecond():
    within = [(t, s) for t, s in GOOD if t != 24.0] + [(23.9995, "rr")]
    assert run(sorted(within)) == []
    beyond = [(t, s) for t, s in GOOD if t != 24.0] + [(23.998, "rr")]
    assert rules(sorted(beyond)) == ["yellow_time"]


def test_rule_3_never_below_three_seconds_even_if_the_header_says_less():
    with pytest.raises(HeaderError, match="yellow"):
        SafetyOracle({**HEADER, "yellow": {"ns": 2.5, "ew": 4.0}})


def test_rule_4_min_green():
    bad = [(t, s) for t, s in GOOD if t not in (20.0, 24.0, 26.0)]
    bad += [(13.0, "yr"), (17.0, "rr"), (19.0, "rG")]
    found = run(sorted(bad))
    assert [v.rule for v in found] == ["min_green"]
    assert found[0].t == 13.0 and "5.000 s" in found[0].detail


def test_rule_5_all_red():
    found = run(sorted([(t, s) for t, s in GOOD if t != 26.0] + [(25.0, "rG")]))
    assert [v.rule for v in found] == ["all_red"]
    assert found[0].groups == ("ew", "ns")


def test_rule_5_start_up_flash_to_red_is_a_red_onset():
    trace = [(0.0, "ff"), (5.0, "rr"), (6.0, "Gr")]
    assert rules(trace) == ["all_red"]


def test_rule_6_dark():
    assert rules(replace(GOOD, 30.0, "og")) == ["dark"]  # a red group goes dark
    # dark is fine during start-up
    assert run([(0.0, "oo"), (1.0, "ff"), (6.0, "rr"), (9.0, "Gr")]) == []


def test_rule_6_group_left_dark_when_the_run_starts():
    assert rules([(0.0, "ff"), (5.0, "ro"), (8.0, "Go")]) == ["dark"]


@pytest.mark.parametrize(
    "trace",
    [
        replace(GOOD, 24.0, "Gr"),  # yellow back to green
        replace(GOOD, 26.0, "ry"),  # red straight to yellow
        replace(GOOD, 24.0, "fr"),  # yellow to flash without a fault
        [(0.0, "ff"), (5.0, "Gr")],  # flash straight to green
        replace(GOOD, 30.0, "fg"),  # a red group flashing alone
    ],
)
def test_rule_7_sequence(trace):
    assert "sequence" in rules(trace)


def test_fault_flash_is_not_a_violation_and_restart_is_checked_again():
    trace = [*GOOD[:4], (21.0, "ff"), (30.0, "rr"), (31.0, "Gr")]
    assert rules(trace) == ["all_red"]  # the fault itself is fine; the hasty restart is not
    assert run([*GOOD[:4], (21.0, "ff"), (30.0, "rr"), (32.0, "Gr")]) == []


def test_feed_returns_new_violations_only():
    oracle = SafetyOracle(HEADER)
    assert oracle.feed(0.0, "rr") == []
    assert oracle.feed(1.0, "rr") == []  # no change
    first = oracle.feed(2.0, "GG")
    assert [v.rule for v in first] == ["conflict"]
    assert oracle.feed(3.0, "Gg") == []
    assert oracle.violations == first


def test_bad_input_is_an_error_not_a_violation():
    oracle = SafetyOracle(HEADER)
    oracle.feed(1.0, "ff")
    for bad in ["fff", "fX", 7]:
        with pytest.raises(ValueError, match=repr(bad)):
            oracle.feed(2.0, bad)
    with pytest.raises(ValueError, match="backwards"):
        oracle.feed(0.5, "rr")


@pytest.mark.parametrize(
    "change",
    [
        {"groups": []},
        {"groups": ["a", "a"]},
        {"groups": "ab"},
        {"conflicts": [[0, 2]]},
        {"conflicts": [[1, 0]]},
        {"conflicts": [[0, 0]]},
        {"conflicts": [[0, True]]},
        {"conflicts": {"0": 1}},
        {"min_green": {"ns": 7.0}},
        {"min_green": [7.0, 7.0]},
        {"all_red": {"ns": 2.0, "ew": -1.0}},
        {"yellow": {"ns": 4.0, "ew": "4"}},
    ],
)
def test_malformed_headers_are_refused(change):
    with pytest.raises(HeaderError):
        SafetyOracle({**HEADER, **change})


def test_violation_reads_well():
    v = Violation(12.5, "all_red", ("ew", "ns"), "too soon")
    assert str(v) == "t=12.500 s all_red [ew, ns]: too soon"
    assert set(RULES) == {
        "conflict",
        "green_end",
        "yellow_time",
        "min_green",
        "all_red",
        "dark",
        "sequence",
    }


def test_check_record(tmp_path):
    path = tmp_path / "run.jsonl"
    ix = tee()
    bad = fixed_time(ix)
    bad[3] = (bad[3][0], bad[3][1].replace("r", "G"))  # everything green at once
    with RecordWriter(path) as rec:
        rec.header(ix)
        rec.header(cross())
        for t, s in bad:
            rec.change(t, "tee", s)
        for t, s in fixed_time(cross()):
            rec.change(t, "cross", s)
    found = check_record(path)
    assert found["cross"] == []
    assert "conflict" in {v.rule for v in found["tee"]}


def test_check_record_errors(tmp_path):
    path = tmp_path / "bad.jsonl"
    header = {**HEADER, "conflicts": [[0, 5]]}
    path.write_text(json.dumps(header) + "\n")
    with pytest.raises(RecordError, match="header of 'two'"):
        check_record(path)
    row = {"t": 0.0, "intersection": "two", "signals": "fff"}
    path.write_text(json.dumps(HEADER) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(RecordError, match="'fff'"):
        check_record(path)
