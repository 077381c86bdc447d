"""The serial cable of the rig: a pseudo-terminal, throttled to the baud rate, in uneven chunks.

The firmware's emulated UART is a pair of pipes to the rig; this module relays them to a pty
master. The gateway opens the slave path with pyserial exactly as it opens /dev/ttyUSB0. Bytes
move at no more than the configured line rate (10 bits per byte) and in random chunk sizes, so
timing and framing bugs cannot hide behind a pty that is thousands of times faster than a UART.
"""

from __future__ import annotations

import os
import pty
import random
import select
import termios
import threading
import time
import tty


class SerialWire:
    """Relay between the firmware's UART pipes and a pty whose slave path is `port`."""

    def __init__(
        self, fw_rx_fd: int, fw_tx_fd: int, baud: int = 115200, seed: int = 0, max_chunk: int = 48
    ):
        self.baud = baud
        self._fw_rx = fw_rx_fd  # we write here: bytes the firmware receives
        self._fw_tx = fw_tx_fd  # we read here: bytes the firmware sends
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        attrs = termios.tcgetattr(self._slave)
        attrs[6][termios.VMIN] = 0
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        self.port = os.ttyname(self._slave)
        # A UART transmits whether or not anyone listens: when the far end does not read, bytes
        # are lost (counted), never queued until the sender blocks.
        os.set_blocking(self._master, False)
        os.set_blocking(self._fw_rx, False)
        self._rng = random.Random(seed)
        self._max_chunk = max_chunk
        self._stop = threading.Event()
        self.bytes_up = 0  # firmware -> gateway
        self.bytes_down = 0  # gateway -> firmware
        self.lost_up = 0  # bytes the gateway side was not there to take
        self.lost_down = 0  # bytes the firmware did not read in time (its RX overflowed)
        self._threads = [
            threading.Thread(target=self._pump, args=("up",), name="wire-up", daemon=True),
            threading.Thread(target=self._pump, args=("down",), name="wire-down", daemon=True),
        ]

    def start(self) -> SerialWire:
        for t in self._threads:
            t.start()
        return self

    def reattach(self, fw_rx_fd: int, fw_tx_fd: int) -> None:
        """Plug the cable into a restarted controller's new UART pipes (the old ones close)."""
        os.set_blocking(fw_rx_fd, False)
        old = (self._fw_rx, self._fw_tx)
        self._fw_rx, self._fw_tx = fw_rx_fd, fw_tx_fd
        for fd in old:
            try:
                os.close(fd)
            except OSError:
                pass

    def _pump(self, direction: str) -> None:
        seconds_per_byte = 10.0 / self.baud
        next_free = time.monotonic()
        while not self._stop.is_set():
            # the firmware's end is looked up each time: a restart replaces it (reattach)
            src = self._fw_tx if direction == "up" else self._master
            try:
                ready, _, _ = select.select([src], [], [], 0.1)
            except (OSError, ValueError):  # closed under us by reattach
                continue
            if not ready:
                continue
            try:
                data = os.read(src, 4096)
            except OSError:  # EIO on the master when no one holds the slave: keep waiting
                time.sleep(0.01)
                continue
            if not data:  # the controller is gone (reset, power cut): wait for the next one
                time.sleep(0.01)
                continue
            view = memoryview(data)
            while view and not self._stop.is_set():
                n = min(len(view), self._rng.randint(1, self._max_chunk))
                chunk, view = view[:n], view[n:]
                # the line cannot deliver this chunk before its last bit has arrived
                next_free = max(next_free, time.monotonic()) + n * seconds_per_byte
                delay = next_free - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                dst = self._master if direction == "up" else self._fw_rx
                try:
                    written = os.write(dst, chunk)
                except BlockingIOError:
                    written = 0
                except OSError:  # no controller at the other end right now: the bytes are lost
                    written = 0
                if direction == "up":
                    self.bytes_up += written
                    self.lost_up += n - written
                else:
                    self.bytes_down += written
                    self.lost_down += n - written

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=1)
        for fd in (self._master, self._slave, self._fw_rx, self._fw_tx):
            try:
                os.close(fd)
            except OSError:
                pass
