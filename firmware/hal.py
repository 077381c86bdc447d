"""The hardware abstraction layer: the one interface between firmware logic and the world.

Two backends implement it: `hal_board.Board` (machine.Pin, UART, WDT) and
`hal_emulated.Emulated` (pipes to the HIL rig, virtual clock). Logic never touches either
directly; `app` is handed one. The backends do not import this module (on MicroPython every
loaded function takes heap): it is the interface's documentation, and tests' fakes subclass it.
"""


class Hal:
    """Interface. Every clock value is a tick in [0, ticks.PERIOD)."""

    quit = False  # the emulator sets it when the rig asks the firmware to stop
    flash_dir = "/"  # where config, crash record and flags live (storage.py, crashlog.py)
    heads = 0  # signal heads wired: what safe mode flashes without a config
    cause = "power"  # why this boot happened: "power", "soft" (our own reset), "wdt"
    strapped = False  # the maintenance strap input is set

    def now_ms(self):
        """The controller's millisecond clock."""
        raise NotImplementedError

    def read_detectors(self):
        """Raw detector input levels as a bitmask (bit i = detector input i)."""
        raise NotImplementedError

    def write_heads(self, now_ms, signals):
        """Drive the signal heads to `signals` (bytearray, one ASCII char per group). Ignored
        once `all_flash` has taken the heads: from then on only a reset moves them."""
        raise NotImplementedError

    def all_flash(self, n_groups):
        """Drive every head to flash and keep it there until reset: the crash and reset path."""
        raise NotImplementedError

    def uart_readinto(self, buf):
        """Bytes received since the last call, into buf; return how many. Never blocks."""
        raise NotImplementedError

    def uart_write(self, data, n=-1):
        """Queue data[:n] (all of it when n < 0) for the gateway."""
        raise NotImplementedError

    def arm_watchdog(self, timeout_ms):
        """Start the watchdog: from now on a reset follows unless `feed_watchdog` is called
        within timeout_ms. It cannot be stopped."""

    def feed_watchdog(self):
        """Tell the watchdog the controller is alive."""

    def reset(self):
        """Heads to flash, then restart the controller. Does not return on a board."""
        raise NotImplementedError

    def pause(self, task):
        """An awaitable that lets the other tasks run until `task`'s next turn (one tick)."""
        raise NotImplementedError
