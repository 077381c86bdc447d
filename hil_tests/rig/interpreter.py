"""Start one MicroPython interpreter on the compiled firmware, as the emulated controller.

What the process gets is firmware/hal_emulated.py's contract: four inherited pipes (the rig's
control lines in, its reports out, the UART's two directions) and GW_* variables for the clock,
the flash directory, the heads, the reset cause and the tick. EmulatedController (emulator.py)
decides when to start one and what to do with its lines; this module only starts it.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .build import build_firmware, tool


@dataclass
class Interpreter:
    """A started interpreter and the rig's ends of its pipes (the child's ends are closed)."""

    proc: subprocess.Popen
    ctl_w: int  # the rig's control lines to the firmware: D levels, T ms, C, Z task, Q
    out_r: int  # the firmware's reports to the rig: H heads, K ms reached, R reset
    urx_w: int  # into the controller's UART (what the gateway sends)
    utx_r: int  # out of the controller's UART


def spawn(
    *,
    clock_spec: str,
    flash_dir: Path,
    heads: int,
    cause: str,
    tick_ms: int,
    heapsize: str,
    log: IO[bytes],
    memreport_s: int = 0,
    strap: bool = False,
) -> Interpreter:
    """Start `micropython -X heapsize=<heapsize> firmware/main.py` in the firmware's build
    directory, its output appended to `log`; `cause` is the reset cause the HAL reports."""
    build = build_firmware()
    ctl_r, ctl_w = os.pipe()
    out_r, out_w = os.pipe()
    urx_r, urx_w = os.pipe()
    utx_r, utx_w = os.pipe()
    os.set_blocking(ctl_r, False)  # MicroPython's read(n) waits for n bytes on a blocking fd
    os.set_blocking(urx_r, False)
    child = (ctl_r, out_w, urx_r, utx_w)
    env = dict(os.environ)
    env.update(
        # .frozen holds asyncio and friends; "" is the working directory, the build: module
        # paths (every module's __file__ is an interned string for good) stay as short as
        # a board's "firmware/link.mpy", not 60 bytes of this machine's build path each
        MICROPYPATH=".frozen:",
        GW_CTL_IN=str(ctl_r),
        GW_CTL_OUT=str(out_w),
        GW_UART_IN=str(urx_r),
        GW_UART_OUT=str(utx_w),
        GW_CLOCK=clock_spec,
        GW_FLASH=str(flash_dir),
        GW_HEADS=str(heads),
        GW_RESET_CAUSE=cause,
        GW_TICK_MS=str(tick_ms),
    )
    if memreport_s:
        env["GW_MEMREPORT"] = str(memreport_s)
    if strap:
        env["GW_STRAP"] = "1"
    cmd = [tool("micropython"), "-X", f"heapsize={heapsize}", "firmware/main.py"]
    log.write(f"--- start ({cause}) ---\n".encode())
    log.flush()
    proc = subprocess.Popen(
        cmd,
        cwd=build,
        env=env,
        pass_fds=child,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for fd in child:
        os.close(fd)
    return Interpreter(proc, ctl_w, out_r, urx_w, utx_r)
