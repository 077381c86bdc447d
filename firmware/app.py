"""Wiring: pick the HAL, load the config, run the control loop."""

import asyncio
import json

from . import config
from .controller import Controller


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
    with open(path) as f:
        return config.load(json.load(f))


async def main(hal, cfg):
    ctl = Controller(cfg, hal.now_ms())
    hal.write_heads(hal.now_ms(), ctl.signals)
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
    try:
        asyncio.run(main(hal, cfg))
    except BaseException:
        hal.all_flash(cfg.n_groups)  # heads to flash before anything else
        raise
