# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""firmware/protocol_frames.py: COBS of a whole buffer, `encode`, and `Decoder.feed` in any
chunking, with bad input bounded and counted (the controller's in-place paths, Encoder and
Reader.push, are tested against these in test_protocol.py)."""

import random

from mpcompat import raises

from firmware import protocol as P
from firmware import protocol_frames as F
from firmware import protocol_gateway as G


def _rng(seed):
    """A seeded generator: an instance on CPython, the module on MicroPython (no Random)."""
    if hasattr(random, "Random"):
        return random.Random(seed)
    random.seed(seed)
    return random


def test_the_gateway_finds_the_frame_helpers_in_protocol_and_protocol_gateway():
    for name in ("encode", "Decoder", "cobs_encode", "cobs_decode"):
        assert getattr(P, name) is getattr(F, name), name
        assert getattr(G, name) is getattr(F, name), name


# (decoded, COBS-encoded without the delimiter): the examples of Cheshire & Baker's paper as
# listed on Wikipedia, including the 254-byte block edge cases.
COBS_VECTORS = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (b"\x00\x11\x00", b"\x01\x02\x11\x01"),
    (b"\x11\x22\x00\x33", b"\x03\x11\x22\x02\x33"),
    (b"\x11\x22\x33\x44", b"\x05\x11\x22\x33\x44"),
    (b"\x11\x00\x00\x00", b"\x02\x11\x01\x01\x01"),
    (bytes(range(1, 255)), b"\xff" + bytes(range(1, 255))),
    (bytes(range(0, 255)), b"\x01\xff" + bytes(range(1, 255))),
    (bytes(range(1, 256)), b"\xff" + bytes(range(1, 255)) + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


def test_cobs_known_vectors():
    for plain, encoded in COBS_VECTORS:
        assert F.cobs_encode(plain) == encoded, plain
        assert F.cobs_decode(encoded) == plain, encoded


def test_cobs_decode_accepts_trailing_empty_block():
    # Other encoders close a full 254-byte final block with an extra 0x01; same data.
    assert F.cobs_decode(b"\xff" + bytes(range(1, 255)) + b"\x01") == bytes(range(1, 255))


def test_cobs_decode_rejects_bad_codes():
    raises(ValueError, F.cobs_decode, b"\x05\x11\x22")  # block runs past the end
    raises(ValueError, F.cobs_decode, b"\x02\x11\x00\x01")  # zero inside the encoding
    raises(ValueError, F.cobs_decode, b"\x00")


def test_cobs_round_trip_random():
    rnd = _rng(7)
    for _ in range(150):
        n = rnd.randint(0, 700)
        zeros = rnd.randint(0, 3)  # from none to many zero bytes
        data = bytes(0 if rnd.randint(0, 3) < zeros else rnd.randint(1, 255) for _ in range(n))
        enc = F.cobs_encode(data)
        assert enc.find(b"\x00") < 0
        assert len(enc) <= n + n // 254 + 1
        assert F.cobs_decode(enc) == data


def _stream(n):
    frames = []
    for i in range(n):
        signals = "GGrr" if i % 2 else "r\x00y\x00"[: 1 + i % 4]  # some payloads hold zeros
        frames.append((P.T_STATE, i, P.pack_state(1, i % 3, i * 1000, signals)))
    return frames, b"".join(F.encode(t, s, p) for t, s, p in frames)


def test_feed_one_byte_at_a_time():
    frames, stream = _stream(12)
    d = F.Decoder()
    got = []
    for i in range(len(stream)):
        got += d.feed(stream[i : i + 1])
    assert got == frames
    assert d.dropped == 0


def test_feed_random_chunks():
    frames, stream = _stream(40)
    rnd = _rng(11)
    for _ in range(20):
        d = F.Decoder()
        got = []
        i = 0
        while i < len(stream):
            k = rnd.randint(0, 40)
            got += d.feed(bytearray(stream[i : i + k]))
            i += k
        assert got == frames
        assert d.frames == 40 and d.dropped == 0


def test_garbage_without_delimiter_is_bounded_and_counted_once():
    d = F.Decoder()
    for _ in range(100):
        assert d.feed(b"\x55" * 100) == []
    assert d.errors["long"] == 1
    assert len(d._raw) <= P.MAX_FRAME + P.MAX_FRAME // 254 + 1  # memory stayed fixed
    good = F.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(2))
    # the garbage ends at the first delimiter, which ends the good frame's bytes too:
    assert d.feed(good + good) == [(P.T_HEARTBEAT, 1, P.pack_heartbeat(2))]
    assert d.errors["long"] == 1 and d.dropped == 1


def test_garbage_before_first_delimiter_costs_one_frame():
    d = F.Decoder()
    good = F.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(2))
    assert d.feed(b"\x13\x37" + good + good) == [(P.T_HEARTBEAT, 1, P.pack_heartbeat(2))]
    assert d.dropped == 1
    assert d.feed(b"\x00\x00") == [] and d.dropped == 1  # empty frames are not errors


def test_smaller_decoder_limit():
    d = F.Decoder(max_frame=20)
    assert d.feed(F.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(2))) != []
    assert d.feed(F.encode(P.T_EVENT, 2, P.pack_event(1, 2, "x" * 20))) == []
    assert d.errors["long"] == 1
    raises(ValueError, F.Decoder, 11)
