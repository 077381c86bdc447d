from configs import four
from mpcompat import raises

from firmware import config
from firmware.config import ConfigError


def cross():
    """Four vehicle groups in two phases, as in docs/architecture.md."""
    return {
        "v": 1,
        "id": "cross",
        "groups": ["n", "s", "e", "w"],
        "ped": [0, 0, 0, 0],
        "conflicts": [[0, 2], [0, 3], [1, 2], [1, 3]],
        "phases": [[0, 1], [2, 3]],
        "timing": [[7000, 40000, 3000, 4000, 2000], [5000, 30000, 2500, 3500, 1500]],
        "detectors": [[0], [0], [1], [1]],
        "startup_flash": 5000,
        "startup_all_red": 3000,
    }


def overlap():
    """A leading left (nl) that overlaps the through movement (nt) into the next phase."""
    d = four()
    d["id"] = "overlap"
    d["detectors"] = [[0], [1], [2, 3], []]
    return d


def problems(d):
    return raises(ConfigError, config.load, d).problems


def has(probs, *words):
    """True if one problem mentions every word."""
    for p in probs:
        if all(w in p for w in words):
            return True
    return False


def test_load_cross():
    cfg = config.load(cross())
    assert cfg.id == "cross"
    assert cfg.groups == ["n", "s", "e", "w"]
    assert cfg.n_groups == 4
    assert cfg.ped == [0, 0, 0, 0]
    assert cfg.conflicts == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert cfg.conflict_mask == [0b1100, 0b1100, 0b0011, 0b0011]
    assert cfg.phase_groups == [[0, 1], [2, 3]]
    assert cfg.phase_mask == [0b0011, 0b1100]
    assert cfg.n_phases == 2
    assert cfg.min_green == [7000, 5000]
    assert cfg.max_green == [40000, 30000]
    assert cfg.passage == [3000, 2500]
    assert cfg.yellow == [4000, 3500]
    assert cfg.all_red == [2000, 1500]
    assert cfg.det_phases == [1, 1, 2, 2]
    assert cfg.n_detectors == 4
    assert cfg.startup_flash == 5000
    assert cfg.startup_all_red == 3000
    assert cfg.max_cycle == 40000 + 4000 + 2000 + 30000 + 3500 + 1500
    assert cfg.yellow[1] + cfg.all_red[1] == 5000


def test_group_bounds_are_minimum_over_phases():
    cfg = config.load(overlap())
    # nt is in phases 0 and 1; ew in 2 and 3
    assert cfg.g_min_green == [5000, 5000, 8000, 6000, 7000]
    assert cfg.g_yellow == [3000, 3000, 4000, 3000, 3000]
    assert cfg.g_all_red == [1000, 1000, 2000, 1000, 1000]
    assert cfg.det_phases == [0b0001, 0b0010, 0b1100, 0]
    assert cfg.ped == [0, 0, 0, 0, 1]


def test_conflict_pairs_accepted_in_either_order_and_deduplicated():
    d = cross()
    d["conflicts"] = [[2, 0], [0, 2], [0, 3], [1, 2], [3, 1]]
    cfg = config.load(d)
    assert cfg.conflicts == [(0, 2), (0, 3), (1, 2), (1, 3)]
    assert cfg.conflict_mask == [0b1100, 0b1100, 0b0011, 0b0011]


def test_config_error_is_a_value_error_listing_problems():
    e = raises(ValueError, config.load, "cross")
    assert isinstance(e, ConfigError)
    assert e.problems == ["config: 'cross' is not a JSON object"]


def test_short_yellow_names_field_and_value():
    d = cross()
    d["timing"][1][3] = 2999
    probs = problems(d)
    assert len(probs) == 1
    assert has(probs, "timing[1][3]", "yellow", "2999")


def test_min_green_above_max_green():
    d = cross()
    d["timing"][0][0] = 50000
    assert has(problems(d), "timing[0]", "min_green 50000", "max_green 40000")


def test_conflicting_groups_in_one_phase():
    d = cross()
    d["phases"] = [[0, 1, 2], [2, 3]]
    assert has(problems(d), "phases[0]", "[0, 1, 2]", "n and e")


def test_unknown_group_index_in_phase_and_conflicts():
    d = cross()
    d["phases"] = [[0, 1, 7], [2, 3]]
    d["conflicts"].append([1, 9])
    probs = problems(d)
    assert has(probs, "phases[0]", "7")
    assert has(probs, "conflicts[4]", "[1, 9]")


def test_empty_phase_and_group_in_no_phase():
    d = cross()
    d["phases"] = [[0, 1], [2], []]
    d["timing"].append([1000, 2000, 0, 3000, 0])
    probs = problems(d)
    assert has(probs, "phases[2]", "[]")
    assert has(probs, "groups[3]", "'w'", "no phase")


def test_detector_calling_unknown_phase():
    d = cross()
    d["detectors"][2] = [1, 2]
    assert has(problems(d), "detectors[2]", "unknown phase 2")


def test_wrong_types_are_each_reported():
    d = cross()
    d["timing"][0][1] = "40000"
    d["timing"][1][0] = 5000.0
    d["ped"][2] = True
    d["startup_flash"] = None
    d["id"] = ""
    probs = problems(d)
    assert has(probs, "timing[0][1]", "'40000'")
    assert has(probs, "timing[1][0]", "5000.0")
    assert has(probs, "ped[2]", "True")
    assert has(probs, "startup_flash", "None")
    assert has(probs, "id", "''")


def test_every_problem_is_reported_at_once():
    d = cross()
    d["v"] = 2
    d["timing"][0][3] = 1000
    d["timing"][1][0] = 40000
    d["phases"][1] = [1, 2, 3]
    d["detectors"][0] = [5]
    d["startup_all_red"] = 1000
    probs = problems(d)
    assert has(probs, "v", "2")
    assert has(probs, "timing[0][3]", "1000")
    assert has(probs, "timing[1]", "min_green 40000")
    assert has(probs, "phases[1]", "s and e")
    assert has(probs, "detectors[0]", "5")
    assert len(probs) == 5  # startup_all_red is only checked against a valid timing table


def test_startup_all_red_shorter_than_longest_all_red():
    d = cross()
    d["startup_all_red"] = 1999
    assert has(problems(d), "startup_all_red", "1999", "2000")


def test_missing_and_unknown_fields():
    d = cross()
    del d["timing"]
    d["plan"] = "x"
    probs = problems(d)
    assert has(probs, "timing", "missing")
    assert has(probs, "plan", "unknown field", "'x'")


def test_duplicate_group_names_self_conflict_and_bad_ped_length():
    d = cross()
    d["groups"][3] = "e"
    e = raises(ConfigError, config.load, d)
    assert has(e.problems, "groups[3]", "'e'", "duplicate")
    d = cross()
    d["conflicts"].append([2, 2])
    d["ped"] = [0, 0, 0]
    probs = problems(d)
    assert has(probs, "conflicts[4]", "[2, 2]")
    assert has(probs, "ped", "3 entries for 4 groups")


def test_timing_rows_must_match_phases_and_be_in_range():
    d = cross()
    d["timing"] = d["timing"][:1]
    assert has(problems(d), "timing", "2 rows")
    d = cross()
    d["timing"][0][4] = -1
    d["timing"][1][1] = 99999999
    probs = problems(d)
    assert has(probs, "timing[0][4]", "all_red", "-1")
    assert has(probs, "timing[1][1]", "max_green", "99999999")


def test_too_many_groups_for_a_small_int_mask():
    d = cross()
    d["groups"] = ["g" + str(i) for i in range(31)]
    assert has(problems(d), "groups", "31 entries")
