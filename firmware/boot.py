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
    "plans",
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


def load_keys(dirpath):
    """(keys or None, problem or None) from `keys.json` on flash: keys = (site id bytes,
    {operator key id bytes: key bytes}, link key bytes) as the Controller takes them. No file
    is no keys, quietly; a damaged or invalid one is no keys and a problem to report."""
    from binascii import unhexlify

    from . import storage

    try:
        d, _ = storage.load(dirpath, "keys")
    except storage.StorageError as e:
        p = e.problems[0] if e.problems else str(e)
        return None, None if p.endswith(": missing") else p
    try:
        site = d["site"]
        ops = {}
        for k, v in d.get("operators", {}).items():
            ops[k.encode()] = unhexlify(v)
        link = unhexlify(d["link"])
        if not site or len(link) < 16 or min([len(v) for v in ops.values()] + [16]) < 16:
            raise ValueError("a key shorter than 16 bytes or no site")
        return (site.encode(), ops, link), None
    except Exception as e:  # KeyError, ValueError, AttributeError: never half a key set
        return None, "keys.json: %r" % e


def load_floor(dirpath):
    """(replay floor, problem or None) from the file `floor` on flash: the largest ts (Unix
    seconds - auth._EPOCH) of an operator command accepted before this boot, which app.main
    writes as b"<ts> <ts>" (temp file and rename) when it accepts one. The controller refuses
    every command signed at or before it ("replayed or stale"). No file is 0, quietly; a
    damaged one is 0 and a problem to report."""
    try:
        with open(dirpath + "/floor", "rb") as f:
            b = f.read(32)
    except OSError:
        return 0, None
    p = b.split()
    try:
        if len(p) == 2 and p[0] == p[1] and 0 <= int(p[0]) < 0x40000000:
            return int(p[0]), None
    except ValueError:
        pass
    return 0, "floor: %r" % b[:24]


def boot_id():
    """A random 30-bit id for this boot (a board's small int): link tags bind to it."""
    import os

    try:
        b = os.urandom(4)
    except (AttributeError, OSError):  # a port without urandom
        import random

        return random.getrandbits(30)
    return (b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) & 0x3FFFFFFF


def start():
    """(hal, cfg or None, mode, detail, maintenance s, keys, floor): cfg is None when the app
    must not run (safe or maintenance mode, or no usable config on flash); keys as `load_keys`
    says, floor as `load_floor` (0 without keys)."""
    hal = make_hal()
    flash = hal.flash_dir
    from . import crashlog

    mode, detail, maint_s = crashlog.boot(flash, hal.cause, hal.strapped)
    run_app = mode == crashlog.RUN
    del crashlog
    unload("crashlog")
    cfg = None
    keys = None
    floor = 0
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
            keys, problem = load_keys(flash)
            if problem:
                detail += "; no operator keys: " + problem
            if keys is not None:
                floor, problem = load_floor(flash)
                if problem:
                    detail += "; replay floor 0: " + problem
        unload("config")
        unload("plans")  # loaded by config.py for a config with plans
        unload("config_options")  # and for one with pedestrian, detector or ring keys
        unload("storage")
    return hal, cfg, mode, detail, maint_s, keys, floor
