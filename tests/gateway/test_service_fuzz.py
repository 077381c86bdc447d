"""100,000 fuzzed serial frames into a running gateway: no crash, every frame accounted for.

The gateway reads a real pseudo-terminal with pyserial and publishes to the real test broker, as
in test_service.py; this test writes on the master side itself. Each fuzzed frame ends in the
0x00 delimiter, so the stream splits into known pieces. Every piece must end up counted exactly
once: as a good frame (CRC and header right) or as a dropped one with its reason. Every good frame
whose content is wrong (bad length, unknown type, a state for another config) is counted as a bad
payload and dropped; afterwards the gateway still publishes what a well-formed frame says.
"""

import os
import random
import threading
import time
import tty
import uuid

import pytest

from edge.factories import cross
from firmware import protocol as P
from gateway.clock import ScaledClock
from gateway.mqtt import Mqtt
from gateway.service import Gateway

N_FRAMES = 100_000
SEED = 20261130


def fuzzed_stream(n, rng, n_groups):
    """n delimited pieces: good frames with random content, damaged frames, and junk."""
    valid_types = (P.T_HEARTBEAT, P.T_STATE, P.T_DETECTORS, P.T_EVENT, P.T_ACK)
    out = bytearray()
    must_refuse = 0  # good frames whose content the gateway must drop as a bad payload
    for i in range(n):
        kind = rng.random()
        if kind < 0.35:  # right CRC and header, random content and type
            payload = rng.randbytes(rng.randrange(0, 40))
            mtype = rng.randrange(256)
            must_refuse += mtype not in valid_types
            frame = P.encode(mtype, i, payload)
        elif kind < 0.5:  # a well-formed state for a config with another number of groups
            k = rng.choice([g for g in range(1, 12) if g != n_groups])
            frame = P.encode(P.T_STATE, i, P.pack_state(1, 0, 100, "r" * k))
            must_refuse += 1
        elif kind < 0.7:  # a real message type with a payload cut short or lengthened
            mtype = rng.choice(valid_types)
            good = {
                P.T_HEARTBEAT: P.pack_heartbeat(i),
                P.T_STATE: P.pack_state(1, 0, 100, "r" * n_groups),
                P.T_DETECTORS: P.pack_detectors(i, [(1, 0, 0)] * 3),
                P.T_EVENT: P.pack_event(1, i, "x"),
                P.T_ACK: P.pack_ack(i, 0),
            }[mtype]
            cut = rng.randrange(0, len(good) + 8)
            payload = good[:cut] if cut < len(good) else good + rng.randbytes(cut - len(good))
            frame = P.encode(mtype, i, payload)
        elif kind < 0.9:  # one byte of a good frame damaged (never into a delimiter)
            frame = bytearray(P.encode(P.T_EVENT, i, P.pack_event(2, i, "fuzz")))
            at = rng.randrange(len(frame) - 1)
            frame[at] = (frame[at] + rng.randrange(1, 255)) % 256 or 1
            frame = bytes(frame)
        elif kind < 0.98:  # junk without delimiters, then one
            frame = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 60))) + b"\0"
        else:  # a run longer than any frame: dropped as "long"
            frame = b"\x7f" * rng.randrange(300, 700) + b"\0"
        out += frame
    return bytes(out), must_refuse


def pieces(stream):
    """How many frames the decoder must account for: non-empty runs ended by a delimiter."""
    return sum(1 for chunk in stream.split(b"\0")[:-1] if chunk)


@pytest.fixture
def fuzz_gateway(broker):
    ix = cross()
    site = f"fuzz-{uuid.uuid4().hex[:8]}"
    master, slave = os.openpty()
    tty.setraw(slave)
    creds = {"username": "gateway", "password": broker.users["gateway"]} if broker.users else {}
    mqtt = Mqtt(
        broker.url, f"gw-{site}", f"greenwave/{site}/{ix.id}/availability", **creds
    ).connect()
    gw = Gateway(ix, os.ttyname(slave), mqtt, ScaledClock(time.time_ns(), 1.0), site=site)
    gw.start()
    yield ix, gw, master
    gw.stop()
    mqtt.close(offline=False)
    os.close(master)
    os.close(slave)


def test_fuzzed_serial_frames_are_all_counted_and_the_gateway_carries_on(fuzz_gateway):
    ix, gw, master = fuzz_gateway
    rng = random.Random(SEED)
    stream, must_refuse = fuzzed_stream(N_FRAMES, rng, len(ix.groups))
    expected = pieces(stream)
    assert expected >= N_FRAMES  # junk may hold delimiters of its own: more pieces, never fewer

    writer_error = []

    def write_all():
        try:
            view = memoryview(stream)
            while view:
                n = os.write(master, view[:4096])
                view = view[n:]
        except OSError as e:
            writer_error.append(e)

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    dec = gw.link.decoder
    deadline = time.monotonic() + 240
    while dec.frames + dec.dropped < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.join(timeout=5)
    assert not writer_error, writer_error
    assert dec.frames + dec.dropped == expected, (dec.frames, dict(dec.errors), expected)
    assert dec.errors["crc"] > 0 and dec.errors["long"] > 0 and dec.errors["cobs"] > 0
    assert gw.stats["frames"] == dec.frames  # every good frame reached the gateway's handler
    assert gw.stats["bad_payloads"] >= must_refuse > 0
    assert gw._thread.is_alive()  # no crash

    # still serving: a well-formed state is taken as it is
    signals = "r" * len(ix.groups)
    before = gw.stats["frames"]
    os.write(master, P.encode(P.T_STATE, 1, P.pack_state(1, 0, 500, signals)))
    deadline = time.monotonic() + 10
    while gw.stats["frames"] == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gw.state is not None and gw.state["signals"] == signals
    assert gw.health()["crc_errors"] == dec.errors["crc"]
