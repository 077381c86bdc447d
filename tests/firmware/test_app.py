# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import asyncio
import gc
import sys

from configs import two

import firmware
from firmware import app
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.hal import Hal

MICROPYTHON = sys.implementation.name == "micropython"


class FakeHal(Hal):
    """Records what the loop does; quits after `ticks` ticks of 10 ms."""

    def __init__(self, ticks, levels=0):
        self.t = 0
        self.ticks = ticks
        self.levels = levels
        self.heads = []
        self.sent = b""
        self.fed = 0
        self.quit = False

    def now_ms(self):
        return self.t

    def read_detectors(self):
        return self.levels

    def write_heads(self, now_ms, signals):
        self.heads.append((now_ms, bytes(signals).decode()))

    def uart_read(self):
        return None

    def uart_write(self, data):
        if data:
            self.sent += data

    def feed_watchdog(self):
        self.fed += 1

    async def wait_tick(self):
        self.t += 10
        self.ticks -= 1
        if self.ticks <= 0:
            self.quit = True


def _load(d):
    # The validator is imported here only, so nothing but sys.modules and the package keep it.
    return __import__("firmware.config", None, None, ["load"]).load(d)


def _restore(saved):
    sys.modules["firmware.config"] = saved
    firmware.config = saved


def test_unload_forgets_the_module_and_its_config_keeps_working():
    from firmware import config

    saved = config
    try:
        cfg = config.load(two())
        app.unload("config")
        assert "firmware.config" not in sys.modules
        assert "config" not in dir(firmware)
        assert cfg.clearance(1) == 4000 and cfg.groups == ["ns", "ew"]
        again = _load(two())  # a later import loads the module afresh
        assert sys.modules["firmware.config"] is not saved
        assert type(again) is type(cfg)  # Config lives outside the validator
        app.unload("no_such_module")  # nothing to forget: no error
    finally:
        _restore(saved)


def test_unloading_the_validator_frees_its_code():
    if not MICROPYTHON:
        return  # CPython keeps code outside the measured heap; the board's concern
    from firmware import config

    saved = config
    try:
        del config
        app.unload("config")
        gc.collect()
        before = gc.mem_free()
        cfg = _load(two())
        gc.collect()
        loaded = before - gc.mem_free()
        app.unload("config")
        gc.collect()
        freed = gc.mem_free() - (before - loaded)
        assert cfg.n_phases == 2
        # the validator is several KB of bytecode; only its interned names stay behind
        assert loaded > 4000 and freed > loaded * 2 // 3, (loaded, freed)
    finally:
        _restore(saved)


def test_main_runs_the_loop_until_the_hal_quits():
    hal = FakeHal(ticks=400, levels=0b10)
    cfg = _load(two())
    asyncio.run(app.main(hal, cfg))
    assert hal.fed == 400 and hal.t == 4000
    heads = [s for _, s in hal.heads]
    assert heads[:3] == ["ff", "rr", "rG"], heads  # flash, all-red, the called phase
    frames = P.Decoder().feed(hal.sent)
    events = [G.unpack_event(p)[2] for t, _, p in frames if t == P.T_EVENT]
    assert events[0] == "boot two", events
    assert any(t == P.T_STATE for t, _, _ in frames)
