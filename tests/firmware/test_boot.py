# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""Whole boots through app.run: what crashlog.boot decides, seen from the heads and the link.

A bug that strikes at every start crashes the app boot after boot; when the crash path cannot
write its record (here `crash.txt` is a directory: every write of it fails, as a flash error
would), each reset still counts and the fourth boot runs safe mode. Power cuts never count."""

import os

from configs import two
from mpcompat import rmtree, tmpdir
from test_operator_flash import BootHal, _answers, _boot

from firmware import crashlog, storage


def test_a_crash_loop_without_a_crash_record_still_ends_in_safe_mode():
    d = tmpdir("boot")
    os.mkdir(d + "/crash.txt")  # the crash record cannot be written
    try:
        storage.save(d, two())
        for cause in ("power", "soft", "soft"):
            hal = BootHal(400, d, cause=cause)
            hal.fail_after = 30  # the app crashes 300 ms after every start
            assert _boot(hal) and hal.resets == 1, cause  # flashed, no record, reset
            assert hal.shown[-1] == "ff" and hal.reads == 30, hal.shown
        assert "reset soft; no crash record" in _answers(hal)[1], _answers(hal)
        assert crashlog.resets(d) == 2

        hal = BootHal(400, d, cause="soft")
        hal.fail_after = 30
        assert not _boot(hal)  # safe mode: the app never starts, nothing crashes
        assert hal.reads == 0 and hal.shown == ["ff"] and hal.armed, hal.shown
        events = _answers(hal)[1]
        assert events[:1] == [
            "safe mode: 3 abnormal resets in a row; reset soft; no crash record"
        ], events
    finally:
        os.rmdir(d + "/crash.txt")
        rmtree(d)


def test_power_cuts_in_a_row_are_no_crash_loop():
    d = tmpdir("boot")
    try:
        storage.save(d, two())
        crashlog.set_resets(d, 2)  # two crashes just before: one more would be the third
        for _ in range(4):
            hal = BootHal(100, d)  # cut after a second of start-up flash
            assert not _boot(hal)
            assert hal.reads > 0, _answers(hal)  # the app ran
            assert not [e for e in _answers(hal)[1] if e.startswith("safe mode")]
        assert crashlog.resets(d) == 2
    finally:
        rmtree(d)
