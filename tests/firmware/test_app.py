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
        assert cfg.yellow[1] + cfg.all_red[1] == 4000 and cfg.groups == ["ns", "ew"]
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


class DemandHal(FakeHal):
    """FakeHal under load: detector levels that change every tick (pseudo-random), and from
    the gateway a heartbeat every second but for 5 s in every 15 (the link goes down and comes
    back) and a plain request of a random code and phase every 70 ms. From `fault_t` on it
    counts what is sent: ACKs by (result, reason) and STATE frames (mode, phase)."""

    def __init__(self, ticks, flash_dir, seed):
        FakeHal.__init__(self, ticks, flash_dir=flash_dir)
        self.x = seed
        self.seq = 0
        self.fault_t = -1
        self.dec = G.Decoder()
        self.acks = {}
        self.states = {}

    def uart_write(self, data, n=-1):
        frames = self.dec.feed(bytes(data[:n] if n >= 0 else data))
        if self.fault_t < 0:
            return
        for t, _, p in frames:
            if t == G.T_ACK:
                k = G.unpack_ack(p)[1:]
                self.acks[k] = self.acks.get(k, 0) + 1
            elif t == G.T_STATE:
                k = (p[0], p[1])
                self.states[k] = self.states.get(k, 0) + 1

    def _rand(self):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return self.x >> 8

    def read_detectors(self):
        return self._rand() & 0x1FF

    def uart_readinto(self, buf):
        t = self.t
        data = b""
        if t % 1000 == 0 and (t // 5000) % 3 != 2:
            data = G.encode(G.T_HEARTBEAT, t // 1000, G.pack_heartbeat(t))
        if t % 70 == 0:
            r = self._rand()
            self.seq += 1
            data += G.encode(G.T_COMMAND, self.seq, bytes((1 + r % 6, (r >> 3) % 9)))
        buf[: len(data)] = data
        return len(data)


def _run_into_fault(d, fault_ms, seed):
    """app.main on config d under DemandHal for 30 s, the monitor seeing a conflict at its first
    check from fault_ms on (before, the real monitor). Returns (hal, the controller, the
    monitor's checks from the fault on, the monitor's faults)."""
    from firmware import controller, monitor

    check = monitor.Monitor.check
    step = controller.Controller.step
    seen = [None, 0, 0]  # the controller, checks since the fault, faults
    t = tmpdir("app")
    hal = DemandHal(3000, t, seed)

    def faulty(self, now_ms, signals):
        if now_ms >= fault_ms:
            seen[1] += 1
            if not self.fault_code:
                seen[2] += 1
                hal.fault_t = now_ms
                return self._fault(1, "conflict: test")
        return check(self, now_ms, signals)

    def recorded(self, now_ms, levels, rx=None):
        seen[0] = self
        return step(self, now_ms, levels, rx)

    monitor.Monitor.check = faulty
    controller.Controller.step = recorded
    try:
        asyncio.run(app.main(hal, _load(d)))
        return hal, seen[0], seen[1], seen[2]
    finally:
        monitor.Monitor.check = check
        controller.Controller.step = step
        rmtree(t)


def test_a_fault_drops_the_phase_running_code_and_fault_flash_runs_on_without_it():
    # free order (two) and dual ring, faults in start-up and in service, requests of every
    # code and detector demand all the while: nothing leaves flash, the monitor keeps checking
    from test_rings import nema

    from firmware.sequencer import Sequencer

    for d, fault_ms, seed in ((two(), 1500, 1), (two(), 12340, 2), (nema(True), 15000, 3)):
        hal, ctl, checks, faults = _run_into_fault(d, fault_ms, seed)
        ft = hal.fault_t
        n = ctl.cfg.n_groups
        assert faults == 1 and fault_ms <= ft < fault_ms + 1000, (faults, ft)
        assert fault_ms < 3000 or "G" in "".join(s for t, s in hal.heads if t < ft), hal.heads
        heads = [s for t, s in hal.heads if t >= ft]
        assert heads == ["f" * n], hal.heads  # once, then never another change
        assert type(ctl.seq) is Sequencer and ctl.seq.state == 5, type(ctl.seq)
        assert ctl.seq.fault_reason == "conflict: test" and ctl.signals is ctl.seq.signals
        assert bytes(ctl.signals) == b"f" * n
        assert "firmware.free" not in sys.modules and "firmware.rings" not in sys.modules
        assert "free" not in dir(firmware) and "rings" not in dir(firmware)
        after = (30000 - ft) // 1000  # whole seconds of fault flash
        assert checks >= after, (checks, after)  # the monitor checks once a second at least
        assert list(hal.states) == [(G.MODE_FLASH, 255)] and hal.states[(3, 255)] >= after
        assert sum(hal.acks.values()) > 10 * after, hal.acks
        assert all(r == G.ACK_REFUSED for r, _ in hal.acks), hal.acks
        assert ("not in remote mode" in [w for _, w in hal.acks]) and hal.fed == 3000
    # a new controller after a fault loads its half again
    ctl = __import__("firmware.controller", None, None, ["Controller"]).Controller
    assert type(ctl(_load(two()), 0).seq).__name__ == "FreeSequencer"
