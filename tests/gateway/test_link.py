"""gateway.link.SerialLink over pyserial's loop:// and over real pseudo-terminal pairs.

The pty master plays the controller: the test writes frames into it and reads what the gateway
sent. Time comes from a fake clock the test moves, so retries and heartbeats are exact.
"""

import binascii
import os
import random
import select
import struct
import tty

import pytest

from firmware import protocol as P
from gateway.link import _MAX_TRIES, _RETRY_MS, LinkError, SerialLink


class FakeClock:
    """clock_ms for the link: returns `t`, which the test sets."""

    def __init__(self, t=1_000_000):
        self.t = t

    def __call__(self):
        return self.t


class Controller:
    """The controller's end of a pty pair: raw bytes in and out, frames decoded."""

    def __init__(self):
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no newline translation: a cable, not a terminal
        self.path = os.ttyname(self._slave)
        self.decoder = P.Decoder()

    def send(self, data):
        os.write(self.master, data)

    def frames(self, wait_s=0.05):
        """Every frame the gateway wrote so far (waits up to wait_s for the first bytes)."""
        out = []
        while select.select([self.master], [], [], wait_s)[0]:
            out += self.decoder.feed(os.read(self.master, 4096))
            wait_s = 0.01
        return out

    def close(self):
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def peer():
    c = Controller()
    yield c
    c.close()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def link(peer, clock):
    lk = SerialLink(peer.path, 115200, clock).open()
    yield lk
    lk.close()


def receive_until(link, n, tries=50):
    """Call receive() until n messages arrived (bytes on a pty may come in pieces)."""
    got = []
    for _ in range(tries):
        got += link.receive()
        if len(got) >= n:
            break
    return got


def raw_frame(mtype, seq, payload, version=P.VERSION, schema=P.SCHEMA_HASH):
    """A frame built by hand, so header fields the encoder fixes can be set wrong."""
    body = struct.pack(">BIBH", version, schema, mtype, seq) + payload
    body += struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)
    return P.cobs_encode(body) + b"\x00"


def commands(frames):
    return [
        (seq, P.unpack_command(payload)) for mtype, seq, payload in frames if mtype == P.T_COMMAND
    ]


def heartbeats(frames):
    return [P.unpack_heartbeat(p)[0] for mtype, _seq, p in frames if mtype == P.T_HEARTBEAT]


# --- loop:// ------------------------------------------------------------------------------


def test_loop_url_frames_written_come_back_decoded():
    clock = FakeClock(42_000)
    link = SerialLink("loop://", 115200, clock, unix=lambda: 1_764_000_000.7).open()
    try:
        seq = link.command(P.CMD_SWITCH, 2)
        assert link.receive() == [(P.T_COMMAND, seq, P.pack_command(P.CMD_SWITCH, 2))]
        # That receive() also sent the first heartbeat, which loops back now.
        # with the gateway's Unix time, the controller's clock for command expiry
        hb = P.pack_heartbeat(42_000, 1_764_000_000 - P.UNIX_EPOCH)
        assert link.receive() == [(P.T_HEARTBEAT, (seq + 1) & 0xFFFF, hb)]
        assert link.decoder.dropped == 0
    finally:
        link.close()


# --- decoding over a pty --------------------------------------------------------------------


def test_controller_frames_are_decoded_in_order(peer, link):
    sent = [
        (P.T_STATE, 10, P.pack_state(P.MODE_REMOTE, 1, 2500, "rrGGrrrr")),
        (P.T_DETECTORS, 11, P.pack_detectors(1234, [(7, 120, 1), (65535, 0, 0)])),
        (P.T_EVENT, 12, P.pack_event(P.EV_MODE, 1234, "remote")),
        (P.T_ACK, 13, P.pack_ack(99, P.ACK_REFUSED, "not green")),
    ]
    peer.send(b"".join(P.encode(*m) for m in sent))
    assert receive_until(link, len(sent)) == sent
    assert link.decoder.frames == len(sent)


def test_frames_split_into_uneven_chunks_still_decode(peer, link):
    rng = random.Random(7)
    sent = [(P.T_HEARTBEAT, s, P.pack_heartbeat(s * 1000)) for s in range(20)]
    data = b"".join(P.encode(*m) for m in sent)
    got = []
    i = 0
    while i < len(data):
        n = rng.randint(1, 9)
        peer.send(data[i : i + n])
        i += n
        got += link.receive()
    got += receive_until(link, len(sent) - len(got)) if len(got) < len(sent) else []
    assert got == sent
    assert link.decoder.dropped == 0


def test_bad_frames_are_dropped_counted_by_reason_and_the_next_good_frame_decodes(peer, link):
    good = P.encode(P.T_STATE, 1, P.pack_state(P.MODE_LOCAL, 0, 0, "GGrr"))
    body = bytearray(P.cobs_decode(good[:-1]))
    body[-5] ^= 0x40  # a flipped bit in the payload: the CRC no longer matches
    bad = {
        "crc": P.cobs_encode(body) + b"\x00",
        "short": P.cobs_encode(body[:10]) + b"\x00",  # header and two bytes: under 12
        "version": raw_frame(P.T_STATE, 1, b"\x01\x00" + bytes(4) + b"rr", version=2),
        "schema": raw_frame(P.T_STATE, 1, b"\x01\x00" + bytes(4) + b"rr", schema=0xDEADBEEF),
        "cobs": b"\x05\x01\x00",  # a code byte that points past the end of its frame
        "long": bytes(range(1, 251)) * 2 + b"\x00",  # line noise without a delimiter
    }
    for reason, frame in bad.items():
        peer.send(frame + good)
        got = receive_until(link, 1)
        assert got == [(P.T_STATE, 1, P.pack_state(P.MODE_LOCAL, 0, 0, "GGrr"))], reason
        assert link.decoder.errors[reason] == 1, (reason, link.decoder.errors)
    assert link.decoder.dropped == len(bad)
    assert link.decoder.frames == len(bad)


def test_a_frame_cut_short_is_dropped_and_the_next_one_decodes(peer, link):
    good = P.encode(P.T_EVENT, 5, P.pack_event(P.EV_BOOT, 0, "boot cross"))
    peer.send(good[:-6] + b"\x00" + good)  # the tail of the first frame was lost on the wire
    assert receive_until(link, 1) == [(P.T_EVENT, 5, P.pack_event(P.EV_BOOT, 0, "boot cross"))]
    assert link.decoder.dropped == 1


def test_a_malformed_ack_does_not_lose_the_frames_around_it(peer, link):
    # A frame with a good CRC but a bad payload belongs to the service: the link delivers it.
    hb = (P.T_HEARTBEAT, 4, P.pack_heartbeat(0))
    peer.send(P.encode(P.T_ACK, 3, b"\x01") + P.encode(*hb))
    assert receive_until(link, 2) == [(P.T_ACK, 3, b"\x01"), hb]


# --- link state and heartbeats ---------------------------------------------------------------


def test_link_is_up_after_a_frame_and_down_after_three_silent_seconds(peer, link, clock):
    assert not link.up()
    peer.send(P.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(0)))
    receive_until(link, 1)
    assert link.up()
    clock.t += 2999
    assert link.up()
    clock.t += 1
    assert not link.up()


def test_heartbeats_go_out_when_due(peer, link, clock):
    t0 = clock.t
    link.receive()
    assert heartbeats(peer.frames()) == [t0]  # announce at once
    clock.t += 999
    link.receive()
    assert heartbeats(peer.frames(wait_s=0.02)) == []
    clock.t += 1
    link.receive()
    assert heartbeats(peer.frames()) == [t0 + 1000]
    clock.t += 5500  # a stalled loop sends one heartbeat, not a backlog
    link.receive()
    link.receive()
    assert heartbeats(peer.frames()) == [t0 + 6500]


def test_clock_is_taken_on_the_boards_2_to_the_30_period(peer, clock):
    clock.t = (1 << 30) * 3 + 777
    lk = SerialLink(peer.path, 115200, clock).open()
    try:
        lk.receive()
        assert heartbeats(peer.frames()) == [777]
    finally:
        lk.close()


# --- commands, retries and ACKs --------------------------------------------------------------


def test_a_command_is_retried_with_the_same_seq_until_acked(peer, link, clock):
    seq = link.command(P.CMD_SWITCH, 3)
    link.receive()
    assert commands(peer.frames()) == [(seq, (P.CMD_SWITCH, 3))]
    clock.t += _RETRY_MS - 1
    link.receive()
    assert commands(peer.frames(wait_s=0.02)) == []
    clock.t += 1
    link.receive()
    assert commands(peer.frames()) == [(seq, (P.CMD_SWITCH, 3))]  # same seq: a retry
    peer.send(P.encode(P.T_ACK, 50, P.pack_ack(seq, P.ACK_OK)))
    receive_until(link, 1)
    assert link.pending == {}
    for _ in range(4):
        clock.t += _RETRY_MS
        link.receive()
    assert commands(peer.frames()) == []
    assert link.unanswered == 0


def test_an_unanswered_command_is_given_up_after_the_max_tries(peer, link, clock):
    seq = link.command(P.CMD_HOLD, 1)
    sent = []
    for _ in range(_MAX_TRIES + 3):
        link.receive()
        sent += commands(peer.frames(wait_s=0.02))
        clock.t += _RETRY_MS
    assert sent == [(seq, (P.CMD_HOLD, 1))] * _MAX_TRIES
    assert link.unanswered == 1
    assert link.pending == {}


def test_an_ack_for_another_seq_does_not_stop_the_retries(peer, link, clock):
    seq = link.command(P.CMD_SWITCH, 1)
    peer.send(P.encode(P.T_ACK, 9, P.pack_ack((seq + 1000) & 0xFFFF, P.ACK_OK)))
    receive_until(link, 1)
    clock.t += _RETRY_MS
    link.receive()
    assert commands(peer.frames()) == [(seq, (P.CMD_SWITCH, 1))] * 2


def test_each_command_gets_its_own_seq_and_a_refusal_is_an_answer(peer, link, clock):
    a = link.command(P.CMD_SWITCH, 1)
    b = link.command(P.CMD_CLEAR)
    assert a != b
    peer.send(P.encode(P.T_ACK, 1, P.pack_ack(a, P.ACK_REFUSED, "not in remote mode")))
    receive_until(link, 1)
    assert set(link.pending) == {b}


def test_two_gateways_do_not_start_at_the_same_seq(peer, clock):
    # A restarted gateway numbering from 0 again would have its commands taken for retries.
    firsts = set()
    for _ in range(5):
        lk = SerialLink(peer.path, 115200, clock)
        firsts.add(lk.state.next_seq())
    assert len(firsts) > 1


# --- link tags and operator signatures -----------------------------------------------------


def test_with_a_link_key_commands_carry_a_tag_for_the_controllers_boot_and_counter(peer, clock):
    link_mac = P.link_mac

    key = bytes(range(32))
    lk = SerialLink(peer.path, 115200, clock, link_key=key).open()
    try:
        peer.send(P.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(0, 0x1234, 41)))
        receive_until(lk, 1)
        lk.command(P.CMD_SWITCH, 2)
        lk.command(P.CMD_HOLD)
        sent = [P.unpack_link_command(p) for t, _, p in peer.frames() if t == P.T_COMMAND]
        assert [s[:3] for s in sent] == [(P.CMD_SWITCH, 2, 42), (P.CMD_HOLD, 0, 43)]
        assert sent[0][3] == link_mac(key, 0x1234, 42, P.CMD_SWITCH, 2)
        # the controller rebooted: a new boot id, its counter from 0 again
        peer.send(P.encode(P.T_HEARTBEAT, 2, P.pack_heartbeat(0, 0x999, 0)))
        receive_until(lk, 1)
        lk.command(P.CMD_CLEAR)
        sent = [P.unpack_link_command(p) for t, _, p in peer.frames() if t == P.T_COMMAND]
        assert sent == [(P.CMD_CLEAR, 0, 1, link_mac(key, 0x999, 1, P.CMD_CLEAR, 0))]
    finally:
        lk.close()


def test_an_operators_command_goes_down_with_the_operators_own_signature(peer, link):
    from gateway.signing import Command

    cmd = Command("preempt", 1, "alice", 1_764_000_000, 1_764_000_030, "ab" * 16, "cd" * 32, b"")
    seq = link.command(P.CMD_PREEMPT, 1, cmd)
    frames = [(t, s, p) for t, s, p in peer.frames() if t == P.T_SIGNED]
    assert frames and frames[0][1] == seq
    assert P.unpack_signed(frames[0][2]) == (
        P.CMD_PREEMPT, 1, "alice", 1_764_000_000, 1_764_000_030, "ab" * 16, bytes.fromhex("cd" * 32)
    )  # fmt: skip


# --- opening and failing ---------------------------------------------------------------------


def test_opening_a_missing_port_names_it(tmp_path):
    missing = str(tmp_path / "ttyUSB9")
    with pytest.raises(LinkError, match=f"'{missing}'"):
        SerialLink(missing, 115200, FakeClock()).open()


def test_an_unknown_url_scheme_is_a_link_error():
    with pytest.raises(LinkError, match="'bogus://x'"):
        SerialLink("bogus://x", 115200, FakeClock()).open()


def test_writing_after_the_controller_hung_up_is_a_link_error(peer, link):
    peer.close()
    with pytest.raises(LinkError, match=f"'{peer.path}'"):
        link.command(P.CMD_CLEAR)


def test_reading_after_the_controller_hung_up_is_a_link_error(peer, link):
    peer.close()
    with pytest.raises(LinkError):
        link.receive()


def test_close_is_idempotent(peer, clock):
    lk = SerialLink(peer.path, 115200, clock).open()
    lk.close()
    lk.close()
