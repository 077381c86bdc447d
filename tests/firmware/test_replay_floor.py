# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""The replay floor on flash (app.main writes `floor`, boot.load_floor reads it): an operator
command accepted before a reboot is refused "replayed or stale" after it; a missing file is
floor 0 quietly, a damaged one floor 0 and a problem in the boot event."""

import asyncio
import os
import sys

from configs import two
from mpcompat import read_bytes, rmtree, tmpdir, write_bytes
from test_app import FakeHal
from test_auth import KEYS, SITE, T, nonce, signed

from firmware import app, boot, storage
from firmware import protocol_gateway as G

_EPOCH = 1700000000  # firmware/auth.py's: the ring and the floor hold ts minus it


class UartHal(FakeHal):
    """A FakeHal whose UART brings `rx` once, at the first read from `at_ms` on."""

    def __init__(self, ticks, flash_dir, rx, at_ms=100):
        FakeHal.__init__(self, ticks, flash_dir=flash_dir)
        self.rx = rx
        self.at_ms = at_ms

    def uart_readinto(self, buf):
        if self.rx is None or self.t < self.at_ms:
            return 0
        n = len(self.rx)
        buf[:n] = self.rx
        self.rx = None
        return n


def _load(d):
    return __import__("firmware.config", None, None, ["load"]).load(d)


def _acks(hal):
    return [G.unpack_ack(p)[1:] for t, _, p in G.Decoder().feed(hal.sent) if t == G.T_ACK]


def test_no_file_is_floor_zero_quietly_and_a_note_reads_back():
    d = tmpdir("floor")
    try:
        assert boot.load_floor(d) == (0, None)
        app._note(d, "floor", b"%d %d" % (64000000, 64000000))  # as app.main writes it
        assert boot.load_floor(d) == (64000000, None)
        assert sorted(os.listdir(d)) == ["floor"]  # the temp file was renamed over it
    finally:
        rmtree(d)


def test_a_damaged_floor_is_zero_and_says_what_it_holds():
    d = tmpdir("floor")
    try:
        for bad in (
            b"",
            b"12 13",
            b"12",
            b"12 12 12",
            b"x1 x1",
            b"-5 -5",
            b"1073741824 1073741824",
        ):
            write_bytes(d + "/floor", bad)
            floor, problem = boot.load_floor(d)
            assert floor == 0 and problem == "floor: %r" % bad, (bad, floor, problem)
        write_bytes(d + "/floor", b"7 7\n")  # a trailing newline is no damage
        assert boot.load_floor(d) == (7, None)
    finally:
        rmtree(d)


def test_a_command_accepted_before_a_reboot_is_refused_after_it():
    d = tmpdir("floor")
    cmd = G.encode(G.T_SIGNED, 7, signed("hold", G.CMD_HOLD, 0, T, nonce(1)))
    try:
        hal = UartHal(50, d, cmd)
        asyncio.run(app.main(hal, _load(two()), None, KEYS, 1, 0))
        # checked and remembered whatever the sequencer said (no gateway: not in remote mode)
        assert _acks(hal) == [(G.ACK_REFUSED, "not in remote mode")], _acks(hal)
        assert read_bytes(d + "/floor") == b"%d %d" % (T - _EPOCH, T - _EPOCH)
        floor, problem = boot.load_floor(d)
        assert (floor, problem) == (T - _EPOCH, None)

        hal = UartHal(50, d, cmd)  # the next boot: the same frame, replayed
        asyncio.run(app.main(hal, _load(two()), None, KEYS, 2, floor))
        assert _acks(hal) == [(G.ACK_REFUSED, "replayed or stale")], _acks(hal)
        newer = G.encode(G.T_SIGNED, 8, signed("hold", G.CMD_HOLD, 0, T + 1, nonce(2)))
        hal = UartHal(50, d, newer)  # a newer command still runs (checked, then the sequencer)
        asyncio.run(app.main(hal, _load(two()), None, KEYS, 3, floor))
        assert _acks(hal) == [(G.ACK_REFUSED, "not in remote mode")], _acks(hal)
        assert boot.load_floor(d) == (T + 1 - _EPOCH, None)
    finally:
        rmtree(d)


def _keys_file():
    k = "".join("%02x" % c for c in KEYS[1][b"alice"])
    link = "".join("%02x" % c for c in KEYS[2])
    return {"v": 1, "site": SITE, "operators": {"alice": k}, "link": link}


def _start(d):
    hal = FakeHal(1, flash_dir=d)
    hal.cause = "power"
    hal.strapped = False
    saved = boot.make_hal
    boot.make_hal = lambda: hal
    try:
        return boot.start()
    finally:
        boot.make_hal = saved
        sys.modules["firmware.boot"] = boot  # start() unloads nothing of boot; keep it loaded


def test_boot_reads_the_floor_with_keys_and_reports_a_damaged_one():
    d = tmpdir("floor")
    try:
        storage.save(d, two())
        write_bytes(d + "/floor", b"99 99")
        _, cfg, _, detail, _, keys, floor = _start(d)
        assert cfg is not None and keys is None and floor == 0  # no keys: no signed commands
        storage.save(d, _keys_file(), "keys")
        _, _, _, detail, _, keys, floor = _start(d)
        assert keys is not None and floor == 99 and detail == "reset power", detail
        write_bytes(d + "/floor", b"99 98")
        _, _, _, detail, _, keys, floor = _start(d)
        assert keys is not None and floor == 0, floor
        assert detail == "reset power; replay floor 0: floor: b'99 98'", detail
    finally:
        rmtree(d)
