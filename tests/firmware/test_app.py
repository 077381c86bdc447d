# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import asyncio
import gc
import os
import sys

from configs import two
from mpcompat import raises, rmtree, tmpdir

import firmware
from firmware import app
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.hal import Hal

MICROPYTHON = sys.implementation.name == "micropython"


class Reset(Exception):
    """FakeHal.reset: the board would restart here."""


class FakeHal(Hal):
    """Records what the tasks do; quits after `ticks` turns of the supervisor, 10 ms each."""

    def __init__(self, ticks, levels=0, flash_dir="/nonexistent"):
        self.t = 0
        self.ticks = ticks
        self.levels = levels
        self.heads = []
        self.sent = b""
        self.fed = 0
        self.armed = 0
        self.quit = False
        self.flash_dir = flash_dir
        self.frozen = -1
        self.latched = False
        self.fail_after = -1  # read_detectors raises on this call
        self.reads = 0
        self.resets = 0

    def now_ms(self):
        return self.t

    def read_detectors(self):
        self.reads += 1
        if self.reads == self.fail_after:
            raise ZeroDivisionError("detector input broke")
        return self.levels

    def write_heads(self, now_ms, signals):
        if not self.latched:
            self.heads.append((now_ms, bytes(signals).decode()))

    def all_flash(self, n_groups):
        if not self.latched:  # the HAL contract: after all_flash only a reset moves the heads
            self.latched = True
            self.heads.append((self.t, "f" * n_groups))

    def uart_readinto(self, buf):
        return 0

    def uart_write(self, data, n=-1):
        self.sent += bytes(data[:n] if n >= 0 else data)

    def arm_watchdog(self, timeout_ms):
        self.armed = timeout_ms

    def feed_watchdog(self):
        self.fed += 1

    def reset(self):
        self.resets += 1
        raise Reset()

    def pause(self, task):
        if task == self.frozen:
            return asyncio.Event().wait()
        if task == 3:  # the supervisor's turn ends a tick
            self.t += 10
            self.ticks -= 1
            if self.ticks <= 0:
                self.quit = True
        return asyncio.sleep(0)


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


def _heads(hal):
    return [s for _, s in hal.heads]


def _events(hal):
    frames = G.Decoder().feed(hal.sent)
    return [G.unpack_event(p)[2] for t, _, p in frames if t == P.T_EVENT]


def test_main_runs_the_tasks_until_the_hal_quits_and_feeds_the_watchdog():
    hal = FakeHal(ticks=400, levels=0b10)
    cfg = _load(two())
    asyncio.run(app.main(hal, cfg, "reset wdt; watchdog: task link stalled"))
    assert hal.armed > 0 and hal.fed == 400 and hal.t == 4000
    assert _heads(hal)[:3] == ["ff", "rr", "rG"], hal.heads  # flash, all-red, the called phase
    frames = G.Decoder().feed(hal.sent)
    assert _events(hal)[:2] == ["boot two", "reset wdt; watchdog: task link stalled"]
    assert any(t == P.T_STATE for t, _, _ in frames)
    assert any(t == P.T_HEARTBEAT for t, _, _ in frames)


def test_a_frozen_task_stops_the_feeding_and_drives_the_heads_to_flash():
    d = tmpdir("app")
    try:
        hal = FakeHal(ticks=600, levels=0b01, flash_dir=d)
        hal.frozen = 2  # the link task
        asyncio.run(app.main(hal, _load(two())))
        # fed until the link task's last beat was 1000 ms old, never after
        assert 95 <= hal.fed <= 102, hal.fed
        assert hal.t == 6000 and _heads(hal)[-1] == "ff", hal.heads
        with open(d + "/crash.txt") as f:
            assert f.read() == "watchdog: task link stalled"
    finally:
        rmtree(d)


def test_a_monitor_fault_is_latched_on_flash_so_a_reset_cannot_clear_it():
    from firmware import monitor

    d = tmpdir("app")
    check = monitor.Monitor.check

    def faulty(self, now_ms, signals):  # the monitor sees a conflict at 2 s
        if now_ms >= 2000 and not self.fault_code:
            return self._fault(1, "conflict: test")
        return check(self, now_ms, signals)

    monitor.Monitor.check = faulty
    try:
        hal = FakeHal(ticks=400, flash_dir=d)
        asyncio.run(app.main(hal, _load(two())))
        assert _heads(hal)[-1] == "ff", hal.heads
        with open(d + "/fault") as f:
            assert f.read() == "conflict: test"
    finally:
        monitor.Monitor.check = check
        rmtree(d)


def test_a_task_that_raises_ends_main_with_its_exception():
    hal = FakeHal(ticks=400)
    hal.fail_after = 50
    e = raises(ZeroDivisionError, asyncio.run, app.main(hal, _load(two())))
    assert "detector input broke" in str(e)
    assert hal.t < 1000


def test_run_on_a_crash_flashes_records_and_resets_then_the_next_boot_reports_it():
    from firmware import boot, storage

    d = tmpdir("app")
    saved = boot.make_hal
    try:
        storage.save(d, two())
        hal = FakeHal(ticks=400, flash_dir=d)
        hal.fail_after = 30
        boot.make_hal = lambda: hal
        sys.modules["firmware.boot"] = boot  # app.run unloads it; the test keeps its stand-in
        raises(Reset, app.run)
        assert hal.resets == 1 and _heads(hal)[-1] == "ff"
        with open(d + "/crash.txt") as f:
            record = f.read()
        assert record.startswith("crash ZeroDivisionError: detector input broke; at "), record
        assert "read_detectors" in record, record  # the innermost frame first

        hal = FakeHal(ticks=50, flash_dir=d)
        hal.cause = "soft"
        boot.make_hal = lambda: hal
        sys.modules["firmware.boot"] = boot
        app.run()  # quits after 50 ticks
        reported = _events(hal)[1]  # cut to fit a frame
        assert len(reported) > 100 and ("reset soft; " + record).startswith(reported), reported
        assert "crash.txt" not in os.listdir(d)
    finally:
        boot.make_hal = saved
        rmtree(d)
