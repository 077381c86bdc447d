# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
from configs import four

from firmware import config, config_data


def test_config_module_builds_the_config_data_class():
    assert config.Config is config_data.Config
    assert type(config.load(four())) is config_data.Config


def test_a_fresh_config_is_empty():
    cfg = config_data.Config()
    assert (cfg.id, cfg.n_groups, cfg.n_phases, cfg.n_detectors, cfg.max_cycle) == ("", 0, 0, 0, 0)
    assert cfg.groups == [] and cfg.phase_mask == [] and cfg.det_phases == []
    assert cfg.groups is not config_data.Config().groups  # no list shared between configs


def test_the_resident_config_class_keeps_no_code_but_its_constructor():
    # a Config lives as long as the controller, and on MicroPython a class's methods are heap:
    # its constructor's body is the validator's (config.blank), unloaded after start-up
    c = config_data.Config
    assert [k for k in dir(c) if k[:2] != "__" and callable(getattr(c, k))] == []
    cfg = config.load(four())
    assert [cfg.yellow[p] + cfg.all_red[p] for p in range(cfg.n_phases)] == [4000, 6000, 5000, 4000]
