"""Start-up, run once and then unloaded (app.run): the HAL, what this boot runs, the config.

On MicroPython a module's code lives in the heap; this one, the config validator, `storage`
and `crashlog` are gone before the control code loads, so the heap peak is the larger of the
two stages, not their sum.
"""

import json
from array import array

from .app import unload

_NUMBERS = (
    "conflict_mask",
    "phase_mask",
    "min_green",
    "max_green",
    "passage",
    "yellow",
    "all_red",
    "g_min_green",
    "g_yellow",
    "g_all_red",
    "det_phases",
    "walk",
    "ped_clear",
    "det_diag",
)


def make_hal():
    """The emulated HAL when the rig started us (GW_CLOCK set), else the board."""
    import os

    getenv = getattr(os, "getenv", None)
    if getenv is not None and getenv("GW_CLOCK"):
        return _emulated(getenv)
    from .hal_board import Board

    with open("board.json") as f:
        pinmap = json.load(f)
    return Board(pinmap)


def _emulated(getenv):
    """The HIL rig's HAL (hal_emulated.py), from what the rig put in the environment (see
    docs/architecture.md, "Emulated HAL <-> rig"). Here, not in the HAL, because this module is
    unloaded after start-up: the running controller's heap does not carry it."""
    import time

    from .hal_emulated import Emulated

    def pipe(name, mode):
        return open(int(getenv(name) or -1), mode)  # -1: not started by the rig, OSError

    pipes = (
        pipe("GW_CTL_IN", "rb"),
        pipe("GW_CTL_OUT", "wb"),
        pipe("GW_UART_IN", "rb"),
        pipe("GW_UART_OUT", "wb"),
    )
    spec = (getenv("GW_CLOCK") or "").split(":")  # stepped:<ms> or scaled:<ns>:<speed>:<ms>
    if spec[0] == "stepped":
        clock = (True, int(spec[1]), 0, 1.0)
    else:
        epoch_ns = int(spec[1]) or time.time_ns()
        clock = (False, int(spec[3]), epoch_ns, float(spec[2]))
    # Debug aid: GW_MEMREPORT=<s> logs heap use every <s> seconds of controller time
    # (hal_memreport.py, loaded only then: on MicroPython code takes heap).
    every = getenv("GW_MEMREPORT")
    mem = None
    if every:
        from .hal_memreport import MemReport

        mem = MemReport(int(every) * 1000)
    return Emulated(
        pipes,
        getenv("GW_FLASH") or ".",
        int(getenv("GW_HEADS") or 0),
        getenv("GW_RESET_CAUSE") or "power",
        getenv("GW_STRAP") == "1",
        clock,
        int(getenv("GW_TICK_MS") or 10),
        mem,
    )


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
            # The numbers the control code reads, as int arrays: about a third of a list's bytes
            # (no 8-byte slots). Masks and times are small ints (config.py caps counts at 30).
            for k in _NUMBERS:
                v = getattr(cfg, k)
                if v is not None:
                    setattr(cfg, k, array("i", v))
        except Exception as e:  # StorageError, ConfigError: never run an unchecked config
            detail = "safe mode: no usable config: %s" % e
        else:
            if source != "config.json":
                detail += "; config from " + source
        unload("config")
        unload("storage")
    return hal, cfg, mode, detail, maint_s
