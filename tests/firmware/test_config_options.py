# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""The compact config's optional keys (firmware/config_options.py): recall, pedestrian timing,
detector kinds and diagnostics, checked through `config.load`; the module loaded only for a
config with one of them and unloaded by boot with the validator. Rings: test_rings.py."""

import sys

from configs import four
from mpcompat import rmtree, tmpdir
from test_app import FakeHal
from test_config import has, problems

import firmware
from firmware import boot, config, storage

_VALIDATOR = ("config", "config_options")


def _forget():
    """Drop the validator's modules as boot does; return them, for `_restore`."""
    saved = {}
    for name in _VALIDATOR:
        mod = sys.modules.pop("firmware." + name, None)
        if mod is not None:
            saved[name] = mod
        if name in dir(firmware):
            delattr(firmware, name)
    return saved


def _restore(saved):
    for name in _VALIDATOR:
        sys.modules.pop("firmware." + name, None)
        if name in dir(firmware):
            delattr(firmware, name)
    for name, mod in saved.items():
        sys.modules["firmware." + name] = mod
        setattr(firmware, name, mod)


def _load(d):
    # imported afresh, so sys.modules shows what this load brought in
    return __import__("firmware.config", None, None, ["load"]).load(d)


def test_loaded_only_for_a_config_with_one_of_its_keys():
    saved = _forget()
    try:
        _load(four())
        assert "firmware.config_options" not in sys.modules  # heap: no options, no code
        for key, value in (("recall", [0, 0, 0, 1]), ("det_kind", [0, 0, 0, 0, 1, 0])):
            _forget()
            d = four()
            d["detectors"] = [[0], [1], [2], [3], [3], [0]]
            d[key] = value
            _load(d)
            assert "firmware.config_options" in sys.modules, key
    finally:
        _restore(saved)


def test_boot_unloads_it_with_the_validator():
    d = tmpdir("options")
    saved = _forget()
    hal = FakeHal(1, flash_dir=d)
    hal.cause = "power"
    hal.strapped = False
    make_hal = boot.make_hal
    boot.make_hal = lambda: hal
    try:
        cfg = ped_four()
        cfg["recall"] = [0, 0, 0, 1]
        storage.save(d, cfg)
        _, cfg, _, detail, _, _, _ = boot.start()
        assert cfg is not None and cfg.recall == 0b1000, detail
        assert "firmware.config_options" not in sys.modules
        assert "config_options" not in dir(firmware)
        assert "firmware.config" not in sys.modules
    finally:
        boot.make_hal = make_hal
        sys.modules["firmware.boot"] = boot
        _restore(saved)
        rmtree(d)


def ped_four():
    d = four()  # ewp (group 4) is a pedestrian group, in phase 3 only
    d["detectors"] = [[0], [1], [2], [3], [3], [0]]
    return d


def test_optional_keys_default_to_no_recall_no_walk_vehicle_detectors_no_diagnostics():
    cfg = config.load(four())
    assert (cfg.recall, cfg.recall_max, cfg.recall_ped) == (0, 0, 0)
    assert cfg.walk == [0, 0, 0, 0] and cfg.ped_clear == [0, 0, 0, 0]
    assert cfg.ped_mask == 0b10000
    assert (cfg.ped_dets, cfg.pre_dets, cfg.fail_none, cfg.det_diag) == (0, 0, 0, None)


def test_optional_keys_loaded():
    d = ped_four()
    d["recall"] = [1, 0, 2, 3]
    d["ped_timing"] = [[0, 0], [0, 0], [0, 0], [5000, 10000]]
    d["det_kind"] = [0, 0, 0, 0, 1, 2]
    d["det_diag"] = [[0, 0, 0, 0]] * 4 + [[600000, 0, 0, 1], [0, 300000, 40, 0]]
    cfg = config.load(d)
    assert (cfg.recall, cfg.recall_max, cfg.recall_ped) == (0b1101, 0b0100, 0b1000)
    # the walk as shown: at least the phase's min green (7000)
    assert cfg.walk == [0, 0, 0, 7000] and cfg.ped_clear == [0, 0, 0, 10000]
    assert (cfg.ped_dets, cfg.pre_dets, cfg.fail_none) == (0b010000, 0b100000, 0b010000)
    assert cfg.det_diag == [0] * 12 + [600000, 0, 0, 0, 300000, 40]


def test_all_zero_diagnostics_are_stored_as_none():
    d = ped_four()
    d["det_diag"] = [[0, 0, 0, 0]] * 5 + [[0, 0, 0, 1]]
    cfg = config.load(d)
    assert cfg.det_diag is None and cfg.fail_none == 0b100000


def test_ped_timing_must_fit_the_green_and_the_yellow_and_hold_a_ped_group():
    d = ped_four()
    d["ped_timing"] = [[7000, 0], [5000, 5000], [0, 0], [20000, 2000]]
    probs = problems(d)
    assert has(probs, "ped_timing[0] (ped_clear)", "0")
    assert has(probs, "ped_timing[1]", "no pedestrian group")
    assert has(probs, "ped_timing[3]", "ped_clear 2000", "yellow 3000")
    assert has(probs, "ped_timing[3]", "22000", "max_green 25000") is False
    d["ped_timing"][3] = [20000, 6000]
    assert has(problems(d), "ped_timing[3]", "26000 ms exceeds max_green 25000")
    d["ped_timing"] = [[0, 0]] * 3
    assert has(problems(d), "ped_timing", "list of 4 entries")
    d["ped_timing"] = [[0, 0], [0, 0], [0, 0], [7000, "x"]]
    assert has(problems(d), "ped_timing[3]", "2 integer")


def test_recall_values_and_ped_recall_needs_ped_timing():
    d = ped_four()
    d["recall"] = [4, -1, 0, 0]
    probs = problems(d)
    assert has(probs, "recall[0]", "4", "0 none, 1 min, 2 max or 3 pedestrian")
    assert has(probs, "recall[1]", "-1")
    d["recall"] = [0, 0, True, 0]
    assert has(problems(d), "recall[2]", "True", "integer")
    d["recall"] = [0, 0, 0, 3]
    assert has(problems(d), "recall[3]", "pedestrian recall", "without ped_timing")


def test_detector_kind_and_diagnostics_are_checked():
    d = ped_four()
    d["det_kind"] = [0, 0, 0, 0, 3, 0]
    d["det_diag"] = [[0, 0, 0, 0]] * 4 + [[-1, 0, 2000, 0], [0, 0, 0, 2]]
    probs = problems(d)
    assert has(probs, "det_kind[4]", "3", "0 vehicle, 1 pedestrian or 2 preempt")
    assert has(probs, "det_diag[4] (no_activity)", "-1")
    assert has(probs, "det_diag[4] (erratic_per_min)", "2000")
    assert has(probs, "det_diag[5] (fail_action)", "2", "0 call or 1 none")
    d["det_kind"] = [0, 1]
    d["det_diag"] = [[0, 0, 0]] * 6
    probs = problems(d)
    assert has(probs, "det_kind", "list of 6 entries")
    assert has(probs, "det_diag[0]", "4 integer")
