"""Wiring: pick the HAL, decide what this boot runs, load the config from flash, run the tasks.

Boot (crashlog.boot): the app; safe mode (flash, link up, app not started) after three abnormal
resets in a row, after a latched fault (a monitor fault or an operator's flash, written on flash
when it happens, cleared by maintenance mode or an operator's clear-flash) or without a usable
config; maintenance mode (no app, no watchdog) when the
strap input or the flag file asks for it.

The app is four asyncio tasks. Three are critical and beat the supervisor once per tick:
detector sampling (reads the inputs), control (debounce, sequencer, monitor, heads) and link
(UART in and out). The fourth feeds the watchdog, and only while all three beat: a frozen task
drives the heads to flash, leaves a record and lets the watchdog reset the controller. An
unhandled exception anywhere does the same at once (`run`). The control path allocates
nothing per tick (tests/firmware/test_budget.py).

Start-up (boot.py) runs in two stages so the heap peak is the larger of them, not their sum:
the boot code, the config validator (`firmware.config`), `storage` and `crashlog` are imported,
used once and unloaded before the control code loads. On MicroPython a module's bytecode lives
in the heap, and dropping the last reference frees it.
"""

import asyncio
import gc
import sys

from . import ticks

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_DETECTORS = const(0)
_CONTROL = const(1)
_LINK = const(2)
_SUPERVISOR = const(3)
TASKS = b"detectors control link"  # the critical ones' names, by index
_WATCHDOG_MS = const(4000)  # under the RP2040's 8.3 s limit
_BEAT_LIMIT_MS = const(1000)  # a critical task silent this long is frozen
_STEADY_MS = const(300000)  # running this long ends a run of abnormal resets
_UART_BYTES = const(128)  # more than 115,200 baud brings in a tick; the rest waits in the UART


def unload(name):
    """Forget the start-up-only module firmware.<name> so the GC can free its code.

    A later import loads it afresh; objects built from it keep working.
    """
    sys.modules.pop("firmware." + name, None)
    package = sys.modules.get("firmware")
    if package is not None and name in dir(package):
        delattr(package, name)


# The tasks share `sh` = [latest detector levels, a task's exception].


async def _task(i, hal, ctl, beats, sh):
    # Critical task i (_DETECTORS, _CONTROL or _LINK), one turn a tick, each turn a beat. One
    # body for the three: on MicroPython every function's code takes heap. A task's exception
    # goes to the supervisor loop, which raises it in the main task (the crash path); left
    # alone, asyncio would only print it and the controller would carry on without the task.
    try:
        buf = bytearray(_UART_BYTES) if i == _LINK else None
        while not hal.quit:
            now = hal.now_ms()
            if i == _DETECTORS:
                sh[0] = hal.read_detectors()
            elif i == _CONTROL:
                if ctl.step(now, sh[0]):
                    hal.write_heads(now, ctl.signals)
            else:
                ctl.receive(now, buf, hal.uart_readinto(buf))
                if ctl.out_n:
                    hal.uart_write(ctl.out, ctl.out_n)
                    ctl.out_n = 0
            beats[i] = now
            await hal.pause(i)
    except Exception as e:
        sh[1] = e


async def main(hal, cfg, boot_detail=None, keys=None, boot=0, floor=0):
    """Run the controller's tasks until the HAL asks to quit; raise what a task raised. `keys`
    and `boot` (the boot id) as Controller takes them; `floor` is the replay floor on flash
    (boot.load_floor), kept up to date there as operator commands are accepted."""
    # One module at a time, leaves first, collecting in between: loading a module needs room
    # beyond what it keeps, and nested imports would need it for several at once. So the
    # modules only some configs use are loaded here too, not where they are first needed:
    # rings.py for a config with rings, diagnostics.py for detector diagnostics; auth.py below.
    names = ["protocol", "link", "monitor", "sequencer", "detectors", "build"]  # controller: build
    names.insert(4, "rings" if cfg.rings is not None else "free")  # the sequencer's half
    if cfg.det_diag:
        names.insert(0, "diagnostics")
    for name in names:
        gc.collect()
        __import__("firmware." + name)
    names = None
    # build.py (start-up only, loaded last) builds the controller, then goes: its code is heap
    # the running controller needs. Its import's garbage is collected first, so the
    # controller's long-lived buffers fill its holes instead of splitting the free space the
    # ticks need.
    gc.collect()
    from .build import start

    ctl, beats = start(hal, cfg, boot_detail, keys, boot, floor)
    start = None
    unload("build")  # then collected: auth.py and the tasks below take its place
    sh = [0, None]
    if keys is not None:
        # signed commands: auth.py, loaded now and resident (loaded for each command it would
        # need about 6 KB free at once, which a 64 KiB heap does not have); last, as loading it
        # needs room beyond its code, which build.py's code had
        gc.collect()
        from . import auth

        ctl._auth = auth
    now = hal.now_ms()
    rn = 0  # ctl.ring_next when the floor on flash was last brought up to date
    flash = hal.flash_dir
    gc.collect()
    hal.arm_watchdog(_WATCHDOG_MS)
    clock = getattr(hal, "clock", None)  # the emulator's virtual clock runs as a task
    if clock is not None:
        asyncio.create_task(clock())
    for i in (_DETECTORS, _CONTROL, _LINK):
        asyncio.create_task(_task(i, hal, ctl, beats, sh))
    started = now
    steady = False
    tripped = False
    latched = False
    while not hal.quit:
        if sh[1] is not None:
            raise sh[1]
        now = hal.now_ms()
        stalled = ticks.stalled(beats, now, _BEAT_LIMIT_MS) if not tripped else -1
        if stalled < 0 and not tripped:
            hal.feed_watchdog()
        elif not tripped:
            # no more feeding: the watchdog resets us; the heads go to flash now, not then
            tripped = True
            hal.all_flash(cfg.n_groups)
            _note(flash, "crash.txt", b"watchdog: task " + TASKS.split()[stalled] + b" stalled")
        if not latched and ctl.seq.fault_reason:  # a monitor fault or an operator's flash
            latched = True  # on flash too: a reset must not put the heads back in service
            _note(flash, "fault", ctl.seq.fault_reason.encode()[:200])
            # Fault flash is terminal until a reset (a clear-flash resets), so the half of the
            # sequencer that runs phases (free.py or rings.py) is dead now: a plain Sequencer
            # with the same attributes runs fault flash alike (its step latches demand and
            # changes nothing, its request refuses "fault flash"), and that half's code is
            # freed for the checks of the signed commands an operator sends in flash.
            s = ctl.seq
            q = object.__new__(sys.modules["firmware.sequencer"].Sequencer)
            for k in s.__dict__:
                setattr(q, k, getattr(s, k))
            ctl.seq = q
            s = q = None
            unload("free")
            unload("rings")
            gc.collect()
        if ctl.ring_next != rn:
            # an operator command was accepted (at most two reach a tick, the ring holds 8):
            # the largest ts accepted (ring: nonce CRCs, then their ts) is the next boot's floor
            rn = ctl.ring_next
            r = ctl.ring  # made by auth.py with the first one: not None now
            floor = max(ctl.floor, max(r[len(r) >> 1 :]))  # pyright: ignore[reportOptionalSubscript, reportArgumentType]
            _note(flash, "floor", b"%d %d" % (floor, floor))
        if ctl.cleared:  # an operator's clear-flash: the link task has sent its ACK
            if ctl.cleared == 1:  # (the floor above has its ts)
                ctl.cleared = 2  # reset on the next turn: the UART has had a tick to send it
                _note(flash, "fault", b"")
                _note(flash, "resets", b"0")
            else:
                hal.reset()  # start-up: flash -> all-red -> first phase
        if not steady and ticks.diff(now, started) >= _STEADY_MS:
            steady = True
            _note(flash, "resets", b"0")  # a run of abnormal resets is over
        await hal.pause(_SUPERVISOR)


def _note(flash, name, data):
    # crashlog's files and the replay floor, written without loading crashlog: importing a module
    # at run time takes heap the running controller does not have (its names alone can need a
    # new qstr pool). Through a temp file and a rename: a power cut leaves old or new content.
    import os

    try:
        p = flash + "/" + name
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    except Exception as e:  # OSError, or MemoryError: the controller runs on without the note
        print("cannot write", name, e)


def run():
    from . import boot

    hal, cfg, mode, detail, maint_s, keys, floor = boot.start()
    boot_id = boot.boot_id()
    del boot
    unload("boot")
    gc.collect()
    n = cfg.n_groups if cfg is not None else hal.heads
    try:
        if cfg is not None:
            detail = None if detail == "reset power" else detail
            asyncio.run(main(hal, cfg, detail, keys, boot_id, floor))
        else:
            from .safemode import run as safe

            asyncio.run(safe(hal, mode, detail, maint_s))
    except Exception as e:
        hal.all_flash(n)  # heads first, before anything that could fail
        pe = getattr(sys, "print_exception", None)  # the log gets it even when the heap is full
        if pe is not None:
            pe(e)
        # drop the dead tasks (and the controller they hold) so the record has room to be made
        asyncio.new_event_loop()
        gc.collect()
        try:  # first a record that needs next to no memory (crashlog.CRASH), then the details
            with open(hal.flash_dir + "/crash.txt", "wb") as f:
                f.write(("crash %s: %s" % (type(e).__name__, str(e)[:120])).encode())
            from . import crashlog

            crashlog.record(hal.flash_dir, e)
        except Exception:  # e.g. still out of memory: the reset matters more than the record
            pass
        hal.reset()
    except BaseException:
        hal.all_flash(n)  # heads to flash before anything else
        raise
