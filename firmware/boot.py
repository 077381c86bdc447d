"""Start-up, run once and then unloaded (app.run): the HAL, what this boot runs, the config.

On MicroPython a module's code lives in the heap; this one, the config validator, `storage`
and `crashlog` are gone before the control code loads, so the heap peak is the larger of the
two stages, not their sum.
"""

import json

from .app import unload


def make_hal():
    """The emulated HAL when the rig started us (GW_CLOCK set), else the board."""
    import os

    getenv = getattr(os, "getenv", None)
    if getenv is not None and getenv("GW_CLOCK"):
        from .hal_emulated import Emulated

        return Emulated(tick_ms=int(getenv("GW_TICK_MS") or 10))
    from .hal_board import Board

    with open("board.json") as f:
        pinmap = json.load(f)
    return Board(pinmap)


def load_config(dirpath):
    """(Config, file it came from) from the flash directory. Raises storage.StorageError when no
    file passes its checksum and config.ConfigError when the one that does is invalid."""
    from . import config, storage

    d, source = storage.load(dirpath)
    return config.load(d), source


def start():
    """(hal, cfg or None, mode, detail, maintenance s): cfg is None when the app must not run
    (safe or maintenance mode, or no usable config on flash)."""
    hal = make_hal()
    flash = hal.flash_dir
    from . import crashlog

    mode, detail, maint_s = crashlog.boot(flash, hal.cause, hal.strapped)
    run_app = mode == crashlog.RUN
    del crashlog
    unload("crashlog")
    cfg = None
    if run_app:
        try:
            cfg, source = load_config(flash)
            # What only the validator reads: for cross() the conflict pair lists alone are over
            # 4 KB of a 64 KiB heap; the running code uses the bitmasks built from them.
            cfg.conflicts = []
            cfg.phase_groups = []
            cfg.ped = []
        except Exception as e:  # StorageError, ConfigError: never run an unchecked config
            detail = "safe mode: no usable config: %s" % e
        else:
            if source != "config.json":
                detail += "; config from " + source
        unload("config")
        unload("storage")
    return hal, cfg, mode, detail, maint_s
