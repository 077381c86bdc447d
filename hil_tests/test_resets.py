"""Surviving the field on the rig: the real firmware on the real interpreter, stepped clock.

A frozen task stops the watchdog's feeding (heads to flash, then the watchdog resets the
controller); an unhandled exception flashes, leaves a record and resets; the next boot reports
it to the gateway; three abnormal resets in a row keep the controller in safe mode, even when
the crash record cannot be written, and power cuts never count; a config
that fails its checksum is never used; maintenance mode starts without the app. The rig's own
oracle checks every change of the heads, across the resets.
"""

import time

import pytest

from edge.factories import cross
from hil_tests.rig.emulator import EmulatedController
from hil_tests.rig.wiretap import WireTap


def _explain(rig, tap=None):
    return (
        f"violations: {[str(v) for v in rig.oracle.violations[:5]]}\n"
        f"resets: {rig.resets}, exit codes: {rig.exit_codes}\n"
        f"last changes: {rig.changes[-8:]}\n"
        f"events: {tap.events()[-8:] if tap else None}\n"
        f"firmware log {rig.log_path}:\n{rig.log_tail()}"
    )


def _wait_for(fn, timeout=10.0):
    """Wait (real time) until fn() is true: the serial line runs at its baud rate."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if fn():
            return True
        time.sleep(0.05)
    return bool(fn())


def _startups(changes, n):
    """Start of each start-up run (flash, all-red, first green) in the list of changes."""
    flash, red = "f" * n, "r" * n
    return [
        i
        for i in range(len(changes) - 2)
        if changes[i][1] == flash and changes[i + 1][1] == red and "G" in changes[i + 2][1]
    ]


def _restarts_safely(changes, t_reset, n):
    """At t_reset the heads flash, and the next changes are all-red then a first green."""
    before = [s for t, s in changes if t <= t_reset]
    after = [s for t, s in changes if t > t_reset]
    return before[-1] == "f" * n and after[:1] == ["r" * n] and "G" in after[1]


@pytest.fixture
def rig(tmp_path):
    r = EmulatedController(cross(), clock="stepped", workdir=tmp_path)
    yield r
    r.stop()


def test_a_frozen_task_flashes_the_heads_and_the_watchdog_resets_the_controller(rig, rig_kind):
    n = len(rig.ix.groups)
    rig.start()
    tap = WireTap(rig.port)
    try:
        rig.set_detectors(0b1111)
        rig.advance(30_000)
        assert rig.resets == [] and "G" in rig.signals, _explain(rig)
        rig.freeze("link")
        rig.advance(31_500)  # a heartbeat is 1 s late: the supervisor stops feeding
        assert rig.signals == "f" * n, _explain(rig)
        assert rig.resets == [], "the watchdog must not have fired yet\n" + _explain(rig)
        rig.advance(60_000)
        assert [cause for _, cause in rig.resets] == ["wdt"], _explain(rig)
        assert rig.exit_codes == [3]
        t_reset = rig.resets[0][0]
        assert 31.0 + 4.0 <= t_reset <= 31.5 + 4.0 + 0.1, _explain(rig)  # the 4 s watchdog
        assert _restarts_safely(rig.changes, t_reset, n), _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
        assert _wait_for(
            lambda: ("boot", "reset wdt; watchdog: task link stalled") in tap.events()
        ), _explain(rig, tap)
    finally:
        tap.close()


def test_a_crash_resets_and_three_in_a_row_mean_safe_mode(rig, rig_kind):
    n = len(rig.ix.groups)
    rig.start()
    tap = WireTap(rig.port)
    try:
        rig.advance(20_000)
        rig.crash()
        rig.advance(30_000)
        assert [cause for _, cause in rig.resets] == ["soft"], _explain(rig)
        assert _wait_for(
            lambda: any(
                e == "boot" and d.startswith("reset soft; crash RuntimeError: crash injected")
                for e, d in tap.events()
            )
        ), _explain(rig, tap)
        assert len(_startups(rig.changes, n)) == 2, _explain(rig)

        rig.crash_every_boot = True  # a bug that strikes at once, every time
        rig.crash()
        rig.advance(60_000)
        assert [cause for _, cause in rig.resets] == ["soft"] * 3, _explain(rig)
        # the third crash in a row: the controller stays in flash, link up, app not started
        assert rig.alive and rig.signals == "f" * n, _explain(rig)
        assert _wait_for(
            lambda: any(
                e == "fault" and d.startswith("safe mode: 3 abnormal resets in a row")
                for e, d in tap.events()
            )
        ), _explain(rig, tap)
        assert _wait_for(lambda: tap.modes() and tap.modes()[-1] == 3), _explain(rig, tap)
        rig.advance(90_000)
        assert len(rig.resets) == 3 and rig.signals == "f" * n, _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
    finally:
        tap.close()


def test_a_crash_loop_that_cannot_write_its_record_still_ends_in_safe_mode(rig, rig_kind):
    # crash.txt is a directory on the controller's flash: the crash path's write of the record
    # fails (as a flash error or a full heap makes it fail) and its reset reads as a plain soft
    # reset; each one must count all the same
    n = len(rig.ix.groups)
    rig.provision()
    (rig.flash_dir / "crash.txt").mkdir()
    rig.start()
    tap = WireTap(rig.port)
    try:
        for cut in range(3):  # power cuts on the way are no crash loop
            rig.advance(15_000 + 15_000 * cut)
            rig.power_cut()
        rig.advance(60_000)
        assert "G" in rig.signals and rig.oracle.violations == [], _explain(rig)
        rig.crash_every_boot = True  # a bug that strikes at once, every time
        rig.crash()
        rig.advance(120_000)
        causes = [cause for _, cause in rig.resets]
        assert causes == ["power"] * 3 + ["soft"] * 3, _explain(rig)
        assert rig.alive and rig.signals == "f" * n, _explain(rig)
        assert _wait_for(
            lambda: any(
                e == "fault"
                and d == "safe mode: 3 abnormal resets in a row; reset soft; no crash record"
                for e, d in tap.events()
            )
        ), _explain(rig, tap)
        rig.advance(150_000)
        assert len(rig.resets) == 6 and rig.signals == "f" * n, _explain(rig)
        assert rig.oracle.violations == [], _explain(rig)
    finally:
        tap.close()


def test_a_config_that_fails_its_checksum_is_never_used(rig, rig_kind):
    n = len(rig.ix.groups)
    old = rig.ix.to_compact()
    new = dict(old, startup_flash=old["startup_flash"] + 2000)
    rig.provision(old)
    rig.provision(new)  # config.json = new, config.lkg = old
    current = rig.flash_dir / "config.json"
    data = bytearray(current.read_bytes())
    data[-5] ^= 0x01  # one bit flipped in the JSON body: the SHA-256 no longer matches
    current.write_bytes(bytes(data))
    rig.start()
    tap = WireTap(rig.port)
    try:
        rig.advance(15_000)
        # the last known good config ran: its start-up flash, not the broken file's
        assert abs(rig.changes[1][0] - old["startup_flash"] / 1000) < 0.02, _explain(rig)
        assert _wait_for(lambda: ("boot", "reset power; config from config.lkg") in tap.events()), (
            _explain(rig, tap)
        )

        (rig.flash_dir / "config.lkg").write_bytes(b"GWCFG 1 2 00\n{}")
        rig.power_cut()
        rig.advance(30_000)
        assert rig.signals == "f" * n and rig.alive, _explain(rig)
        assert _wait_for(
            lambda: any(d.startswith("safe mode: no usable config") for _, d in tap.events())
        ), _explain(rig, tap)
        assert rig.oracle.violations == [], _explain(rig)
    finally:
        tap.close()


def test_maintenance_mode_boots_without_the_app_and_without_the_watchdog(tmp_path, rig_kind):
    ix = cross()
    n = len(ix.groups)
    rig = EmulatedController(ix, clock="stepped", workdir=tmp_path, strap=True)
    rig.start()
    tap = WireTap(rig.port)
    try:
        rig.freeze("control")  # nothing to freeze, no watchdog: it must keep running
        rig.advance(20_000)
        assert rig.alive and rig.resets == [] and rig.signals == "f" * n, _explain(rig)
        assert _wait_for(lambda: ("mode", "maintenance (strap)") in tap.events()), _explain(
            rig, tap
        )
    finally:
        tap.close()
        rig.stop()

    # the flag file: maintenance for its 5 s, then a reset into a normal start-up
    rig = EmulatedController(ix, clock="stepped", workdir=tmp_path / "b")
    rig.provision()
    (rig.flash_dir / "maint").write_text("5\n")
    rig.start()
    try:
        rig.advance(30_000)
        assert [cause for _, cause in rig.resets] == ["soft"], _explain(rig)
        assert 5.0 <= rig.resets[0][0] <= 5.1, _explain(rig)
        assert len(_startups(rig.changes, n)) == 1 and "G" in rig.signals, _explain(rig)
        assert not (rig.flash_dir / "maint").exists()
        assert rig.oracle.violations == [], _explain(rig)
    finally:
        rig.stop()
