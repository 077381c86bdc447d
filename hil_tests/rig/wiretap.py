"""Listen to the controller's serial line on the rig, as a gateway would, and decode it.

A thread reads the pty with pyserial and decodes every frame with the gateway's half of the
protocol; tests ask for the events and states seen so far.
"""

from __future__ import annotations

import threading

import serial

from firmware import protocol as P


class WireTap:
    def __init__(self, port: str):
        self._serial = serial.Serial(port, timeout=0.05)
        self._decoder = P.Decoder()
        self._lock = threading.Lock()
        self.frames: list[tuple[int, int, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="wiretap")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self._serial.read(4096)
            if data:
                msgs = self._decoder.feed(data)
                with self._lock:
                    self.frames += msgs

    def events(self) -> list[tuple[str, str]]:
        """(event name, detail) of every EVENT frame so far."""
        with self._lock:
            frames = list(self.frames)
        out = []
        for mtype, _, payload in frames:
            if mtype == P.T_EVENT:
                code, _, detail = P.unpack_event(payload)
                out.append((P.EVENT_NAMES.get(code, str(code)), detail))
        return out

    def modes(self) -> list[int]:
        """The mode of every STATE frame so far."""
        with self._lock:
            return [P.unpack_state(p)[0] for t, _, p in self.frames if t == P.T_STATE]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._serial.close()
