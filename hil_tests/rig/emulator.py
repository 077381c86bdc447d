"""The emulated controller: the real firmware, compiled by mpy-cross, on the real MicroPython
interpreter, with emulated pins, a virtual clock and a pty as its serial cable.

The rig sets detector inputs, reads head outputs, and checks every change of the heads with its
own safety oracle (edge.safety), independently of the firmware's monitor.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.safety import SafetyOracle

from .build import build_firmware, tool
from .serialwire import SerialWire

_PERIOD = 1 << 30


class RigError(RuntimeError):
    """The emulated controller did not do what the rig asked; the message says where its log is."""


class EmulatedController:
    """One intersection's controller on the rig.

    clock="scaled": the firmware reads (wall clock - epoch) x speed, like every process of the
    full chain. clock="stepped": the rig advances the firmware's clock lock-step with `advance()`,
    deterministic and as fast as the CPU allows.
    """

    def __init__(
        self,
        ix,
        *,
        clock: str = "scaled",
        speed: float = 1.0,
        offset_ms: int = 0,
        epoch_ns: int | None = None,
        heapsize: str = "64k",
        baud: int = 115200,
        seed: int = 0,
        tick_ms: int = 10,
        workdir: str | Path | None = None,
    ):
        if clock not in ("scaled", "stepped"):
            raise ValueError(f"clock must be 'scaled' or 'stepped', not {clock!r}")
        self.ix = ix
        self.clock = clock
        self.speed = float(speed)
        self.offset_ms = offset_ms % _PERIOD
        self.epoch_ns = epoch_ns if epoch_ns is not None else time.time_ns()
        self.heapsize = heapsize
        self.baud = baud
        self.seed = seed
        self.tick_ms = tick_ms
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="greenwave-rig-")
            workdir = self._tmp.name
        self.workdir = Path(workdir)
        self.log_path = self.workdir / f"{ix.id}-firmware.log"
        self.oracle = SafetyOracle(ix.record_header())
        self.signals = ""
        self.changes: list[tuple[float, str]] = []  # (controller seconds, signals)
        self.listeners: list[Callable[[float, str], None]] = []
        self._levels = 0
        self._last_raw: int | None = None
        self._unwrapped = 0
        self._k = threading.Condition()
        self._k_value: int | None = None
        self._proc: subprocess.Popen | None = None
        self._wire: SerialWire | None = None
        self._ctl_w: int | None = None

    # lifecycle ----------------------------------------------------------------------------
    @property
    def clock_spec(self) -> str:
        if self.clock == "stepped":
            return f"stepped:{self.offset_ms}"
        return f"scaled:{self.epoch_ns}:{self.speed}:{self.offset_ms}"

    def start(self) -> EmulatedController:
        build = build_firmware()
        cfg_path = self.workdir / f"{self.ix.id}-config.json"
        cfg_path.write_text(json.dumps(self.ix.to_compact()))
        ctl_r, ctl_w = os.pipe()
        out_r, out_w = os.pipe()
        urx_r, urx_w = os.pipe()
        utx_r, utx_w = os.pipe()
        os.set_blocking(ctl_r, False)  # MicroPython's read(n) waits for n bytes on a blocking fd
        os.set_blocking(urx_r, False)
        child = (ctl_r, out_w, urx_r, utx_w)
        env = dict(os.environ)
        env.update(
            MICROPYPATH=f".frozen:{build}",  # .frozen holds asyncio and friends
            GW_CTL_IN=str(ctl_r),
            GW_CTL_OUT=str(out_w),
            GW_UART_IN=str(urx_r),
            GW_UART_OUT=str(utx_w),
            GW_CLOCK=self.clock_spec,
            GW_CONFIG=str(cfg_path),
            GW_TICK_MS=str(self.tick_ms),
        )
        cmd = [
            tool("micropython"),
            "-X",
            f"heapsize={self.heapsize}",
            str(build / "firmware" / "main.py"),
        ]
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(
            cmd,
            env=env,
            pass_fds=child,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        for fd in child:
            os.close(fd)
        self._ctl_w = ctl_w
        self._wire = SerialWire(urx_w, utx_r, baud=self.baud, seed=self.seed).start()
        self._reader = threading.Thread(
            target=self._read_ctl, args=(out_r,), daemon=True, name=f"rig-{self.ix.id}"
        )
        self._reader.start()
        return self

    @property
    def port(self) -> str:
        """The pty slave path the gateway opens, like /dev/ttyUSB0."""
        if self._wire is None:
            raise RigError("the rig is not started")
        return self._wire.port

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._write(b"Q\n")
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._ctl_w is not None:
            os.close(self._ctl_w)
            self._ctl_w = None
        if self._wire is not None:
            self._wire.close()
        if getattr(self, "_log", None):
            self._log.close()

    def __enter__(self) -> EmulatedController:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # inputs -----------------------------------------------------------------------------
    def _write(self, line: bytes) -> None:
        if self._ctl_w is None:
            raise RigError("the rig is not started")
        try:
            os.write(self._ctl_w, line)
        except BrokenPipeError as e:
            raise RigError(
                f"the firmware has exited; see {self.log_path}\n{self.log_tail()}"
            ) from e

    def set_detectors(self, levels: int) -> None:
        """Set every detector input at once (bit i = detector input i)."""
        if levels != self._levels:
            self._levels = levels
            self._write(b"D %d\n" % levels)

    def advance(self, ms: int, timeout: float = 60.0) -> None:
        """Stepped clock: run the firmware up to `ms` of virtual time from start, then return."""
        if self.clock != "stepped":
            raise RigError("advance() needs clock='stepped'")
        with self._k:
            self._k_value = None
            self._write(b"T %d\n" % ms)
            ok = self._k.wait_for(lambda: self._k_value == ms or not self.alive, timeout)
        if not ok or self._k_value != ms:
            raise RigError(
                f"firmware did not reach t={ms} ms (alive={self.alive}); "
                f"log {self.log_path}:\n{self.log_tail()}"
            )

    # outputs ----------------------------------------------------------------------------
    def _seconds(self, raw: int) -> float:
        if self._last_raw is None:
            self._unwrapped = (raw - self.offset_ms) % _PERIOD
        else:
            d = (raw - self._last_raw) % _PERIOD
            if d >= _PERIOD // 2:
                d -= _PERIOD
            self._unwrapped += d
        self._last_raw = raw
        return self._unwrapped / 1000.0

    def _read_ctl(self, fd: int) -> None:
        buf = b""
        with os.fdopen(fd, "rb", buffering=0) as f:
            while True:
                data = f.read(4096)
                if not data:
                    break
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    self._on_line(line.decode("ascii", "replace"))
        with self._k:
            self._k.notify_all()

    def _on_line(self, line: str) -> None:
        op, _, rest = line.partition(" ")
        if op == "H":
            raw, _, signals = rest.partition(" ")
            t = self._seconds(int(raw))
            if signals != self.signals:
                self.signals = signals
                self.changes.append((t, signals))
                self.oracle.feed(t, signals)
                for listener in self.listeners:
                    listener(t, signals)
        elif op == "K":
            with self._k:
                self._k_value = int(rest)
                self._k.notify_all()

    def now_s(self) -> float:
        """The controller's clock, seconds since start (scaled clock only)."""
        return (time.time_ns() - self.epoch_ns) * self.speed / 1e9

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no firmware log)"
        return "\n".join(text.splitlines()[-lines:])
