# cpython-only
"""firmware.hal_board against a mock `machine` module: no board is attached to this machine.

The mock (`FakeMachine`) stands in for MicroPython's `machine.Pin`, `UART`, `WDT` and `Timer`
with only what `hal_board` uses; it is put into `sys.modules` just long enough to import the
module under test. CPython only: the Unix port's built-in `machine` module would shadow the
mock, and that port has no Pin, UART, WDT or Timer to test against anyway.
"""

import sys
import types

from mpcompat import raises

from firmware import ticks


class FakePin:
    IN = 0
    OUT = 1
    PULL_UP = 2

    def __init__(self, machine, pin_id, mode=-1, pull=-1, value=None):
        self.id = pin_id
        self.mode = mode
        self.pull = pull
        self.level = machine.levels.get(pin_id, 0) if value is None else value
        machine.pins[pin_id] = self

    def value(self, v=None):
        if v is None:
            return self.level
        if self.mode != FakePin.OUT:
            raise AssertionError("pin %r written but not an output" % self.id)
        self.level = 1 if v else 0


class FakeUart:
    def __init__(self, uid, baudrate, tx, rx):
        self.args = (uid, baudrate, tx, rx)
        self.incoming = b""
        self.sent = []
        self.reads = 0

    def any(self):
        return len(self.incoming)

    def readinto(self, buf):
        self.reads += 1
        n = min(len(buf), len(self.incoming))
        buf[:n] = self.incoming[:n]
        self.incoming = self.incoming[n:]
        return n or None  # like MicroPython: None when nothing is waiting

    def write(self, data, n=-1):
        data = bytes(data) if n < 0 else bytes(data[:n])
        self.sent.append(data)
        return len(data)


class FakeWdt:
    def __init__(self, timeout):
        self.timeout = timeout
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class FakeTimer:
    PERIODIC = 1

    # as on the boards: the id only by position, the rest only by keyword (no `hard`: RP2 and
    # older ESP32 builds have none, and both run callbacks soft by default)
    def __init__(self, timer_id, /, *, mode, period, callback):
        self.args = (timer_id, mode, period)
        self.callback = callback

    def fire(self):
        self.callback(self)


class FakeMachine(types.ModuleType):
    """The mock `machine` module; records every Pin, the UART, the WDT and the Timers it hands
    out."""

    def __init__(self):
        super().__init__("machine")
        self.pins = {}
        self.levels = {}  # input levels the board sees when it creates each pin
        self.uart = None
        self.wdt = None
        self.timers = []
        self.timer_error = None  # an exception Timer() raises instead
        self.cause = 1
        self.resets = 0
        machine = self

        class Pin(FakePin):
            def __init__(self, pin_id, mode=-1, pull=-1, value=None):
                super().__init__(machine, pin_id, mode, pull, value)

        def uart(*args, **kwargs):
            machine.uart = FakeUart(*args, **kwargs)
            return machine.uart

        def wdt(timeout):
            machine.wdt = FakeWdt(timeout)
            return machine.wdt

        class Timer(FakeTimer):
            def __init__(self, timer_id, /, **kwargs):
                if machine.timer_error is not None:
                    raise machine.timer_error
                super().__init__(timer_id, **kwargs)
                machine.timers.append(self)

        self.Pin = Pin
        self.UART = uart
        self.WDT = wdt
        self.Timer = Timer
        self.PWRON_RESET = 1
        self.WDT_RESET = 3
        self.SOFT_RESET = 5

    def reset_cause(self):
        return self.cause

    def reset(self):
        self.resets += 1


def _swap_modules(entries):
    """Put `entries` into sys.modules; return what to put back (None = remove)."""
    saved = {name: sys.modules.get(name) for name in entries}
    sys.modules.update(entries)
    return saved


def _restore_modules(saved):
    for name, mod in saved.items():
        if mod is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = mod


class FakeAsyncio(types.ModuleType):
    """MicroPython's asyncio as hal_board uses it: sleep_ms (CPython's asyncio has none)."""

    def __init__(self):
        super().__init__("asyncio")
        self.sleeps = []

        async def sleep_ms(ms):
            self.sleeps.append(ms)

        self.sleep_ms = sleep_ms


def _import_hal_board(machine, asyncio_module=None):
    """A fresh firmware.hal_board bound to `machine`; sys.modules is left as it was."""
    import firmware

    had_attr = hasattr(firmware, "hal_board")
    old_attr = getattr(firmware, "hal_board", None)
    saved = _swap_modules({"machine": machine, "asyncio": asyncio_module or FakeAsyncio()})
    saved["firmware.hal_board"] = sys.modules.pop("firmware.hal_board", None)
    try:
        import firmware.hal_board as hal_board

        return hal_board
    finally:
        _restore_modules(saved)
        if had_attr:
            firmware.hal_board = old_attr
        elif hasattr(firmware, "hal_board"):
            del firmware.hal_board


PINMAP = {
    "uart": [1, 115200, 4, 5],
    "detectors": [10, 11, 12],
    "heads": [[20, 21, 22], [23, 24, 25], [26, 27, 28], [29, 30, 31], [32, 33, 34]],
}


def _board(pinmap=PINMAP, machine=None):
    machine = machine or FakeMachine()
    hal_board = _import_hal_board(machine)
    return hal_board.Board(pinmap), machine


def _lamps(machine, pinmap=PINMAP):
    """Each head's lamps as an 'RYG' string of 0/1, e.g. '001' = green."""
    return ["".join(str(machine.pins[p].level) for p in lamps) for lamps in pinmap["heads"]]


class _FakeTime(types.ModuleType):
    def __init__(self, now):
        super().__init__("time")
        self.now = now

    def ticks_ms(self):
        return self.now


def _with_time(now, fn, *args):
    """Call fn with a mock `time` module whose ticks_ms() returns `now` (board-side clock)."""
    saved = _swap_modules({"time": _FakeTime(now)})
    try:
        return fn(*args)
    finally:
        _restore_modules(saved)


def test_constructs_pins_and_uart_from_the_pin_map_and_no_watchdog_until_armed():
    board, machine = _board()
    assert machine.uart.args == (1, 115200, 4, 5)
    for p in PINMAP["detectors"]:
        assert (machine.pins[p].mode, machine.pins[p].pull) == (FakePin.IN, FakePin.PULL_UP)
    for lamps in PINMAP["heads"]:
        for p in lamps:
            assert (machine.pins[p].mode, machine.pins[p].level) == (FakePin.OUT, 0)
    assert machine.wdt is None  # maintenance mode never arms it
    assert board.heads == 5 and board.strapped is False and board.cause == "power"


def test_reset_cause_and_strap_from_the_board():
    for code, cause in ((1, "power"), (3, "wdt"), (5, "soft")):
        machine = FakeMachine()
        machine.cause = code
        assert _board(machine=machine)[0].cause == cause
    for level, strapped in ((0, True), (1, False)):
        machine = FakeMachine()
        machine.levels[40] = level  # the jumper, read at start-up
        board, _ = _board(dict(PINMAP, strap=40), machine)
        assert board.strapped is strapped


def test_reset_flashes_the_heads_first():
    board, machine = _board()
    board.write_heads(0, bytearray(b"GGyrr"))
    _with_time(700, board.reset)
    assert machine.resets == 1 and _lamps(machine) == ["100"] * 5


def test_each_signal_char_lights_its_lamp():
    board, machine = _board()
    board.write_heads(0, bytearray(b"Ggyro"))
    #                      R Y G
    assert _lamps(machine) == ["001", "001", "010", "100", "000"]
    board.write_heads(0, bytearray(b"ryGgr"))
    assert _lamps(machine) == ["100", "010", "001", "001", "100"]


def test_flash_blinks_red_at_1_hz_over_now_ms():
    board, machine = _board()
    signals = bytearray(b"fffff")
    levels = []
    for now in (0, 499, 500, 999, 1000, 1499, 1500):
        board.write_heads(now, signals)
        heads = _lamps(machine)
        assert len(set(heads)) == 1, heads  # every head blinks in step
        levels.append(heads[0])
    assert levels == ["000", "000", "100", "100", "000", "000", "100"]


def test_flash_keeps_blinking_on_each_tick():
    machine = FakeMachine()
    fake_asyncio = FakeAsyncio()
    board = _import_hal_board(machine, fake_asyncio).Board(PINMAP)
    board.write_heads(0, bytearray(b"frrrr"))

    _with_time(600, _pause, board, 1)  # the control task's pause
    assert _lamps(machine)[:2] == ["100", "100"]
    _with_time(1100, _pause, board, 1)
    assert _lamps(machine)[:2] == ["000", "100"]
    assert fake_asyncio.sleeps == [10, 10]


def test_all_flash_drives_every_head_to_flash():
    for now, red in ((700, "100"), (1200, "000")):  # the lit half of the blink, the dark one
        board, machine = _board()
        board.write_heads(0, bytearray(b"GGyrr"))
        _with_time(now, board.all_flash, 5)
        assert _lamps(machine) == [red] * 5  # no green or yellow is left anywhere


def _pause(board, task):
    coro = board.pause(task)
    raises(StopIteration, coro.send, None)


def test_after_all_flash_a_timer_blinks_the_red_lamps_and_nothing_else_moves_them():
    board, machine = _board()
    board.write_heads(0, bytearray(b"GGyrr"))
    _with_time(700, board.all_flash, 5)
    (timer,) = machine.timers
    assert timer.args == (-1, FakeTimer.PERIODIC, 500)  # a virtual timer, every half period
    seen = [_lamps(machine)[0]]
    for now in (1200, 1700, 2200, 2700):  # the tasks may be stuck: only the timer runs
        _with_time(now, timer.fire)
        heads = _lamps(machine)
        assert len(set(heads)) == 1, heads  # every head blinks in step
        seen.append(heads[0])
        # the control task's pause, a tick's write_heads, another all_flash: no change
        for now2 in (now + 10, now + 260):
            _with_time(now2, _pause, board, 1)
            board.write_heads(now2, bytearray(b"GGrrr"))
            _with_time(now2, board.all_flash, 5)
            assert _lamps(machine) == heads
    assert seen == ["100", "000", "100", "000", "100"]
    assert machine.timers == [timer]  # all_flash again: still the one timer


def test_reset_after_all_flash_starts_no_second_timer():
    board, machine = _board()
    _with_time(700, board.all_flash, 5)
    _with_time(900, board.reset)
    assert len(machine.timers) == 1 and machine.resets == 1


def test_the_flash_timer_is_hardware_timer_0_on_esp32():
    machine = FakeMachine()
    hal_board = _import_hal_board(machine)
    hal_board.sys = types.SimpleNamespace(platform="esp32")  # the module reads sys.platform
    board = hal_board.Board(PINMAP)
    _with_time(700, board.all_flash, 5)
    assert [t.args for t in machine.timers] == [(0, FakeTimer.PERIODIC, 500)]


def test_the_timer_callback_never_raises():
    board, machine = _board()
    _with_time(700, board.all_flash, 5)

    def broken(v=None):
        raise OSError("pin")

    machine.pins[PINMAP["heads"][0][0]].value = broken
    machine.timers[0].fire()  # swallowed: an exception could stop the timer on a board


def test_without_a_timer_the_control_task_keeps_blinking_and_all_flash_tries_again():
    board, machine = _board()
    machine.timer_error = MemoryError()  # e.g. the crash path with a full heap
    _with_time(700, board.all_flash, 5)
    assert machine.timers == [] and _lamps(machine) == ["100"] * 5
    _with_time(1200, _pause, board, 1)
    assert _lamps(machine) == ["000"] * 5
    board.write_heads(1700, bytearray(b"GGrrr"))  # latched all the same
    assert _lamps(machine) == ["000"] * 5
    machine.timer_error = None
    _with_time(1700, board.all_flash, 5)
    assert len(machine.timers) == 1 and _lamps(machine) == ["100"] * 5
    _with_time(2200, _pause, board, 1)  # the timer has the lamps now
    assert _lamps(machine) == ["100"] * 5
    _with_time(2200, machine.timers[0].fire)
    assert _lamps(machine) == ["000"] * 5


def test_detector_bitmask_active_high_and_low():
    for active_low, expected in ((False, 0b101), (True, 0b010)):
        pinmap = dict(PINMAP, active_low=active_low)
        board, machine = _board(pinmap)
        for p, level in zip(PINMAP["detectors"], (1, 0, 1), strict=True):
            machine.pins[p].level = level
        assert board.read_detectors() == expected, (active_low, board.read_detectors())


def test_uart_readinto_returns_0_when_nothing_is_waiting():
    board, machine = _board()
    buf = bytearray(8)
    assert board.uart_readinto(buf) == 0
    assert machine.uart.reads == 0  # no read call when nothing is there
    machine.uart.incoming = b"\x01\x02\x00"
    assert board.uart_readinto(buf) == 3 and buf[:3] == b"\x01\x02\x00"
    assert board.uart_readinto(buf) == 0


def test_uart_write_sends_the_first_n_bytes_and_skips_none():
    board, machine = _board()
    board.uart_write(bytearray(b"\x05\x00\x07"), 0)
    board.uart_write(bytearray(b"\x05\x00\x07"), 2)
    board.uart_write(b"\x09\x00")
    assert machine.uart.sent == [b"\x05\x00", b"\x09\x00"]


def test_watchdog_fed_only_once_armed_and_armed_once():
    board, machine = _board()
    board.feed_watchdog()  # maintenance mode: nothing to feed
    assert machine.wdt is None
    board.arm_watchdog(2500)
    wdt = machine.wdt
    board.arm_watchdog(4000)  # a WDT cannot be re-armed: the first stays
    board.feed_watchdog()
    board.feed_watchdog()
    assert machine.wdt is wdt and wdt.timeout == 2500 and wdt.feeds == 2


def test_after_all_flash_only_a_reset_moves_the_heads():
    board, machine = _board()
    _with_time(700, board.all_flash, 5)
    board.write_heads(700, bytearray(b"GGrrr"))
    assert _lamps(machine) == ["100"] * 5


def test_now_ms_masks_the_tick_counter_to_the_board_period():
    board, _ = _board()
    assert _with_time(12345, board.now_ms) == 12345
    assert _with_time(ticks.PERIOD + 5, board.now_ms) == 5
    assert _with_time((1 << 62) - 1, board.now_ms) == ticks.PERIOD - 1  # Unix port's wrap


def test_import_leaves_sys_modules_as_it_was():
    names = ("machine", "asyncio", "firmware.hal_board")
    before = {name: sys.modules.get(name) for name in names}
    _board()
    after = {name: sys.modules.get(name) for name in names}
    assert after == before
