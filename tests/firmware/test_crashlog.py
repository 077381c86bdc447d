# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import os

from mpcompat import rmtree, tmpdir, write_bytes

from firmware import crashlog as C


def test_a_crash_record_is_bounded_ascii_and_read_once():
    d = tmpdir("crashlog")
    try:
        assert C.take_crash(d) is None
        C.write_crash(d, "crash ValueError: caf\u00e9 " + "x" * 1000)
        record = C.take_crash(d)
        assert len(record) == C.MAX_RECORD
        assert record.startswith("crash ValueError: caf?? xxx"), record
        assert C.take_crash(d) is None
        assert os.listdir(d) == []
    finally:
        rmtree(d)


def test_a_normal_boot_runs_the_app_and_keeps_the_count():
    d = tmpdir("crashlog")
    try:
        assert C.boot(d, "power") == (C.RUN, "reset power", 0)
        assert C.resets(d) == 0
        C.set_resets(d, 2)
        for _ in range(3):  # three power cuts in a row are no crash loop
            assert C.boot(d, "power") == (C.RUN, "reset power", 0)
        assert C.resets(d) == 2
    finally:
        rmtree(d)


def test_a_reset_nobody_meant_counts_without_a_record():
    # the crash path could not write its record (flash error, no memory) and reset: each such
    # boot is abnormal, so a bug that strikes at every start reaches safe mode all the same
    d = tmpdir("crashlog")
    try:
        assert C.boot(d, "soft") == (C.RUN, "reset soft; no crash record", 0)
        assert C.boot(d, "soft")[0] == C.RUN and C.resets(d) == 2
        mode, detail, _ = C.boot(d, "soft")
        assert mode == C.SAFE, detail
        assert detail == "safe mode: 3 abnormal resets in a row; reset soft; no crash record"
        assert C.boot(d, "power")[0] == C.SAFE  # a power cut does not end it either
        C.steady(d)
        C.write_crash(d, "crash KeyError: 1")  # a crash then a power cut: still abnormal
        assert C.boot(d, "power") == (C.RUN, "reset power; crash KeyError: 1", 0)
        assert C.resets(d) == 1
    finally:
        rmtree(d)


def test_a_reset_that_was_meant_is_not_counted_once():
    d = tmpdir("crashlog")
    try:
        C.set_resets(d, 2)
        C.clear_latch(d, 5)  # an operator's clear-flash in safe mode, then its reset
        assert C.boot(d, "soft") == (C.RUN, "reset soft", 0)
        assert C.resets(d) == 0 and C.FAULT not in os.listdir(d)
        C.set_resets(d, 1)
        write_bytes(d + "/" + C.FAULT, b"")  # as app.py leaves it after a clear-flash
        assert C.boot(d, "soft") == (C.RUN, "reset soft", 0) and C.resets(d) == 1
        assert C.boot(d, "soft")[0] == C.RUN and C.resets(d) == 2  # only that one reset
        write_bytes(d + "/" + C.MAINT, b"5")
        assert C.boot(d, "power")[0] == C.MAINTENANCE and C.resets(d) == 0
        C.end_maintenance(d)
        assert C.boot(d, "soft") == (C.RUN, "reset soft", 0) and C.resets(d) == 0
        write_bytes(d + "/" + C.FAULT, b"")
        assert C.boot(d, "wdt") == (C.RUN, "reset wdt", 0) and C.resets(d) == 1  # not that one
        write_bytes(d + "/" + C.FAULT, b"")  # a clear-flash, then a power cut before its reset
        assert C.boot(d, "power")[0] == C.RUN and C.FAULT not in os.listdir(d)
    finally:
        rmtree(d)


def test_an_abnormal_boot_that_cannot_count_runs_safe_mode():
    d = tmpdir("crashlog")
    os.mkdir(d + "/crash.txt")  # the crash record cannot be written (nor read, nor removed)
    os.mkdir(d + "/resets.tmp")  # nor the count: the flash refuses every new note
    try:
        C.write_crash(d, "crash MemoryError: ")  # printed, nothing kept, no exception
        assert C.take_crash(d) is None
        for _ in range(3):  # power-ons need no count: the app runs
            assert C.boot(d, "power") == (C.RUN, "reset power", 0)
        assert C.boot(d, "soft") == (
            C.SAFE,
            "safe mode: abnormal reset not counted: flash not writable; "
            "reset soft; no crash record",
            0,
        )
        assert C.boot(d, "wdt")[0] == C.SAFE
        # maintenance still starts (its own notes are printed, not raised)
        assert C.boot(d, "power", strap=True)[0] == C.MAINTENANCE
    finally:
        os.rmdir(d + "/crash.txt")
        os.rmdir(d + "/resets.tmp")
        rmtree(d)


def test_three_abnormal_resets_in_a_row_mean_safe_mode_until_a_steady_run():
    d = tmpdir("crashlog")
    try:
        C.write_crash(d, "crash ZeroDivisionError: x")
        assert C.boot(d, "soft") == (C.RUN, "reset soft; crash ZeroDivisionError: x", 0)
        assert C.boot(d, "wdt") == (C.RUN, "reset wdt", 0)  # no record: the watchdog says so
        C.write_crash(d, "watchdog: task link stalled")
        mode, detail, _ = C.boot(d, "wdt")
        assert mode == C.SAFE, detail
        assert detail == (
            "safe mode: 3 abnormal resets in a row; reset wdt; watchdog: task link stalled"
        )
        assert C.boot(d, "soft")[0] == C.SAFE  # stays there across resets
        C.steady(d)
        assert C.resets(d) == 0 and C.boot(d, "power")[0] == C.RUN
    finally:
        rmtree(d)


def test_a_broken_count_file_counts_as_zero():
    d = tmpdir("crashlog")
    try:
        write_bytes(d + "/" + C.RESETS, b"\xff\x00garbage")
        assert C.resets(d) == 0
        assert C.boot(d, "wdt")[0] == C.RUN and C.resets(d) == 1
    finally:
        rmtree(d)


def test_maintenance_by_flag_or_strap_and_a_bad_flag_is_ignored():
    d = tmpdir("crashlog")
    try:
        C.set_resets(d, 5)
        assert C.boot(d, "power", strap=True) == (C.MAINTENANCE, "maintenance (strap)", 0)
        assert C.resets(d) == 0  # a technician was here: the next normal boot tries the app
        write_bytes(d + "/" + C.MAINT, b"600\n")
        assert C.boot(d, "power") == (C.MAINTENANCE, "maintenance (flag)", 600)
        C.end_maintenance(d)
        assert C.boot(d, "power")[0] == C.RUN
        for bad in (b"0", b"-5", b"forever", b"999999"):
            write_bytes(d + "/" + C.MAINT, bad)
            assert C.boot(d, "power")[0] == C.RUN, bad
            assert C.MAINT not in os.listdir(d), bad
    finally:
        rmtree(d)


def test_describe_names_the_error_and_the_innermost_function_first():
    def inner():
        raise ValueError("bad value")

    def outer():
        inner()

    try:
        outer()
    except ValueError as e:
        text = C.describe(e)
    assert text.startswith("ValueError: bad value; at "), text
    at = text.split("; at ", 1)[1]
    assert at.index("inner") < at.index("outer"), text


def test_a_latched_fault_keeps_every_later_boot_in_safe_mode_until_a_technician_comes():
    d = tmpdir("crashlog")
    try:
        write_bytes(d + "/fault", b"conflict: n and e green")
        mode, detail, _ = C.boot(d, "power")
        assert mode == C.SAFE, (mode, detail)
        assert detail.startswith("safe mode: latched fault: conflict: n and e green"), detail
        assert C.boot(d, "soft")[0] == C.SAFE  # resets never clear it
        assert C.boot(d, "wdt")[0] == C.SAFE
        assert C.boot(d, "power", strap=True)[0] == C.MAINTENANCE  # the technician's visit
        assert C.latched_fault(d) is None
        assert C.boot(d, "power")[0] == C.RUN
    finally:
        rmtree(d)
