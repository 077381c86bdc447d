"""Boot records on flash: the last crash, abnormal resets in a row, and the maintenance flag.

Files in the flash directory (beside the config, see storage.py):

  crash.txt   the last crash or stalled task, at most MAX_RECORD bytes; read and removed at boot
  resets      how many abnormal resets happened in a row, as a decimal
  maint       maintenance flag: the seconds maintenance mode may last, as a decimal
  fault       a latched fault's detail (the monitor's, or "flash by operator <key id>"): every
              boot runs safe mode while it is there and not empty. Empty, it says that the
              reset which follows is meant (an operator's clear-flash, in app.py or
              `clear_latch`; the end of maintenance), and the next boot removes it

`boot` decides what this start-up runs: the app, safe mode (flash, link up, app not started)
after SAFE_AFTER abnormal resets in a row, or maintenance mode (no app, no watchdog) when the
flag or the strap input asks for it. Every file is small and written through a temporary file
and a rename, so a power cut leaves the old or the new content; unreadable content counts as
absent, so a broken file can never keep the controller out of service or stop it from counting.
A note that cannot be written is printed and the controller runs on, but an abnormal boot
whose count cannot be written runs safe mode: a crash loop must not go on uncounted.
"""

try:
    import os
except ImportError:  # older MicroPython ports
    import uos as os  # pyright: ignore[reportMissingImports]

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


CRASH = "crash.txt"
RESETS = "resets"
MAINT = "maint"
FAULT = "fault"  # a latched fault (monitor, operator's flash): outlives resets until cleared
MAX_RECORD = const(240)  # fits an EVENT frame's detail with room for a prefix
SAFE_AFTER = const(3)  # abnormal resets in a row that keep the app from starting
MAX_MAINT_S = const(86400)

RUN = const(0)
SAFE = const(1)
MAINTENANCE = const(2)
MODE_NAMES = ("run", "safe", "maintenance")


def _path(dirpath, name):
    return dirpath.rstrip("/") + "/" + name


def _write(dirpath, name, data):
    """True once data is the file's content; False (printed) when flash refused it."""
    try:
        tmp = _path(dirpath, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, _path(dirpath, name))
        return True
    except Exception as e:  # OSError, or MemoryError on the crash path
        print("cannot write", name, e)
        return False


def _read(dirpath, name, limit):
    try:
        with open(_path(dirpath, name), "rb") as f:
            return f.read(limit)
    except OSError:
        return None


def _remove(dirpath, name):
    try:
        os.remove(_path(dirpath, name))
    except OSError:
        pass


def _int(data):
    try:
        return int(data)
    except (TypeError, ValueError):
        return -1


def write_crash(dirpath, text):
    """Keep `text` (truncated to MAX_RECORD bytes, ASCII) as the record the next boot reports."""
    b = text.encode()[:MAX_RECORD]
    _write(dirpath, CRASH, bytes(c if 31 < c < 127 else 63 for c in b))


def take_crash(dirpath):
    """The crash record left by the last run (and forget it), or None."""
    data = _read(dirpath, CRASH, MAX_RECORD)
    if data is None:
        return None
    _remove(dirpath, CRASH)
    return bytes(c if 31 < c < 127 else 63 for c in data).decode()  # a torn write is no crash


def latched_fault(dirpath):
    """The monitor fault an earlier run latched (its detail), or None."""
    data = _read(dirpath, FAULT, MAX_RECORD)
    if not data:  # none, or emptied by an operator's clear-flash (app.py)
        return None
    return bytes(c if 31 < c < 127 else 63 for c in data).decode()


def clear_latch(dirpath, floor):
    """An operator's clear-flash (safe mode): no latched fault (empty: the reset that follows
    is meant), no abnormal resets, and the replay floor at the clear-flash's ts (as app.py
    writes it), so it cannot be replayed."""
    _write(dirpath, FAULT, b"")
    set_resets(dirpath, 0)
    _write(dirpath, "floor", b"%d %d" % (floor, floor))


def resets(dirpath):
    """Abnormal resets in a row so far (0 when the file is missing or unreadable)."""
    n = _int(_read(dirpath, RESETS, 12))
    return n if n > 0 else 0


def set_resets(dirpath, n):
    return _write(dirpath, RESETS, b"%d" % n)


def maintenance_s(dirpath):
    """Seconds of maintenance mode the flag asks for, or 0. A bad flag is removed and ignored:
    only a flag that says what it wants can keep the app from starting."""
    data = _read(dirpath, MAINT, 12)
    if data is None:
        return 0
    s = _int(data.strip())
    if s <= 0 or s > MAX_MAINT_S:
        _remove(dirpath, MAINT)
        return 0
    return s


def end_maintenance(dirpath):
    _remove(dirpath, MAINT)
    _write(dirpath, FAULT, b"")  # the reset that follows is meant


def steady(dirpath):
    """The app has run steadily: a run of abnormal resets is over."""
    if resets(dirpath):
        set_resets(dirpath, 0)


def describe(e):
    """One line for a crash record: the error, then the innermost frames first."""
    import io
    import sys

    buf = io.StringIO()
    print_exception = getattr(sys, "print_exception", None)
    if print_exception is not None:  # MicroPython
        print_exception(e, buf)
    else:
        import traceback  # pyright: ignore[reportMissingImports]  (CPython, for the tests)

        traceback.print_exception(type(e), e, e.__traceback__, file=buf)
    text = buf.getvalue()  # pyright: ignore[reportAttributeAccessIssue]  (MicroPython has it)
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    frames = [ln for ln in lines if ln.startswith("File ")]
    frames.reverse()
    return "%s: %s; at %s" % (type(e).__name__, e, " < ".join(frames))


def record(dirpath, e):
    """Keep a record of the unhandled exception e for the next boot (and print it)."""
    text = "crash " + describe(e)
    print(text)
    write_crash(dirpath, text)


def boot(dirpath, cause, strap=False):
    """(mode, detail, maintenance seconds) for this start-up; updates the files.

    `cause` is the HAL's reset cause ("power", "soft" or "wdt"). A boot is abnormal when the
    last run left a crash record, or the reset was not a power-on and nobody meant it: the
    watchdog's, or one the crash path made without managing to write its record (a flash
    error, or no memory). A power-on without a record is normal (power cuts are no crash
    loop), and so is the reset an empty `fault` announced. A normal boot keeps the count (it
    is cleared once the app has run steadily, or by maintenance mode).
    """
    record = take_crash(dirpath)
    fault = _read(dirpath, FAULT, MAX_RECORD)
    if fault == b"":  # a clear-flash or the end of maintenance: this reset was meant, once
        _remove(dirpath, FAULT)
    elif cause != "power" and cause != "wdt" and record is None:
        record = "no crash record"
    if strap or maintenance_s(dirpath):
        set_resets(dirpath, 0)  # a technician is here: the next normal boot tries the app
        _remove(dirpath, FAULT)  # and has seen to the latched fault
        why = "strap" if strap else "flag"
        return MAINTENANCE, "maintenance (" + why + ")", 0 if strap else maintenance_s(dirpath)
    n = resets(dirpath)
    detail = "reset " + cause
    if record is not None:
        detail += "; " + record
    counted = True
    if record is not None or cause == "wdt":
        n += 1
        counted = set_resets(dirpath, n)
    fault = latched_fault(dirpath)
    if fault is not None:  # a reset never clears a fault flash (a technician does)
        return SAFE, "safe mode: latched fault: %s; %s" % (fault, detail), 0
    if not counted:  # an abnormal reset left uncounted could be one of an endless loop
        return SAFE, "safe mode: abnormal reset not counted: flash not writable; " + detail, 0
    if n >= SAFE_AFTER:
        return SAFE, "safe mode: %d abnormal resets in a row; %s" % (n, detail), 0
    return RUN, detail, 0
