"""Wiring: pick the HAL, load the config, run the control loop.

Start-up runs in two stages so the heap peak is the larger of them, not their sum: the config
validator (`firmware.config`) is imported, used once and unloaded before the control code loads.
On MicroPython a module's bytecode lives in the heap, and dropping the last reference frees it.
"""

import asyncio
import gc
import json
import sys


def make_hal():
    """The emulated HAL when the rig started us (GW_CLOCK set), else the board."""
    import os

    getenv = getattr(os, "getenv", None)
    if getenv is not None and getenv("GW_CLOCK"):
        from .hal_emulated import Emulated

        return Emulated(tick_ms=int(getenv("GW_TICK_MS") or 10)), getenv("GW_CONFIG")
    from .hal_board import Board

    with open("board.json") as f:
        pinmap = json.load(f)
    return Board(pinmap), "config.json"


def load_config(path):
    """The validated Config from the JSON file at `path` (raises config.ConfigError)."""
    from . import config

    with open(path) as f:
        return config.load(json.load(f))


def unload(name):
    """Forget the start-up-only module firmware.<name> so the GC can free its code.

    A later import loads it afresh; objects built from it keep working.
    """
    sys.modules.pop("firmware." + name, None)
    package = sys.modules.get("firmware")
    if package is not None and name in dir(package):
        delattr(package, name)


async def main(hal, cfg):
    """The control loop: one `Controller.step` per HAL tick until the HAL asks to quit."""
    from .controller import Controller

    # Collect the import's garbage first, so the controller's long-lived buffers fill its holes
    # instead of splitting the free space the ticks need; then its own start-up garbage.
    gc.collect()
    ctl = Controller(cfg, hal.now_ms())
    hal.write_heads(hal.now_ms(), ctl.signals)
    gc.collect()
    while not getattr(hal, "quit", False):
        now = hal.now_ms()
        if ctl.step(now, hal.read_detectors(), hal.uart_read()):
            hal.write_heads(now, ctl.signals)
        hal.uart_write(ctl.take_output())
        hal.feed_watchdog()
        await hal.wait_tick()


def run():
    hal, path = make_hal()
    cfg = load_config(path)
    unload("config")
    gc.collect()
    try:
        asyncio.run(main(hal, cfg))
    except BaseException:
        hal.all_flash(cfg.n_groups)  # heads to flash before anything else
        raise
