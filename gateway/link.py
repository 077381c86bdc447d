"""The gateway's end of the serial link: pyserial, framed with the firmware's own protocol.

Any port pyserial knows works the same way (`/dev/ttyUSB0`, a pty path, `loop://`). Commands are
sent with a sequence number and retried with the same number until acknowledged, so the
controller runs each exactly once.
"""

from __future__ import annotations

import random

import serial

from firmware import link as fwlink
from firmware import protocol as P

_RETRY_MS = 500
_MAX_TRIES = 4


class LinkError(RuntimeError):
    """The serial port could not be opened or used."""


class SerialLink:
    def __init__(self, url: str, baud: int, clock_ms):
        self.url = url
        self.baud = baud
        self._clock_ms = clock_ms
        self._port = None
        self.decoder = P.Decoder()
        # a random first sequence number, so a restarted gateway's commands never look like retries
        self.state = fwlink.LinkState(clock_ms() % (1 << 30), first_seq=random.randrange(65536))
        self.pending: dict[int, tuple[bytes, int, int]] = {}  # seq -> (frame, sent_ms, tries)
        self.unanswered = 0
        self.gave_up: list[int] = []  # commands never acknowledged; the service reports them

    def open(self) -> SerialLink:
        try:
            self._port = serial.serial_for_url(
                self.url, baudrate=self.baud, timeout=0.02, write_timeout=2
            )
        except (serial.SerialException, ValueError) as e:
            raise LinkError(f"cannot open the controller port {self.url!r}: {e}") from e
        return self

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def _now(self) -> int:
        return self._clock_ms() % (1 << 30)

    def receive(self) -> list[tuple[int, int, bytes]]:
        """Frames that arrived (waits at most the port timeout); keeps heartbeats and retries."""
        if self._port is None:
            raise LinkError(f"the controller port {self.url!r} is not open")
        try:
            data = self._port.read(max(1, self._port.in_waiting))
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"reading {self.url!r} failed: {e}") from e
        now = self._now()
        msgs = self.decoder.feed(data) if data else []
        for mtype, _seq, payload in msgs:
            self.state.heard(now)
            if mtype == P.T_ACK:
                try:
                    acked = P.unpack_ack(payload)[0]
                except ValueError:
                    continue  # the service drops it and says so
                self.pending.pop(acked, None)
        self._housekeeping(now)
        return msgs

    def _housekeeping(self, now: int) -> None:
        if self.state.heartbeat_due(now):
            self._write(P.encode(P.T_HEARTBEAT, self.state.next_seq(), P.pack_heartbeat(now)))
            self.state.sent_heartbeat(now)
        for seq, (frame, sent, tries) in list(self.pending.items()):
            if (now - sent) % (1 << 30) >= _RETRY_MS:
                if tries >= _MAX_TRIES:
                    del self.pending[seq]
                    self.unanswered += 1
                    self.gave_up.append(seq)
                else:
                    self._write(frame)
                    self.pending[seq] = (frame, now, tries + 1)

    def _write(self, frame: bytes) -> None:
        try:
            self._port.write(frame)
        except (serial.SerialException, OSError) as e:
            raise LinkError(f"writing to {self.url!r} failed: {e}") from e

    def command(self, code: int, arg: int = 0) -> int:
        """Send a command; returns its sequence number (the ACK carries it back)."""
        seq = self.state.next_seq()
        frame = P.encode(P.T_COMMAND, seq, P.pack_command(code, arg))
        self._write(frame)
        self.pending[seq] = (frame, self._now(), 1)
        return seq

    def up(self) -> bool:
        return self.state.up(self._now())
