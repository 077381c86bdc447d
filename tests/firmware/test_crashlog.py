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
        assert C.boot(d, "soft")[0] == C.RUN
        assert C.resets(d) == 2
    finally:
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
