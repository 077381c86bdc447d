"""The gateway's end of the serial link: pyserial, framed with the firmware's own protocol.

Any port pyserial knows works the same way (`/dev/ttyUSB0`, a pty path, `loop://`). Commands are
sent with a sequence number and retried with the same number until acknowledged, so the
controller runs each exactly once.

With a link key the gateway's own COMMANDs carry a counter and a 16-byte tag for the boot id the
controller's heartbeat says; the counter goes on from the controller's last accepted one (its
heartbeat says that too), so a restarted gateway is not taken for a replay. An operator's
command goes as a SIGNED COMMAND with the operator's signature. Our heartbeats carry Unix time
(the controller's clock for command expiry).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import serial

from firmware import link as fwlink
from firmware import protocol as P

_RETRY_MS = 500
_MAX_TRIES = 4


class LinkError(RuntimeError):
    """The serial port could not be opened or used."""


class SerialLink:
    def __init__(
        self,
        url: str,
        baud: int,
        clock_ms,
        link_key: bytes | None = None,
        unix: Callable[[], float] = time.time,
    ):
        self.url = url
        self._link_key = link_key
        self._unix = unix
        self.boot: int | None = None  # the controller's boot id, from its heartbeat
        self._ctr = 0  # the last link counter used (or the controller's last accepted)
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
            if mtype == P.T_HEARTBEAT and len(payload) == 12:
                _, boot, ctr = P.unpack_heartbeat(payload)
                if boot != self.boot:
                    self.boot, self._ctr = boot, ctr
                self._ctr = max(self._ctr, ctr)
            elif mtype == P.T_ACK:
                try:
                    acked = P.unpack_ack(payload)[0]
                except ValueError:
                    continue  # the service drops it and says so
                self.pending.pop(acked, None)
        self._housekeeping(now)
        return msgs

    def _housekeeping(self, now: int) -> None:
        if self.state.heartbeat_due(now):
            unix = max(0, int(self._unix()) - P.UNIX_EPOCH)
            hb = P.pack_heartbeat(now, unix)
            self._write(P.encode(P.T_HEARTBEAT, self.state.next_seq(), hb))
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

    def command(self, code: int, arg: int = 0, signed=None) -> int:
        """Send a command; returns its sequence number (the ACK carries it back). `signed` is
        an operator's verified command (gateway.signing.Command): it goes with its signature;
        else, with a link key, the command carries the link tag."""
        seq = self.state.next_seq()
        if signed is not None:
            payload = P.pack_signed(code, arg, signed.key, signed.ts, signed.exp, signed.nonce,
                                    bytes.fromhex(signed.sig))  # fmt: skip
            frame = P.encode(P.T_SIGNED, seq, payload)
        elif self._link_key is not None:
            self._ctr += 1
            payload = P.pack_command(code, arg, self._link_key, self.boot or 0, self._ctr)
            frame = P.encode(P.T_COMMAND, seq, payload)
        else:
            frame = P.encode(P.T_COMMAND, seq, P.pack_command(code, arg))
        self._write(frame)
        self.pending[seq] = (frame, self._now(), 1)
        return seq

    def awaiting_boot(self) -> bool:
        """True while link tags cannot be made yet: a link key and no controller heartbeat."""
        return self._link_key is not None and self.boot is None

    def up(self) -> bool:
        return self.state.up(self._now())
