"""The hardware abstraction layer: the one interface between firmware logic and the world.

Two backends implement it: `hal_board.Board` (machine.Pin, UART, WDT) and
`hal_emulated.Emulated` (pipes to the HIL rig, virtual clock). Logic never touches either
directly; `app.main` is handed one.
"""


class Hal:
    """Interface. Every clock value is a tick in [0, ticks.PERIOD)."""

    def now_ms(self):
        """The controller's millisecond clock."""
        raise NotImplementedError

    def read_detectors(self):
        """Raw detector input levels as a bitmask (bit i = detector input i)."""
        raise NotImplementedError

    def write_heads(self, now_ms, signals):
        """Drive the signal heads to `signals` (bytearray, one ASCII char per group)."""
        raise NotImplementedError

    def all_flash(self, n_groups):
        """Drive every head to flash, with no other state: the crash path."""
        raise NotImplementedError

    def uart_read(self):
        """Bytes received since the last call, or None. Never blocks."""
        raise NotImplementedError

    def uart_write(self, data):
        """Queue bytes for the gateway."""
        raise NotImplementedError

    def feed_watchdog(self):
        """Tell the watchdog the control loop is alive."""

    async def wait_tick(self):
        """Sleep until the next control tick."""
        raise NotImplementedError
