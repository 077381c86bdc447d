# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""An operator's flash and clear-flash through app.run, boot after boot: a flash latches on
flash (the `fault` note) so the next boot runs safe mode; a clear-flash checked there against
the keys on flash clears the latch and resets, and the boot after runs the app again from
start-up flash. In the app, a clear-flash clears a latched fault the same way."""

import sys

from configs import two
from mpcompat import read_bytes, rmtree, tmpdir
from test_app import FakeHal
from test_auth import T, nonce, signed
from test_replay_floor import _keys_file

import firmware
from firmware import app, boot, storage
from firmware import protocol_gateway as G

_EPOCH = 1700000000  # firmware/auth.py's


class Exit(BaseException):
    """The board restarts here (the emulator's reset is a sys.exit too)."""


class BootHal(FakeHal):
    """A FakeHal for whole boots (app or safe mode): two heads, what they showed in `shown`,
    the UART bringing a heartbeat every second (the gateway's) and `rx` from `at_ms` on."""

    def __init__(self, ticks, flash_dir, rx=b"", at_ms=0, cause="power"):
        FakeHal.__init__(self, ticks, flash_dir=flash_dir)
        self.heads = 2
        self.shown = []
        self.rx = rx
        self.at_ms = at_ms
        self.cause = cause
        self.strapped = False
        self._hb = 0

    def write_heads(self, now_ms, signals):
        if not self.latched:
            self.shown.append(bytes(signals).decode())

    def all_flash(self, n_groups):
        if not self.latched:
            self.latched = True
            self.shown.append("f" * n_groups)

    def uart_readinto(self, buf):
        data = b""
        if self.t >= self._hb:
            self._hb = self.t + 1000
            data = G.encode(G.T_HEARTBEAT, self.t // 1000, G.pack_heartbeat(self.t, T - _EPOCH))
        if self.rx and self.t >= self.at_ms:
            data += self.rx
            self.rx = b""
        buf[: len(data)] = data
        return len(data)

    def reset(self):
        self.resets += 1
        raise Exit()

    def pause(self, task):
        return FakeHal.pause(self, 3 if task == 4 else task)  # safe mode's turn ends a tick too


def _boot(hal):
    saved = boot.make_hal
    boot.make_hal = lambda: hal
    sys.modules["firmware.boot"] = boot  # app.run unloads it; the test keeps its stand-in
    firmware.boot = boot
    try:
        app.run()
        return False
    except Exit:
        return True
    finally:
        boot.make_hal = saved


def _answers(hal):
    frames = G.Decoder().feed(hal.sent)
    acks = [G.unpack_ack(p)[1:] for t, _, p in frames if t == G.T_ACK]
    events = [G.unpack_event(p)[2] for t, _, p in frames if t == G.T_EVENT]
    return acks, events


def _provisioned():
    d = tmpdir("opflash")
    storage.save(d, two())
    storage.save(d, _keys_file(), "keys")
    return d


def _cmd(name, code, ts, i, seq):
    return G.encode(G.T_SIGNED, seq, signed(name, code, 0, ts, nonce(i)))


def test_an_operator_flash_is_latched_across_boots_until_a_clear_flash_in_safe_mode():
    d = _provisioned()
    try:
        # boot 1: the app; the operator's flash once it runs in remote mode
        hal = BootHal(500, d, _cmd("flash", G.CMD_FLASH, T, 1, 7), at_ms=4000)
        assert not _boot(hal)
        acks, events = _answers(hal)
        assert acks == [(G.ACK_OK, "")], acks
        assert "flash by operator alice" in events, events
        assert hal.shown[:2] == ["ff", "rr"] and hal.shown[-1] == "ff", hal.shown
        assert read_bytes(d + "/fault") == b"flash by operator alice"
        assert boot.load_floor(d) == (T - _EPOCH, None)

        # boot 2 (power cycled): safe mode, because of the latch; signed commands are checked
        replay = _cmd("flash", G.CMD_FLASH, T, 1, 8)
        hal = BootHal(100, d, replay, at_ms=100)
        assert not _boot(hal)
        acks, events = _answers(hal)
        assert acks == [(G.ACK_REFUSED, "replayed or stale")], acks
        assert events[0].startswith("safe mode: latched fault: flash by operator alice"), events
        assert hal.shown == ["ff"], hal.shown
        hold = _cmd("hold", G.CMD_HOLD, T + 1, 2, 9)  # safe mode runs nothing else
        hal = BootHal(100, d, hold, at_ms=100)
        assert not _boot(hal)
        assert _answers(hal)[0] == [(G.ACK_REFUSED, events[0])]

        # boot 3: the clear-flash is answered, then the latch goes and the controller resets
        hal = BootHal(100, d, _cmd("clear-flash", G.CMD_CLEAR_FLASH, T + 2, 3, 10), at_ms=100)
        assert _boot(hal) and hal.resets == 1
        assert _answers(hal)[0] == [(G.ACK_OK, "")]
        assert boot.load_floor(d) == (T + 2 - _EPOCH, None)  # it cannot be replayed

        # boot 4 (the reset): the app again, start-up flash -> all-red -> the first phase
        hal = BootHal(500, d, cause="soft")
        assert not _boot(hal)
        assert hal.shown[:3] == ["ff", "rr", "Gr"], hal.shown
        assert _answers(hal)[1][:2] == ["boot two", "reset soft"]
    finally:
        rmtree(d)


def test_a_clear_flash_in_the_app_clears_a_latched_fault_and_resets():
    d = _provisioned()
    try:
        clear = _cmd("clear-flash", G.CMD_CLEAR_FLASH, T + 1, 2, 8)
        hal = BootHal(600, d, _cmd("flash", G.CMD_FLASH, T, 1, 7) + clear, at_ms=4000)
        # both in one read: the flash latches, the clear-flash finds it and ends it
        assert _boot(hal) and hal.resets == 1
        assert _answers(hal)[0] == [(G.ACK_OK, ""), (G.ACK_OK, "")]
        assert read_bytes(d + "/fault") == b""  # no latch: the next boot runs the app
        assert read_bytes(d + "/resets") == b"0"
        assert boot.load_floor(d) == (T + 1 - _EPOCH, None)
        hal = BootHal(500, d, cause="soft")
        assert not _boot(hal)
        assert hal.shown[:3] == ["ff", "rr", "Gr"], hal.shown
    finally:
        rmtree(d)


def test_safe_mode_without_keys_or_without_a_config_refuses_clear_flash():
    d = tmpdir("opflash")
    try:
        storage.save(d, two())
        app._note(d, "fault", b"conflict: test")
        hal = BootHal(100, d, _cmd("clear-flash", G.CMD_CLEAR_FLASH, T, 1, 7), at_ms=100)
        assert not _boot(hal)
        assert _answers(hal)[0] == [(G.ACK_REFUSED, "no operator keys")]
        assert read_bytes(d + "/fault") == b"conflict: test"
    finally:
        rmtree(d)
