# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""The controller checks operator signatures and the gateway's link key itself (firmware/auth.py):
forged, unknown-key, replayed, stale and expired operator commands and unsigned or replayed
gateway requests are refused; a valid operator-signed preempt runs."""

import struct

from configs import two
from test_controller import Gateway

from firmware import auth as A
from firmware import config
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.controller import Controller

SITE = "demo"
K = bytes(range(1, 33))  # the operator's key, provisioned on the controller
LINK = bytes(range(100, 132))
KEYS = (SITE.encode(), {b"alice": K}, LINK)
BOOT = 0x2345678
T = 1764000000  # Unix seconds


def _hex(b):
    return "".join("%02x" % c for c in b)


def gateway_key(key, site=SITE, ix="two"):
    """K_gw as the gateway's secrets file holds it (gateway/signing.py derives the same)."""
    return A.mac(key, ("greenwave-gateway-key-1\n%s\n%s" % (site, ix)).encode())


def signed(name, code, arg, ts, nonce, key=K, key_id="alice", ttl=30, site=SITE, ix="two"):
    """A SIGNED COMMAND payload, signed by hand over the canonical bytes."""
    exp = ts + ttl
    msg = "\n".join(("greenwave-cmd-1", site, ix, name, str(arg), key_id, str(ts), str(exp), nonce))
    return G.pack_signed(code, arg, key_id, ts, exp, nonce, A.mac(key, msg.encode()))


def keyed(keys=KEYS):
    """A Gateway (test_controller's) whose controller holds `keys`, link up and remote at 4600."""
    g = Gateway(two())
    g.ctl = Controller(config.load(two()), g.t0, keys, BOOT)
    g.log = []
    g._ctl_seq = 0
    g.run(4000)
    g.alive = True
    g.run(4600)
    return g


def acks(entries):
    return [(e[3], e[4]) for e in entries if e[0] == "ack"]


def send(g, mtype, payload, seq):
    return acks(g.at(g.rel, g.frame(mtype, payload, seq)))


def nonce(i):
    return "%032x" % (0xABC000 + i)


def test_hmac_is_rfc_4231():
    mac = A.mac(b"Jefe", b"what do ya want for nothing?")
    assert _hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    long_key = b"\xaa" * 131  # over the block size: hashed first (RFC 4231 case 6)
    mac = A.mac(long_key, b"Test Using Larger Than Block-Size Key - Hash Key First")
    assert _hex(mac) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_mac_of_parts_is_the_mac_of_their_canonical_bytes():
    # the controller gives mac the fields, ints among them, not the joined bytes
    parts = (b"greenwave-cmd-1", b"demo", 0, 7, 10, 255, T, b"n")
    want = b"greenwave-cmd-1\ndemo\n0\n7\n10\n255\n1764000000\nn"
    assert A.mac(K, *parts) == A.mac(K, want)
    assert A.mac(K, b"") == A.mac(K)  # no parts: the empty message


def test_an_operator_signed_preempt_is_accepted_and_a_link_signed_one_is_not():
    g = keyed()
    assert send(g, P.T_SIGNED, signed("preempt", P.CMD_PREEMPT, 1, T, nonce(1)), 50) == [
        (P.ACK_OK, "")
    ]
    assert g.ctl.seq.pre_cmd == 2
    tag = G.pack_command(P.CMD_PREEMPT, 255, LINK, BOOT, 1)
    assert send(g, P.T_COMMAND, tag, 51) == [(P.ACK_REFUSED, "needs an operator signature")]
    release = signed("preempt", P.CMD_PREEMPT, 255, T + 1, nonce(2))
    assert send(g, P.T_SIGNED, release, 52) == [(P.ACK_OK, "")]
    assert g.ctl.seq.pre_cmd == 0


def test_forged_unknown_key_and_gateway_key_signatures_are_refused():
    g = keyed()
    forged = bytearray(signed("hold", P.CMD_HOLD, 0, T, nonce(1)))
    forged[20] ^= 1  # one bit of the signature
    assert send(g, P.T_SIGNED, bytes(forged), 60) == [(P.ACK_REFUSED, "bad signature")]
    other = signed("hold", P.CMD_HOLD, 0, T, nonce(2), key_id="mallory")
    assert send(g, P.T_SIGNED, other, 61) == [(P.ACK_REFUSED, "unknown key")]
    # what a gateway holding only K_gw can make: a signature with K_gw in K's place
    gw_made = signed("preempt", P.CMD_PREEMPT, 1, T, nonce(3), key=gateway_key(K))
    assert send(g, P.T_SIGNED, gw_made, 62) == [(P.ACK_REFUSED, "bad signature")]
    # signed for another intersection, or for another command than the one on the wire
    elsewhere = signed("hold", P.CMD_HOLD, 0, T, nonce(4), ix="cross")
    assert send(g, P.T_SIGNED, elsewhere, 63) == [(P.ACK_REFUSED, "bad signature")]
    swapped = bytearray(signed("release", P.CMD_CLEAR, 0, T, nonce(5)))
    swapped[0] = P.CMD_HOLD
    assert send(g, P.T_SIGNED, bytes(swapped), 64) == [(P.ACK_REFUSED, "bad signature")]
    assert g.ctl.seq.pre_cmd == 0 and not g.ctl.seq.hold


def test_a_replayed_nonce_and_a_stale_ts_after_eviction_are_refused():
    g = keyed()
    first = signed("hold", P.CMD_HOLD, 0, T, nonce(0))
    assert send(g, P.T_SIGNED, first, 70) == [(P.ACK_OK, "")]
    assert send(g, P.T_SIGNED, first, 70) == [(P.ACK_OK, "")]  # a retry: same seq, same ACK
    assert send(g, P.T_SIGNED, first, 71) == [(P.ACK_REFUSED, "replayed")]
    for i in range(1, 8 + 1):  # fills the ring of 8: the first (ts T) is evicted
        cmd = signed("release", P.CMD_CLEAR, 0, T + i, nonce(i))
        assert send(g, P.T_SIGNED, cmd, 71 + i) == [(P.ACK_OK, "")]
    assert send(g, P.T_SIGNED, first, 90) == [(P.ACK_REFUSED, "replayed or stale")]
    fresh_nonce_old_ts = signed("hold", P.CMD_HOLD, 0, T, nonce(99))
    assert send(g, P.T_SIGNED, fresh_nonce_old_ts, 91) == [(P.ACK_REFUSED, "replayed or stale")]
    newer = signed("hold", P.CMD_HOLD, 0, T + 20, nonce(100))
    assert send(g, P.T_SIGNED, newer, 92) == [(P.ACK_OK, "")]


def test_a_command_is_expired_by_the_gateways_clock_or_a_later_signature():
    g = keyed()
    late = signed("hold", P.CMD_HOLD, 0, T, nonce(1))  # exp T + 30
    hb = G.pack_heartbeat(g.rel, T + 30 - G.UNIX_EPOCH)
    g.at(g.rel, g.frame(P.T_HEARTBEAT, hb))
    assert send(g, P.T_SIGNED, late, 80) == [(P.ACK_REFUSED, "expired")]
    # the controller's time never goes back: an older heartbeat does not revive it
    g.at(g.rel, g.frame(P.T_HEARTBEAT, G.pack_heartbeat(g.rel, T - G.UNIX_EPOCH)))
    assert send(g, P.T_SIGNED, late, 81) == [(P.ACK_REFUSED, "expired")]
    g2 = keyed()
    later = signed("release", P.CMD_CLEAR, 0, T + 100, nonce(2))
    assert send(g2, P.T_SIGNED, later, 82) == [(P.ACK_OK, "")]
    assert send(g2, P.T_SIGNED, late, 83) == [(P.ACK_REFUSED, "expired")]


def test_gateway_requests_need_the_link_key_and_a_growing_counter():
    g = keyed()
    assert send(g, P.T_COMMAND, G.pack_command(P.CMD_HOLD), 40) == [
        (P.ACK_REFUSED, "bad link signature")
    ]
    wrong = G.pack_command(P.CMD_HOLD, 0, bytes(range(32)), BOOT, 1)
    assert send(g, P.T_COMMAND, wrong, 41) == [(P.ACK_REFUSED, "bad link signature")]
    other_boot = G.pack_command(P.CMD_HOLD, 0, LINK, BOOT + 1, 1)
    assert send(g, P.T_COMMAND, other_boot, 42) == [(P.ACK_REFUSED, "bad link signature")]
    good = G.pack_command(P.CMD_HOLD, 0, LINK, BOOT, 5)
    assert send(g, P.T_COMMAND, good, 43) == [(P.ACK_OK, "")]
    assert g.ctl.link_ctr == 5
    assert send(g, P.T_COMMAND, good, 44) == [(P.ACK_REFUSED, "replayed")]
    older = G.pack_command(P.CMD_CLEAR, 0, LINK, BOOT, 4)
    assert send(g, P.T_COMMAND, older, 45) == [(P.ACK_REFUSED, "replayed")]
    # the controller's heartbeat says its boot id and counter, so a gateway can carry on
    g.rel += 1000
    g.ctl.step(g.now(), 0)
    data = g.ctl.take_output()
    beats = [G.unpack_heartbeat(p) for t, s, p in P.Decoder().feed(data) if t == P.T_HEARTBEAT]
    assert beats and beats[-1][1:] == (BOOT, 5)


def test_without_keys_signed_commands_are_refused_and_plain_requests_run():
    g = keyed(None)
    cmd = signed("hold", P.CMD_HOLD, 0, T, nonce(1))
    assert send(g, P.T_SIGNED, cmd, 30) == [(P.ACK_REFUSED, "no operator keys")]
    assert send(g, P.T_COMMAND, G.pack_command(P.CMD_HOLD), 31) == [(P.ACK_OK, "")]
    g2 = keyed((SITE.encode(), {}, LINK))  # a link key but no operator
    assert send(g2, P.T_SIGNED, cmd, 32) == [(P.ACK_REFUSED, "no operator keys")]


def test_malformed_signed_commands_are_refused_not_run():
    g = keyed()
    good = signed("hold", P.CMD_HOLD, 0, T, nonce(1))
    for i, bad in enumerate((b"", good[:42], good[:50], good + b"0" * 50)):
        assert send(g, P.T_SIGNED, bad, 20 + i)[0][0] in (P.ACK_REFUSED, P.ACK_MALFORMED)
    too_long = signed("hold", P.CMD_HOLD, 0, T, nonce(2), ttl=301)
    assert send(g, P.T_SIGNED, too_long, 30) == [(P.ACK_MALFORMED, "malformed command")]
    assert struct.unpack_from(">BB", good, 0) == (P.CMD_HOLD, 0)
    assert not g.ctl.seq.hold


def test_an_operator_flash_latches_and_clear_flash_asks_the_app_to_reset():
    g = keyed()
    clear = signed("clear-flash", P.CMD_CLEAR_FLASH, 0, T, nonce(1))
    assert send(g, P.T_SIGNED, clear, 100) == [(P.ACK_REFUSED, "nothing to clear")]
    assert not g.ctl.cleared
    # only an operator may flash: a link-tagged one is refused before anything runs
    tag = G.pack_command(P.CMD_FLASH, 0, LINK, BOOT, 1)
    assert send(g, P.T_COMMAND, tag, 101) == [(P.ACK_REFUSED, "needs an operator signature")]
    forged = bytearray(signed("flash", P.CMD_FLASH, 0, T + 1, nonce(2)))
    forged[20] ^= 1
    assert send(g, P.T_SIGNED, bytes(forged), 102) == [(P.ACK_REFUSED, "bad signature")]
    assert g.ctl.seq.state != 5  # sequencer.FAULT
    log = g.at(g.rel, g.frame(P.T_SIGNED, signed("flash", P.CMD_FLASH, 0, T + 2, nonce(3)), 103))
    assert ("ack", log[0][1], 103, P.ACK_OK, "") in log
    assert ("ev", log[0][1], P.EV_MODE, "flash by operator alice") in log
    assert g.ctl.seq.state == 5 and g.ctl.seq.fault_reason == "flash by operator alice"
    g.run(g.rel + 1000)
    assert bytes(g.ctl.signals) == b"f" * len(g.ctl.signals)
    assert g.kinds("state")[-1][2] == P.MODE_FLASH
    again = signed("flash", P.CMD_FLASH, 0, T + 3, nonce(4))
    assert send(g, P.T_SIGNED, again, 104) == [(P.ACK_REFUSED, "already in flash")]
    # the flash stays (the app resets only once the ACK has gone): then start-up runs afresh
    assert send(
        g, P.T_SIGNED, signed("clear-flash", P.CMD_CLEAR_FLASH, 0, T + 4, nonce(5)), 105
    ) == [(P.ACK_OK, "")]
    assert g.ctl.cleared == 1 and g.ctl.seq.state == 5


def test_a_retried_operator_command_gets_the_same_answer_without_a_rerun():
    g = keyed()
    flash = signed("flash", P.CMD_FLASH, 0, T, nonce(1))
    assert send(g, P.T_SIGNED, flash, 110) == [(P.ACK_OK, "")]
    assert send(g, P.T_SIGNED, flash, 110) == [(P.ACK_OK, "")]  # the retry: no "already in flash"
    assert send(g, P.T_SIGNED, flash, 111) == [(P.ACK_REFUSED, "replayed")]


def test_without_keys_flash_and_clear_flash_are_refused():
    g = keyed(None)
    cmd = signed("flash", P.CMD_FLASH, 0, T, nonce(1))
    assert send(g, P.T_SIGNED, cmd, 30) == [(P.ACK_REFUSED, "no operator keys")]
    plain = G.pack_command(P.CMD_CLEAR_FLASH)
    assert send(g, P.T_COMMAND, plain, 31) == [(P.ACK_REFUSED, "needs an operator signature")]
    assert g.ctl.seq.state != 5 and not g.ctl.cleared
