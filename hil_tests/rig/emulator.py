"""The emulated controller: the real firmware, compiled by mpy-cross, on the real MicroPython
interpreter, with emulated pins, a virtual clock and a pty as its serial cable.

The rig sets detector inputs, reads head outputs, and checks every change of the heads with its
own safety oracle (edge.safety), independently of the firmware's monitor.

It also plays the board's power and reset logic: the controller's flash is a directory that
outlives the process; a watchdog expiry or reset (exit codes EXIT_WDT, EXIT_RESET) restarts the
interpreter with the reset cause set, as a board's register would say; `power_cut` kills it
with SIGKILL at any instant, shows the heads dark, and powers it up again. Starting one
interpreter (its pipes and environment) is interpreter.py's job.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge.safety import SafetyOracle
from firmware import storage

from .interpreter import spawn
from .serialwire import SerialWire

_PERIOD = 1 << 30
EXIT_WDT = 3  # firmware/hal_emulated.py
EXIT_RESET = 4
_CAUSES = {EXIT_WDT: "wdt", EXIT_RESET: "soft"}
TASKS = ("detectors", "control", "link", "supervisor")  # firmware/app.py task indices


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
        heapsize: str | None = None,
        baud: int = 115200,
        seed: int = 0,
        tick_ms: int = 10,
        workdir: str | Path | None = None,
        auto_reset: bool = True,
        memreport_s: int = 0,
        strap: bool = False,
    ):
        if clock not in ("scaled", "stepped"):
            raise ValueError(f"clock must be 'scaled' or 'stepped', not {clock!r}")
        self.ix = ix
        self.clock = clock
        self.speed = float(speed)
        self.offset_ms = offset_ms % _PERIOD
        self.epoch_ns = epoch_ns if epoch_ns is not None else time.time_ns()
        # a board's heap; GW_TEST_HEAPSIZE overrides the default (not an explicit heapsize)
        self.heapsize = heapsize or os.environ.get("GW_TEST_HEAPSIZE", "64k")
        self.baud = baud
        self.seed = seed
        self.tick_ms = tick_ms
        self._tmp = None
        if workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="greenwave-rig-")
            workdir = self._tmp.name
        self.workdir = Path(workdir).resolve()  # the interpreter runs in the build directory
        self.log_path = self.workdir / f"{ix.id}-firmware.log"
        self.flash_dir = self.workdir / f"{ix.id}-flash"
        self.auto_reset = auto_reset
        self.crash_every_boot = False  # inject a crash at every start: a crash loop
        self.memreport_s = memreport_s
        self.strap = strap
        # (controller seconds, cause) of every restart: "wdt", "soft" (the firmware's reset)
        # or "power" (power_cut)
        self.resets: list[tuple[float, str]] = []
        self.exit_codes: list[int] = []
        self._base_ms = 0  # stepped: virtual ms from start at which this process started
        self._reset_at: int | None = None  # the process's own ms when it said it resets
        self._acked = 0  # stepped: last virtual ms (from start) the firmware reached
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

    def provision(self, compact: dict | None = None) -> None:
        """Store a compact config on the controller's flash, as `greenwave flash` would."""
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        storage.save(str(self.flash_dir), compact if compact is not None else self.ix.to_compact())

    def provision_keys(self, keys: dict | str | os.PathLike) -> None:
        """Store the controller's keys on its flash (`keys.json`): a dict as
        gateway.secrets.controller_keys makes, or the path of a controller keys file (TOML)."""
        if not isinstance(keys, dict):
            from gateway.secrets import load_controller_keys

            keys = load_controller_keys(keys)
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        storage.save(str(self.flash_dir), keys, "keys")

    def start(self) -> EmulatedController:
        if not self.flash_dir.exists():
            self.provision()
        self._log = open(self.log_path, "ab")
        self._wire = None
        self._spawn("power")
        return self

    def _spawn(self, cause: str) -> None:
        clock_spec = self.clock_spec
        if self.clock == "stepped":  # the new process's counter goes on where the last stopped
            clock_spec = f"stepped:{(self.offset_ms + self._base_ms) % _PERIOD}"
        self._reset_at = None
        it = spawn(
            clock_spec=clock_spec,
            flash_dir=self.flash_dir,
            heads=len(self.ix.groups),
            cause=cause,
            tick_ms=self.tick_ms,
            heapsize=self.heapsize,
            log=self._log,
            memreport_s=self.memreport_s,
            strap=self.strap,
        )
        self._proc = it.proc
        if self._ctl_w is not None:
            os.close(self._ctl_w)
        self._ctl_w = it.ctl_w
        if self._wire is None:
            self._wire = SerialWire(it.urx_w, it.utx_r, baud=self.baud, seed=self.seed).start()
        else:  # the same cable, plugged into the restarted controller
            self._wire.reattach(it.urx_w, it.utx_r)
        self._reader = threading.Thread(
            target=self._read_ctl,
            args=(it.out_r, self._proc),
            daemon=True,
            name=f"rig-{self.ix.id}",
        )
        self._reader.start()
        if self._levels:  # the inputs are still there; the new process has not seen them
            self._write(b"D %d\n" % self._levels)
        if self.crash_every_boot:
            self._write(b"C\n")

    def _restart(self, cause: str, at_ms: int) -> None:
        """Start the interpreter again after it ended at `at_ms` (virtual, from start)."""
        if self._proc is not None:
            self._proc.wait()
            self._reader.join(timeout=5)
        self._base_ms = at_ms
        self._acked = at_ms
        self.resets.append((at_ms / 1000.0, cause))
        self._spawn(cause)

    def _ended(self) -> bool:
        """True when the process ended by a reset and was restarted; False while it runs.
        Raises RigError when it died otherwise (or auto_reset is off)."""
        if self._proc is None or self._proc.poll() is None:
            return False
        self._reader.join(timeout=5)  # its last lines (heads to flash, R) are in
        code = self._proc.returncode
        self.exit_codes.append(code)
        cause = _CAUSES.get(code)
        if cause is None or not self.auto_reset:
            raise RigError(
                f"the firmware exited with code {code}; log {self.log_path}:\n{self.log_tail()}"
            )
        at = self._base_ms + (self._reset_at if self._reset_at is not None else 0)
        self._restart(cause, max(at, self._acked))
        return True

    def power_cut(self, after_s: float = 0.0, run_to_ms: int | None = None) -> float:
        """Cut the power: SIGKILL the interpreter, heads dark, then power it up again.

        Stepped clock: with `run_to_ms`, the firmware is set running towards that virtual time
        and killed `after_s` seconds of real time later, wherever it is. Returns the controller
        time (s) of the cut: the last time the rig saw of it.
        """
        if self.clock == "stepped" and run_to_ms is not None:
            self._write(b"T %d\n" % (run_to_ms - self._base_ms))
            time.sleep(after_s)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait() if self._proc is not None else None
        self._reader.join(timeout=5)
        with self._k:
            seen_ms = self._acked
            if self.changes:
                seen_ms = max(seen_ms, round(self.changes[-1][0] * 1000))
        self._show(seen_ms / 1000.0, "o" * len(self.ix.groups))  # no power, no lamps
        self._restart("power", seen_ms)
        return seen_ms / 1000.0

    def crash(self) -> None:
        """Make the firmware's next task turn raise (an unhandled exception, as a bug would)."""
        self._write(b"C\n")

    def freeze(self, task: str) -> None:
        """Make one of the firmware's tasks hang for good (its next pause never returns)."""
        self._write(b"Z %d\n" % TASKS.index(task))

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
            try:
                self._write(b"Q\n")
            except RigError:
                pass
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
        """Stepped clock: run the firmware up to `ms` of virtual time from start, then return.

        A watchdog expiry or reset on the way restarts the firmware (auto_reset) and goes on."""
        if self.clock != "stepped":
            raise RigError("advance() needs clock='stepped'")
        while True:
            local = ms - self._base_ms
            with self._k:
                self._k_value = None
                try:
                    self._write(b"T %d\n" % local)
                except RigError:
                    pass  # it just ended: _ended() below says how
                ok = self._k.wait_for(
                    lambda local=local: self._k_value == local or not self.alive, timeout
                )
                reached = self._k_value == local
            if reached:
                return
            if ok and self._ended():
                continue
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

    def _read_ctl(self, fd: int, proc: subprocess.Popen) -> None:
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
        try:  # end of output comes a moment before the process is gone; `alive` must say so
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        with self._k:
            self._k.notify_all()
        cause = _CAUSES.get(proc.returncode)
        if self.clock == "scaled" and self.auto_reset and cause and proc is self._proc:
            # real time runs on by itself: the board's reset logic restarts it at once
            self.exit_codes.append(proc.returncode)
            self.resets.append((self.now_s(), cause))
            self._spawn(cause)

    def _show(self, t: float, signals: str) -> None:
        if signals != self.signals:
            self.signals = signals
            self.changes.append((t, signals))
            self.oracle.feed(t, signals)
            for listener in self.listeners:
                listener(t, signals)

    def _on_line(self, line: str) -> None:
        op, _, rest = line.partition(" ")
        if op == "H":
            raw, _, signals = rest.partition(" ")
            self._show(self._seconds(int(raw)), signals)
        elif op == "K":
            with self._k:
                self._k_value = int(rest)
                self._acked = self._base_ms + self._k_value
                self._k.notify_all()
        elif op == "R":
            self._reset_at = int(rest.split(" ")[0])

    def now_s(self) -> float:
        """The controller's clock, seconds since start (scaled clock only)."""
        return (time.time_ns() - self.epoch_ns) * self.speed / 1e9

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no firmware log)"
        return "\n".join(text.splitlines()[-lines:])
