# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
import binascii
import random
import struct

from mpcompat import raises

from firmware import protocol as P
from firmware import protocol_gateway as G

# HEARTBEAT, seq 7, t_ms 1234, as it goes on the wire with the current SCHEMA.
HEARTBEAT_FRAME = b"\x07\x01{\x9a}&\x01\x02\x07\x01\x07\x04\xd2\xcd\xe9\xa9\x9c\x00"


def _raw_frame(version, schema_hash, mtype, seq, payload):
    """A frame built by hand (not by P.encode), so tests can break one field at a time."""
    body = struct.pack(">BIBH", version, schema_hash, mtype, seq) + payload
    return body + struct.pack(">I", binascii.crc32(body) & 0xFFFFFFFF)


def _rng(seed):
    """A seeded generator: an instance on CPython, the module on MicroPython (no Random)."""
    if hasattr(random, "Random"):
        return random.Random(seed)
    random.seed(seed)
    return random


def _wire(raw):
    return P.cobs_encode(raw) + b"\x00"


def test_schema_hash_is_pinned():
    # Changing SCHEMA changes every frame on the wire: update this literal deliberately.
    assert P.SCHEMA_HASH == binascii.crc32(P.SCHEMA.encode()) & 0xFFFFFFFF
    assert P.SCHEMA_HASH == 0x7B9A7D26


def test_schema_names_every_code():
    for table, prefix in (
        (P.MODE_NAMES, "mode"),
        (G.CMD_NAMES, "cmd"),
        (G.ACK_NAMES, "ack"),
        (G.EVENT_NAMES, "ev"),
    ):
        section = [s for s in P.SCHEMA.split(";") if s.startswith(prefix + " ")][0]
        for code, name in table.items():
            assert f" {code} {name} " in section + " ", (prefix, code, name)
    for code, name in G.TYPE_NAMES.items():
        assert f";{code} {name} " in P.SCHEMA
    assert f";max {P.MAX_FRAME};" in P.SCHEMA  # a peer with other frame limits differs too


def test_constants_match_the_contract():
    assert (P.VERSION, P.T_HEARTBEAT, P.T_STATE, P.T_DETECTORS) == (1, 1, 2, 3)
    assert (P.T_EVENT, P.T_COMMAND, P.T_ACK) == (4, 5, 6)
    assert (P.MODE_STARTUP, P.MODE_REMOTE, P.MODE_LOCAL, P.MODE_FLASH) == (0, 1, 2, 3)
    assert (P.CMD_HOLD, P.CMD_SWITCH, P.CMD_CLEAR) == (1, 2, 3)
    assert (P.CMD_CALL, P.CMD_OMIT, P.CMD_PREEMPT) == (4, 5, 6)
    assert (P.ACK_OK, P.ACK_REFUSED, P.ACK_UNKNOWN, P.ACK_MALFORMED) == (0, 1, 2, 3)
    assert (P.EV_BOOT, P.EV_MODE, P.EV_FAULT, P.EV_LINK_UP) == (1, 2, 3, 4)
    assert (P.EV_LINK_DOWN, P.EV_DETECTOR, P.EV_REFUSED) == (5, 6, 7)
    assert P.MODE_NAMES[P.MODE_LOCAL] == "local" and G.EVENT_NAMES[P.EV_LINK_UP] == "link_up"


def test_known_frame_exact_bytes():
    frame = P.encode(P.T_HEARTBEAT, 7, P.pack_heartbeat(1234))
    assert frame == HEARTBEAT_FRAME
    raw = P.cobs_decode(frame[:-1])
    assert raw[:8] == b"\x01\x7b\x9a\x7d\x26\x01\x00\x07"  # version, schema, type, seq
    assert raw[8:12] == b"\x00\x00\x04\xd2"  # 1234 big-endian
    assert raw[12:] == struct.pack(">I", binascii.crc32(raw[:12]) & 0xFFFFFFFF)
    assert P.Decoder().feed(HEARTBEAT_FRAME) == [(P.T_HEARTBEAT, 7, b"\x00\x00\x04\xd2")]


def test_payload_layouts_exact_bytes():
    assert P.pack_state(P.MODE_REMOTE, 1, 5000, "rrGG") == b"\x01\x01\x00\x00\x13\x88rrGG"
    assert P.pack_detectors(9, [(3, 250, 1), (65537, 0, 0)]) == (
        b"\x00\x00\x00\x09\x02" + b"\x00\x03\x00\xfa\x01" + b"\x00\x01\x00\x00\x00"
    )
    assert P.pack_event(P.EV_FAULT, 2, "conflict") == b"\x03\x00\x00\x00\x02conflict"
    assert G.pack_command(P.CMD_SWITCH, 1) == b"\x02\x01"
    assert P.pack_ack(300, P.ACK_REFUSED, "min") == b"\x01\x2c\x01min"


def test_round_trip_every_message_type():
    cases = [
        (P.T_HEARTBEAT, P.pack_heartbeat(123456), G.unpack_heartbeat, (123456,)),
        (P.T_STATE, P.pack_state(2, 255, 40000, "GGrr"), G.unpack_state, (2, 255, 40000, "GGrr")),
        (P.T_STATE, P.pack_state(0, None, 0, "ffff"), G.unpack_state, (0, 255, 0, "ffff")),
        (
            P.T_DETECTORS,
            P.pack_detectors(77, [(1, 2, 1), (65535, 1000, 0)]),
            G.unpack_detectors,
            (77, [(1, 2, 1), (65535, 1000, 0)]),
        ),
        (P.T_DETECTORS, P.pack_detectors(5, []), G.unpack_detectors, (5, [])),
        (P.T_EVENT, P.pack_event(6, 9, "det 2 stuck"), G.unpack_event, (6, 9, "det 2 stuck")),
        (P.T_EVENT, P.pack_event(1, 0), G.unpack_event, (1, 0, "")),
        (P.T_COMMAND, G.pack_command(2, 3), P.unpack_command, (2, 3)),
        (P.T_ACK, P.pack_ack(65535, 0, "ok"), G.unpack_ack, (65535, 0, "ok")),
    ]
    d = P.Decoder()
    stream = b"".join(P.encode(t, i, payload) for i, (t, payload, _, _) in enumerate(cases))
    got = d.feed(stream)
    assert len(got) == len(cases)
    for i, (mtype, seq, payload) in enumerate(got):
        t, _, unpack, want = cases[i]
        assert (mtype, seq) == (t, i)
        assert tuple(unpack(payload)) == tuple(want), (unpack(payload), want)
    assert d.frames == len(cases) and d.dropped == 0


def test_link_pair_conversation():
    # Gateway and controller, each with its own Decoder, talking over one stream per direction.
    ctl, gw = P.Decoder(), P.Decoder()
    up = P.encode(P.T_HEARTBEAT, 0, P.pack_heartbeat(1000))
    up += P.encode(P.T_STATE, 1, P.pack_state(P.MODE_LOCAL, 0, 800, "GGrr"))
    assert [m[0] for m in gw.feed(up)] == [P.T_HEARTBEAT, P.T_STATE]

    down = P.encode(P.T_HEARTBEAT, 40, P.pack_heartbeat(555))
    down += P.encode(P.T_COMMAND, 41, G.pack_command(P.CMD_SWITCH, 1))
    msgs = ctl.feed(down)
    assert msgs[0] == (P.T_HEARTBEAT, 40, P.pack_heartbeat(555))
    mtype, seq, payload = msgs[1]
    assert mtype == P.T_COMMAND and P.unpack_command(payload) == (P.CMD_SWITCH, 1)

    answer = P.encode(P.T_ACK, 2, P.pack_ack(seq, P.ACK_OK, ""))
    answer += P.encode(P.T_EVENT, 3, P.pack_event(P.EV_MODE, 1100, "remote"))
    (a, e) = gw.feed(answer)
    assert G.unpack_ack(a[2]) == (41, P.ACK_OK, "")
    assert G.unpack_event(e[2]) == (P.EV_MODE, 1100, "remote")
    assert (ctl.frames, gw.frames, sum(ctl.errors.values()), gw.dropped) == (2, 4, 0, 0)


def _bad_frames():
    hb = P.pack_heartbeat(5)
    good = _raw_frame(P.VERSION, P.SCHEMA_HASH, P.T_HEARTBEAT, 3, hb)
    flipped = bytearray(good)
    flipped[9] ^= 0x40
    bad_code = bytearray(_wire(good))
    bad_code[0] = 0xFE  # first block now runs past the end of the frame
    return [
        ("cobs", bytes(bad_code)),
        ("crc", _wire(bytes(flipped))),
        ("short", _wire(good[:11])),
        ("short", b"\x01\x00"),
        ("version", _wire(_raw_frame(2, P.SCHEMA_HASH, P.T_HEARTBEAT, 3, hb))),
        ("schema", _wire(_raw_frame(1, P.SCHEMA_HASH ^ 1, P.T_HEARTBEAT, 3, hb))),
        # over MAX_FRAME once decoded, though short enough to buffer (zeros encode 1:1)
        ("long", _wire(_raw_frame(1, P.SCHEMA_HASH, P.T_EVENT, 3, bytes(P.MAX_FRAME)))),
        # too long to even buffer
        ("long", _wire(_raw_frame(1, P.SCHEMA_HASH, P.T_EVENT, 3, b"x" * 400))),
    ]


def test_corrupted_frames_counted_by_reason_and_next_frame_decodes():
    after = P.encode(P.T_COMMAND, 9, G.pack_command(P.CMD_HOLD, 0))
    for reason, bad in _bad_frames():
        d = P.Decoder()
        assert d.feed(bad + after) == [(P.T_COMMAND, 9, b"\x01\x00")], reason
        assert d.errors[reason] == 1, (reason, d.errors)
        assert d.dropped == 1 and d.frames == 1, (reason, d.errors)


def test_version_and_schema_mismatch_refused_even_with_a_good_crc():
    d = P.Decoder()
    hb = P.pack_heartbeat(1)
    assert d.feed(_wire(_raw_frame(2, P.SCHEMA_HASH, P.T_HEARTBEAT, 1, hb))) == []
    assert d.feed(_wire(_raw_frame(1, 0x12345678, P.T_HEARTBEAT, 1, hb))) == []
    assert d.errors["version"] == 1 and d.errors["schema"] == 1 and d.frames == 0


def test_biggest_messages_fit_a_frame():
    ev = P.pack_event(P.EV_FAULT, 1, "why " * 100)
    assert len(ev) == P.MAX_FRAME - 12
    ack = P.pack_ack(1, P.ACK_REFUSED, "no" * 200)
    assert len(ack) == P.MAX_FRAME - 12
    rows = [(i, i, i & 1) for i in range(P.MAX_DETECTORS)]
    det = P.pack_detectors(1, rows)
    d = P.Decoder()
    stream = P.encode(P.T_EVENT, 1, ev) + P.encode(P.T_ACK, 2, ack) + P.encode(3, 3, det)
    got = d.feed(stream)
    assert [g[2] for g in got] == [ev, ack, det]
    assert G.unpack_event(got[0][2])[2] == ("why " * 100)[: P.MAX_FRAME - 17]
    assert G.unpack_detectors(got[2][2]) == (1, rows)


def test_oversized_input_raises():
    raises(ValueError, P.encode, P.T_EVENT, 1, bytes(P.MAX_FRAME - 11))
    raises(ValueError, P.encode, 256, 1, b"")
    raises(ValueError, P.pack_detectors, 1, [(0, 0, 0)] * (P.MAX_DETECTORS + 1))
    raises(ValueError, P.pack_state, 1, 0, 0, "G" * 300)
    raises(ValueError, P.pack_state, 1, 0, 0, "G\u00e9")


def test_pack_clamps_and_masks_fields():
    _, rows = G.unpack_detectors(P.pack_detectors(0, [(65536 + 5, 1500, 7), (1, -3, 0)]))
    assert rows == [(5, 1000, 1), (1, 0, 0)]
    assert G.unpack_state(P.pack_state(1, 2, -5, "r")) == (1, 2, 0, "r")
    assert G.unpack_state(P.pack_state(1, 2, 1 << 40, "r"))[2] == 0xFFFFFFFF
    assert G.unpack_heartbeat(P.pack_heartbeat((1 << 32) + 9)) == (9,)
    assert G.unpack_ack(P.pack_ack(65536 + 4, 1, "x")) == (4, 1, "x")
    assert G.unpack_event(P.pack_event(1, 0, "caf\u00e9")) == (1, 0, "caf??")
    frame = P.encode(P.T_HEARTBEAT, 65536 + 3, P.pack_heartbeat(0))
    assert P.Decoder().feed(frame)[0][1] == 3


def test_unpack_wrong_length_raises():
    raises(ValueError, G.unpack_heartbeat, b"\x00\x00\x00")
    raises(ValueError, G.unpack_heartbeat, b"\x00" * 5)
    raises(ValueError, G.unpack_state, b"\x00" * 5)
    raises(ValueError, G.unpack_detectors, b"\x00" * 4)
    raises(ValueError, G.unpack_detectors, b"\x00\x00\x00\x00\x02" + b"\x00" * 9)
    raises(ValueError, G.unpack_detectors, b"\x00\x00\x00\x00\x01" + b"\x00" * 6)
    raises(ValueError, G.unpack_event, b"\x01\x00\x00\x00")
    raises(ValueError, P.unpack_command, b"\x01")
    raises(ValueError, P.unpack_command, b"\x01\x02\x03")
    raises(ValueError, G.unpack_ack, b"\x00\x01")
    raises(ValueError, G.unpack_ack, b"\x00\x01\x00\xff")  # text must be ASCII


# --- the controller's in-place paths (Encoder.frame_into, Decoder.push) ------------------------


def _frame_into(mtype, seq, payload):
    enc = P.Encoder()
    out = bytearray(P.MAX_FRAME + 8)
    end = enc.frame_into(out, 3, mtype, seq, enc.put(payload))
    return bytes(out[3:end])


def test_frame_into_gives_the_same_bytes_as_encode():
    assert _frame_into(P.T_HEARTBEAT, 7, P.pack_heartbeat(1234)) == HEARTBEAT_FRAME
    rng = _rng(5)
    for n in list(range(0, 20)) + [240, 241, 242, 243, P.MAX_PAYLOAD]:
        for _ in range(6):
            # zeros are common and runs of non-zero bytes cross the 254-byte block edge
            payload = bytes(rng.choice((0, 0, 1, 255, rng.getrandbits(8))) for _ in range(n))
            seq = rng.getrandbits(16)
            assert _frame_into(P.T_EVENT, seq, payload) == P.encode(P.T_EVENT, seq, payload)
    nonzero = bytes(range(1, 256))[: P.MAX_PAYLOAD]
    assert _frame_into(P.T_ACK, 0x101, nonzero) == P.encode(P.T_ACK, 0x101, nonzero)


def test_frame_into_refuses_what_does_not_fit_and_writes_nothing():
    enc = P.Encoder()
    frame = P.encode(P.T_HEARTBEAT, 1, P.pack_heartbeat(5))
    out = bytearray(len(frame) + 2)
    assert enc.frame_into(out, 3, P.T_HEARTBEAT, 1, enc.put(P.pack_heartbeat(5))) == -1
    assert out == bytearray(len(frame) + 2)
    assert raises(ValueError, enc.put, bytes(P.MAX_PAYLOAD + 1))


def _push_all(dec, data):
    return _push_all_n(dec, data, len(data))


def test_push_decodes_every_frame_in_any_chunking():
    rng = _rng(11)
    msgs = [(P.T_HEARTBEAT, 1, P.pack_heartbeat(99)), (P.T_COMMAND, 2, b"\x01\x00")]
    for n in (0, 1, 100, 243, P.MAX_PAYLOAD):
        msgs.append((P.T_EVENT, n, bytes(rng.choice((0, 7, 255)) for _ in range(n))))
    stream = b"\x00\x00" + b"".join(P.encode(*m) for m in msgs)
    dec = P.Decoder()
    got = []
    i = 0
    while i < len(stream):
        j = min(len(stream), i + rng.randint(1, 40))
        chunk = bytearray(stream[i:j]) + bytearray(7)  # only [:n] counts
        got += _push_all_n(dec, chunk, j - i)
        i = j
    assert got == msgs
    assert dec.frames == len(msgs) and dec.dropped == 0


def _push_all_n(dec, buf, n):
    got = []
    i = 0
    while i < n:
        i = dec.push(buf, i, n)
        if dec.mtype >= 0:
            got.append((dec.mtype, dec.seq, bytes(dec.payload())))  # a view: copied
    return got


def test_push_counts_bad_frames_by_the_same_reasons_as_feed():
    good = P.encode(P.T_HEARTBEAT, 3, P.pack_heartbeat(1))
    bad_crc = bytearray(good)
    bad_crc[-3] ^= 0x40
    if bad_crc[-3] == 0:
        bad_crc[-3] = 1
    cases = [
        bytes(bad_crc),
        b"\x05\x01\x02\x00",  # code runs past the end
        b"\x03\x01\x02\x00",  # too short
        b"\xff" + bytes(range(1, 255)) * 2 + b"\x00",  # over MAX_FRAME
    ]
    for data in cases:
        a = P.Decoder()
        b = P.Decoder()
        a.feed(data + good)
        assert _push_all(b, data + good) == [(P.T_HEARTBEAT, 3, P.pack_heartbeat(1))]
        assert a.errors == b.errors, (data, a.errors, b.errors)
