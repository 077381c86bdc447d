# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import binascii
import struct

from configs import four, two

from firmware import config, sequencer, ticks
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.controller import Controller

T0 = ticks.PERIOD - 5000  # every conversation crosses the 2^30 wrap 5 s after boot
DT = 100  # control tick (ms)


class Gateway:
    """A Controller ticked every DT ms from t0, and the gateway's end of its serial link.

    Every frame the controller sends is decoded into `log` as a tuple whose second item is the
    time relative to t0: ("ev", rel, code, detail), ("state", rel, mode, phase, ms, signals),
    ("det", rel, rows), ("hb", rel), ("ack", rel, seq, result, reason). With `alive` set the
    gateway sends a heartbeat at every rel % 1000 == 500.
    """

    def __init__(self, d, t0=T0):
        self.t0 = t0
        self.rel = 0
        self.ctl = Controller(config.load(d), t0)
        self.dec = P.Decoder()
        self.log = []
        self.alive = False
        self._gw_seq = 1000
        self._ctl_seq = 0  # the controller numbers every frame it sends, from 0
        self._read()  # the boot event comes from the constructor

    def now(self):
        return ticks.add(self.t0, self.rel)

    def frame(self, mtype, payload, seq=None):
        if seq is None:
            seq = self._gw_seq
            self._gw_seq += 1
        return P.encode(mtype, seq, payload)

    def cmd(self, code, arg=0, seq=None):
        return self.frame(P.T_COMMAND, G.pack_command(code, arg), seq)

    def tick(self, rx=b"", levels=0, dt=DT):
        if self.alive and self.rel % 1000 == 500:
            rx = self.frame(P.T_HEARTBEAT, P.pack_heartbeat(self.rel)) + rx
        self.ctl.step(self.now(), levels, rx)
        self._read()
        self.rel += dt

    def run(self, until, levels=None):
        """Tick up to (not including) rel `until`; levels(rel) -> detector input bitmask."""
        while self.rel < until:
            self.tick(levels=levels(self.rel) if levels else 0)

    def at(self, rel, rx):
        """Tick up to `rel`, then tick once at `rel` with rx; return what was logged then."""
        self.run(rel)
        n = len(self.log)
        self.tick(rx)
        return self.log[n:]

    def _read(self):
        data = self.ctl.take_output()
        if data is None:
            return
        for mtype, seq, pl in self.dec.feed(data):
            assert seq == self._ctl_seq, (seq, self._ctl_seq)
            self._ctl_seq += 1
            self.log.append(self._decode(mtype, pl))

    def _decode(self, mtype, pl):
        rel = self.rel
        if mtype == P.T_STATE:
            return ("state", rel) + G.unpack_state(pl)
        if mtype == P.T_ACK:
            return ("ack", rel) + G.unpack_ack(pl)
        if mtype == P.T_EVENT:
            x = G.unpack_event(pl)
            entry = ("ev", rel, x[0], x[2])
        elif mtype == P.T_HEARTBEAT:
            x = G.unpack_heartbeat(pl)
            entry = ("hb", rel)
        else:
            x = G.unpack_detectors(pl)
            entry = ("det", rel, x[1])
        t = x[1] if mtype == P.T_EVENT else x[0]
        assert t == self.now(), (entry, t)  # stamped with the tick's own clock
        return entry

    def kinds(self, *kinds):
        return [e for e in self.log if e[0] in kinds]

    def heads(self):
        """'rel signals' of every state frame that showed new heads, comma separated."""
        out = []
        last = None
        for e in self.kinds("state"):
            if e[5] != last:
                last = e[5]
                out.append("%d %s" % (e[1], last))
        return ", ".join(out)


def remote(d=None):
    """A Gateway whose heartbeats start at 4000: the link comes up at 4500."""
    g = Gateway(d or two())
    g.run(4000)
    g.alive = True
    g.run(4600)
    return g


def test_boot_then_local_without_a_gateway():
    g = Gateway(two())
    g.run(4100)
    assert g.log == [
        ("ev", 0, P.EV_BOOT, "boot two"),
        ("state", 0, P.MODE_STARTUP, 255, 0, "ff"),
        ("hb", 0),
        ("state", 1000, P.MODE_STARTUP, 255, 0, "ff"),
        ("det", 1000, [(0, 0, 0), (0, 0, 0)]),
        ("hb", 1000),
        ("state", 2000, P.MODE_STARTUP, 255, 0, "rr"),
        ("det", 2000, [(0, 0, 0), (0, 0, 0)]),
        ("hb", 2000),
        ("ev", 3000, P.EV_MODE, "local"),
        ("state", 3000, P.MODE_LOCAL, 0, 0, "Gr"),
        ("det", 3000, [(0, 0, 0), (0, 0, 0)]),
        ("hb", 3000),
        ("state", 4000, P.MODE_LOCAL, 0, 1000, "Gr"),
        ("det", 4000, [(0, 0, 0), (0, 0, 0)]),
        ("hb", 4000),
    ]
    assert g.ctl.mode == P.MODE_LOCAL


def test_heartbeats_bring_remote_and_silence_brings_local_releasing_the_hold():
    g = remote()
    assert g.log[-3:] == [
        ("ev", 4500, P.EV_LINK_UP, "gateway link up"),
        ("ev", 4500, P.EV_MODE, "remote"),
        ("state", 4500, P.MODE_REMOTE, 0, 1500, "Gr"),
    ]
    assert g.at(4700, g.cmd(P.CMD_HOLD, 0, seq=5)) == [("ack", 4700, 5, P.ACK_OK, "")]
    assert g.ctl.seq.hold is True
    g.run(6000)  # last gateway heartbeat at 5500
    g.alive = False
    g.run(8600)
    assert g.kinds("ev")[-2:] == [
        ("ev", 8500, P.EV_LINK_DOWN, "gateway link down: local control"),
        ("ev", 8500, P.EV_MODE, "local"),
    ]
    assert ("state", 8500, P.MODE_LOCAL, 0, 5500, "Gr") in g.log
    assert g.ctl.seq.hold is False
    # no mode or link change in between
    assert [e[1] for e in g.kinds("ev")] == [0, 3000, 4500, 4500, 8500, 8500]


def test_switch_is_acked_and_the_heads_follow_after_min_green():
    g = remote()
    assert g.at(5000, g.cmd(P.CMD_SWITCH, 1, seq=7))[0] == ("ack", 5000, 7, P.ACK_OK, "")
    assert g.ctl.seq.switch_to == 1
    # a retry (the ACK got lost): the stored answer again
    assert g.at(5100, g.cmd(P.CMD_SWITCH, 1, seq=7)) == [("ack", 5100, 7, P.ACK_OK, "")]
    g.run(12100)
    # phase 0 green at 3000 keeps its 5000 min green, then yellow 3000, all-red 1000
    assert g.heads() == "0 ff, 2000 rr, 3000 Gr, 8000 yr, 11000 rr, 12000 rG"
    assert g.ctl.seq.phase == 1 and g.ctl.seq.switch_to == -1
    # run again now, SWITCH(1) would be refused as "already green": it is not run twice
    assert g.at(12100, g.cmd(P.CMD_SWITCH, 1, seq=7)) == [("ack", 12100, 7, P.ACK_OK, "")]
    assert g.ctl.seq.switch_to == -1 and g.ctl.seq.state == sequencer.GREEN
    assert not [e for e in g.log if e[0] == "ev" and e[2] == P.EV_REFUSED]

    # the link drops and comes back: the same seq with another command is a new command
    g.run(12600)
    g.alive = False
    g.run(16000)  # down at 15500
    g.alive = True
    g.run(16600)  # up again at 16500
    out = g.at(16600, g.cmd(P.CMD_SWITCH, 0, seq=7))
    assert out[:2] == [("ack", 16600, 7, P.ACK_OK, ""), ("state", 16600, 1, 1, 4600, "ry")]
    assert g.ctl.seq.switch_to == 0
    g.run(20700)
    assert g.heads().endswith("12000 rG, 16600 ry, 20100 rr, 20600 Gr")


def test_refusals_are_acked_and_reported_as_events():
    g = Gateway(two())
    g.run(500)
    # any good frame is a sign of life (the link comes up first), but start-up is no time for
    # gateway decisions
    assert g.at(500, g.cmd(P.CMD_SWITCH, 1, seq=2)) == [
        ("ev", 500, P.EV_LINK_UP, "gateway link up"),
        ("ack", 500, 2, P.ACK_REFUSED, "not in remote mode"),
        ("ev", 500, P.EV_REFUSED, "not in remote mode"),
    ]
    g.alive = True
    g.run(5000)
    # the gateway was heard all along, so start-up ends straight in remote mode
    assert g.kinds("ev")[-1] == ("ev", 3000, P.EV_MODE, "remote")
    assert [e[2] for e in g.kinds("state")] == [P.MODE_STARTUP] * 3 + [P.MODE_REMOTE] * 2
    n = len(g.log)
    g.tick(g.frame(P.T_COMMAND, b"\x02", seq=3))  # one byte short
    g.tick(g.cmd(10, 0, seq=4))
    g.tick(g.cmd(P.CMD_SWITCH, 0, seq=5))
    g.tick(g.frame(P.T_COMMAND, b"\x02\x01\x00", seq=6))  # one byte long
    assert [e for e in g.log[n:] if e[0] in ("ack", "ev")] == [
        ("ack", 5000, 3, P.ACK_MALFORMED, "malformed command"),
        ("ev", 5000, P.EV_REFUSED, "malformed command"),
        ("ack", 5100, 4, P.ACK_UNKNOWN, "unknown code"),
        ("ev", 5100, P.EV_REFUSED, "unknown code"),
        ("ack", 5200, 5, P.ACK_REFUSED, "already green"),
        ("ev", 5200, P.EV_REFUSED, "already green"),
        ("ack", 5300, 6, P.ACK_MALFORMED, "malformed command"),
        ("ev", 5300, P.EV_REFUSED, "malformed command"),
    ]
    assert g.ctl.seq.switch_to == -1 and g.ctl.seq.hold is False
    g.run(30000)
    assert g.heads().endswith("3000 Gr")


def test_telemetry_every_second_counts_debounced_rising_edges():
    def levels(rel):
        m = 0
        if rel in (1000, 1100, 2000, 2100, 2200, 3000, 3100):  # three pulses on detector 0
            m |= 1
        if rel >= 1500:  # detector 2 stays present
            m |= 4
        if rel % 700 == 0:  # one-sample blips on detector 3: bounce, never a vehicle
            m |= 8
        return m

    g = Gateway(four())
    g.run(6100, levels)
    dets = g.kinds("det")
    assert [e[1] for e in dets] == [1000, 2000, 3000, 4000, 5000, 6000]
    counts = [[(r[0], r[2]) for r in e[2]] for e in dets]
    # a level is taken after 50 ms unchanged, i.e. one 100 ms tick after the edge
    assert counts == [
        [(0, 0), (0, 0), (0, 0), (0, 0)],
        [(1, 0), (0, 0), (1, 1), (0, 0)],
        [(2, 0), (0, 0), (1, 1), (0, 0)],
        [(3, 0), (0, 0), (1, 1), (0, 0)],
        [(3, 0), (0, 0), (1, 1), (0, 0)],
        [(3, 0), (0, 0), (1, 1), (0, 0)],
    ]
    occ = [r[1] for r in dets[-1][2]]
    assert occ[1] == 0 and occ[3] == 0 and 0 < occ[0] < occ[2] < 1000
    assert list(g.ctl.det.counts) == [3, 0, 1, 0]


def test_heartbeat_about_every_second_on_uneven_ticks():
    g = Gateway(two())
    steps = (70, 130, 90, 110, 40, 160)
    k = 0
    while g.rel < 20000:
        g.tick(dt=steps[k % len(steps)])
        k += 1
    sent = [e[1] for e in g.kinds("hb")]
    assert sent[0] == 0 and len(sent) >= 18
    for i in range(1, len(sent)):
        assert 1000 <= sent[i] - sent[i - 1] < 1000 + 160, sent


def _bad_crc(mtype, seq, payload):
    body = struct.pack(">BIBH", P.VERSION, P.SCHEMA_HASH, mtype, seq) + payload
    crc = (binascii.crc32(body) & 0xFFFFFFFF) ^ 1
    return P.cobs_encode(body + struct.pack(">I", crc)) + b"\x00"


def test_corrupt_frames_are_dropped_and_counted_and_the_next_good_one_handled():
    g = Gateway(two())
    g.run(3500)
    other_schema = struct.pack(">BIBH", 1, P.SCHEMA_HASH ^ 1, P.T_HEARTBEAT, 1) + bytes(4)
    other_schema += struct.pack(">I", binascii.crc32(other_schema) & 0xFFFFFFFF)
    bad = (
        _bad_crc(P.T_HEARTBEAT, 1, P.pack_heartbeat(0))
        + b"\x07AB\x00"  # COBS code running past the end: line noise
        + P.cobs_encode(other_schema)
        + b"\x00\x02\x05\x00"  # an empty frame (harmless) and a 1-byte one
    )
    g.tick(bad)
    g.run(7000)
    assert g.ctl.mode == P.MODE_LOCAL  # bad frames are not a sign of life
    errors = g.ctl.decoder.errors
    assert (errors["crc"], errors["cobs"], errors["schema"], errors["short"]) == (1, 1, 1, 1)
    assert g.ctl.decoder.frames == 0
    good = g.frame(P.T_HEARTBEAT, P.pack_heartbeat(7000))
    out = g.at(7000, bad + good)
    assert out[:2] == [
        ("ev", 7000, P.EV_LINK_UP, "gateway link up"),
        ("ev", 7000, P.EV_MODE, "remote"),
    ]
    assert sum(g.ctl.decoder.errors.values()) == 8

    # a command dribbled in 3 bytes a tick: answered once, when its delimiter arrives
    data = g.cmd(P.CMD_HOLD, 0, seq=42)
    n = len(g.log)
    for i in range(0, len(data), 3):
        g.tick(data[i : i + 3])
    acks = [e for e in g.log[n:] if e[0] == "ack"]
    assert acks == [("ack", g.rel - DT, 42, P.ACK_OK, "")]
    assert g.ctl.seq.hold is True and sum(g.ctl.decoder.errors.values()) == 8


def _lcg(seed):
    state = [seed]

    def nxt(n):  # 0 <= x < n, the same on both interpreters
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return (state[0] >> 8) % n

    return nxt


def test_random_chunks_of_good_and_bad_frames():
    for seed in (1, 2, 3):
        rnd = _lcg(seed)
        g = remote()
        g.alive = False  # heartbeats go into the chunked stream instead
        stream = b""
        want = []
        crc = cobs = 0
        for k in range(24):
            pick = rnd(4)
            if pick == 0:
                stream += _bad_crc(P.T_COMMAND, 500 + k, G.pack_command(P.CMD_CLEAR))
                crc += 1
            elif pick == 1:
                stream += b"\x09" + bytes(1 + rnd(5) for _ in range(rnd(7))) + b"\x00"
                cobs += 1
            elif pick == 2:
                stream += g.frame(P.T_HEARTBEAT, P.pack_heartbeat(k))
            else:
                stream += g.cmd(P.CMD_CLEAR, 0, seq=500 + k)
                want.append(500 + k)
        n = len(g.log)
        i = 0
        while i < len(stream):
            step = 1 + rnd(30)
            g.tick(stream[i : i + step])
            i += step
        assert [e[2] for e in g.log[n:] if e[0] == "ack"] == want, seed
        assert [e[3] for e in g.log[n:] if e[0] == "ack"] == [P.ACK_OK] * len(want)
        e = g.ctl.decoder.errors
        assert (e["crc"], e["cobs"], sum(e.values())) == (crc, cobs, crc + cobs), seed


def _after_fault(g, detail):
    """Check the flash latch once the monitor found `detail`; return the fault event's rel."""
    faults = [e for e in g.log if e[0] == "ev" and e[2] == P.EV_FAULT]
    assert faults and faults[0][3] == detail, g.log[-6:]
    rel = faults[0][1]
    assert ("ev", rel, P.EV_MODE, "flash") in g.log
    assert ("state", rel, P.MODE_FLASH, 255, 0, "ff") in g.log
    seq = g.ctl.seq
    assert seq.state == sequencer.FAULT and seq.fault_reason == detail
    assert g.ctl.mode == P.MODE_FLASH and bytes(g.ctl.signals) == b"ff"
    # commands are refused; detector calls and time do not leave flash
    out = g.at(g.rel, g.cmd(P.CMD_SWITCH, 1, seq=77))
    assert out[:2] == [
        ("ack", g.rel - DT, 77, P.ACK_REFUSED, "not in remote mode"),
        ("ev", g.rel - DT, P.EV_REFUSED, "not in remote mode"),
    ]
    g.run(g.rel + 10000, lambda rel: 0b11)
    assert g.heads().endswith("%d ff" % rel)
    assert {e[2] for e in g.kinds("state") if e[1] >= rel} == {P.MODE_FLASH}
    assert len(faults) == len([e for e in g.log if e[0] == "ev" and e[2] == P.EV_FAULT])
    return rel


def test_monitor_catches_heads_poked_into_conflict_within_a_second():
    g = remote()
    g.run(5100)
    g.ctl.signals[1] = ord("G")  # both ns and ew green, behind the sequencer's back
    g.run(6100)
    rel = _after_fault(g, "conflict ns/ew")
    assert 5100 <= rel <= 6000


def test_monitor_catches_a_sequencer_that_skips_yellow_at_once():
    g = remote()
    g.run(7900)
    orig = g.ctl.seq.step
    calls = [0]

    def broken(now_ms, called, *more):
        calls[0] += 1
        if calls[0] > 1:
            return orig(now_ms, called, *more)
        g.ctl.signals[0] = ord("r")  # green straight to red, once
        return True

    g.ctl.seq.step = broken
    g.tick()
    assert _after_fault(g, "no yellow ns") == 7900


def _conversation(t0):
    g = Gateway(four(), t0)
    g.run(4500)
    g.alive = True
    g.run(7000, lambda rel: 0b0100 if 6000 <= rel < 6300 else 0)
    g.tick(g.cmd(P.CMD_SWITCH, 3, seq=1))
    g.run(30000, lambda rel: 0b0001 if 20000 <= rel < 20300 else 0)
    g.alive = False
    g.run(36000)
    return g


def test_conversation_is_the_same_across_the_tick_wrap():
    g = _conversation(ticks.PERIOD - 5000)  # wraps at rel 5000, the gateway just heard
    assert g.now() < g.t0
    assert g.log == _conversation(0).log
    assert ("ack", 7000, 1, P.ACK_OK, "") in g.log
    assert g.kinds("ev") == [
        ("ev", 0, P.EV_BOOT, "boot four"),
        ("ev", 4500, P.EV_LINK_UP, "gateway link up"),
        ("ev", 6000, P.EV_MODE, "remote"),
        ("ev", 32500, P.EV_LINK_DOWN, "gateway link down: local control"),
        ("ev", 32500, P.EV_MODE, "local"),
    ]
    # SWITCH(3) skips phases 1 and 2 after phase 0's min green; then the call on phase 0 is
    # next in cyclic order, and then phase 2's (latched at 6100, ew overlaps 3 -> 2)
    assert g.heads() == (
        "0 fffff, 4000 rrrrr, 6000 GGrrr, 11000 yyrrr, 14000 rrrrr, 15000 rrrGG, "
        "22000 rrryy, 25000 rrrrr, 26000 GGrrr, 31000 yyrrr, 34000 rrrrr, 35000 rrrGr"
    )
    assert g.ctl.seq.phase == 2
    assert list(g.ctl.det.counts) == [1, 0, 1, 0] and g.ctl.mode == P.MODE_LOCAL


def test_a_command_arriving_with_the_frame_that_revives_the_link_runs_once():
    g = remote()
    g.run(6000)  # last gateway heartbeat at 5500
    g.alive = False
    g.run(9000)  # link down at 8500
    revive = g.frame(P.T_HEARTBEAT, P.pack_heartbeat(9000)) + g.cmd(P.CMD_SWITCH, 1, seq=7)
    out = g.at(9000, revive)
    assert ("ev", 9000, P.EV_LINK_UP, "gateway link up") in out
    assert out.index(("ev", 9000, P.EV_LINK_UP, "gateway link up")) < out.index(
        ("ack", 9000, 7, P.ACK_OK, "")
    )
    g.alive = True
    assert g.at(9100, g.cmd(P.CMD_CLEAR, 0, seq=8))[0] == ("ack", 9100, 8, P.ACK_OK, "")
    assert g.ctl.seq.switch_to == -1
    # the retry of seq 7 gets its stored answer and does not set the switch again
    assert g.at(9200, g.cmd(P.CMD_SWITCH, 1, seq=7)) == [("ack", 9200, 7, P.ACK_OK, "")]
    assert g.ctl.seq.switch_to == -1


def test_a_command_on_the_tick_silence_ends_the_link_is_not_silently_cancelled():
    g = remote()
    g.run(6000)  # last gateway heartbeat at 5500: silence reaches 3 s at 8500
    g.alive = False
    late = g.frame(P.T_HEARTBEAT, P.pack_heartbeat(8500)) + g.cmd(P.CMD_SWITCH, 1, seq=9)
    out = g.at(8500, late)
    down = ("ev", 8500, P.EV_LINK_DOWN, "gateway link down: local control")
    up = ("ev", 8500, P.EV_LINK_UP, "gateway link up")
    ack = ("ack", 8500, 9, P.ACK_OK, "")
    assert out.index(down) < out.index(up) < out.index(ack)
    assert g.ctl.seq.switch_to == 1  # accepted and still in force


def test_call_and_omit_are_acked_and_an_unsigned_preempt_is_refused():
    g = remote()
    n = len(g.log)
    g.tick(g.cmd(P.CMD_OMIT, 1, seq=7))
    g.tick(g.cmd(P.CMD_CALL, 1, seq=8))
    g.tick(g.cmd(P.CMD_PREEMPT, 1, seq=9))
    g.tick(g.cmd(P.CMD_CALL, 7, seq=10))
    assert [e for e in g.log[n:] if e[0] in ("ack", "ev")] == [
        ("ack", 4600, 7, P.ACK_OK, ""),
        ("ack", 4700, 8, P.ACK_OK, ""),
        ("ack", 4800, 9, P.ACK_REFUSED, "needs an operator signature"),
        ("ev", 4800, P.EV_REFUSED, "needs an operator signature"),
        ("ack", 4900, 10, P.ACK_REFUSED, "unknown phase"),
        ("ev", 4900, P.EV_REFUSED, "unknown phase"),
    ]
    assert g.ctl.seq.pre == 0 and g.ctl.seq.omit == 0b10 and g.ctl.seq.latched == 0b10
    g.run(12100)
    assert g.heads().endswith("8000 yr, 11000 rr, 12000 rG")  # omitted, but the only demand


def _with_diagnostics():
    d = two()
    d["detectors"] = [[0], [1], [1]]
    d["det_kind"] = [0, 0, 2]  # input 2: preempt of phase 1
    d["det_diag"] = [[0, 20000, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    return d


def test_a_stuck_detector_is_an_event_and_a_permanent_call_and_preempt_inputs_preempt():
    g = Gateway(_with_diagnostics())
    g.run(30000, levels=lambda rel: 0b001)  # ns on from 0 (debounced at 100)
    # diagnostics run once a second: at 21000 presence has lasted 20900 >= 20000
    assert [e for e in g.kinds("ev") if e[2] == P.EV_DETECTOR] == [
        ("ev", 21000, P.EV_DETECTOR, "detector 0 max presence")
    ]
    assert g.ctl.det.failed == 0b001
    g.run(32000, levels=lambda rel: 0)
    assert [e for e in g.kinds("ev") if e[2] == P.EV_DETECTOR][1:] == [
        ("ev", 31000, P.EV_DETECTOR, "detector 0 ok")
    ]
    g.run(60000, levels=lambda rel: 0b100 if rel < 50000 else 0b001)
    # the preempt input (debounced at 32100) ends ns at once (min green long over), holds ew
    # until it drops (50100), then ns is served again
    assert g.heads() == (
        "0 ff, 2000 rr, 3000 Gr, 32100 yr, 35100 rr, 36100 rG, 50100 ry, 53600 rr, 54100 Gr"
    )


def test_private_copies_of_the_codes_match_their_modules():
    # controller.py, safemode.py and app.py keep the protocol's codes and the sequencer's states
    # as private consts (on MicroPython they take no heap, and are folded away: CPython checks)
    import sys

    if sys.implementation.name == "micropython":
        return
    from firmware import app, build, controller, detectors, monitor, rings, safemode, sequencer

    checked = 0
    # build.py (the start-up code) keeps copies of other modules' private numbers too
    for name, src in (("_BUCKETS", detectors), ("_RX_FRAME", controller),
                      ("_TELEMETRY_EVERY_MS", controller), ("_MIN_YELLOW", monitor),
                      ("_F", monitor), ("_G", monitor), ("_g", monitor)):  # fmt: skip
        assert getattr(build, name) == getattr(src, name), name
    assert build._RING_W == rings._W
    assert build._OUT_BYTES == controller.OUT_BYTES
    for mod in (controller, safemode, app, sequencer, monitor, build):
        for name in dir(mod):
            for src in (G, sequencer, monitor):
                v = getattr(src, name[1:], None) if name[:1] == "_" else None
                if type(v) is int and name[1:].isupper():
                    assert getattr(mod, name) == v, (mod.__name__, name)
                    checked += 1
    assert checked >= 30
