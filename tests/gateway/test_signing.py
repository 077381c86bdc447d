"""gateway.signing: canonical bytes, HMAC-SHA256 and every reason a command is refused."""

import hashlib
import json
import secrets

import pytest

from gateway import signing as S

KEY = bytes(range(1, 33))
NOW = 1_764_000_000


KEY_GW = S.gateway_key(KEY, "demo", "cross")  # what the gateway's secrets file holds


def verifier(**keys):
    return S.Verifier(keys or {"alice": KEY_GW}, "demo", "cross")


def signed(cmd="switch", arg=1, key_id="alice", key=KEY, now=NOW, **kw):
    return S.sign(key_id, key, "demo", "cross", cmd, arg, now=now, **kw)


def raw(d) -> bytes:
    return json.dumps(d).encode()


def refusal(payload, topic_cmd="switch", now=NOW, v=None):
    with pytest.raises(S.Refused) as e:
        (v or verifier()).check(topic_cmd, payload, now)
    return e.value


def test_the_canonical_bytes_are_plain_ascii_lines():
    got = S.canonical("demo", "cross", "switch", 1, "alice", NOW, NOW + 30, "ab" * 16)
    assert got == (
        b"greenwave-cmd-1\ndemo\ncross\nswitch\n1\nalice\n1764000000\n1764000030\n" + b"ab" * 16
    )


def test_non_ascii_site_and_intersection_ids_are_signed_as_utf8():
    """Ids may be any printable text without MQTT specials (the config allows it): the
    canonical bytes are their UTF-8, which is what the controller's str.encode() gives."""
    v = S.Verifier({"alice": S.gateway_key(KEY, "zürich", "kreuz-süd")}, "zürich", "kreuz-süd")
    cmd = S.sign("alice", KEY, "zürich", "kreuz-süd", "hold", 0, now=NOW)
    assert v.check("hold", json.dumps(cmd).encode(), NOW).cmd == "hold"
    assert b"\nz\xc3\xbcrich\n" in S.canonical(
        "zürich", "x", "hold", 0, "a", NOW, NOW + 1, "a" * 16
    )


def test_hmac_sha256_matches_rfc_4231_case_2():
    mac = S.hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def hmac_with_sha256_only(key: bytes, msg: bytes) -> bytes:
    """What a controller with hashlib.sha256 and no hmac module computes (MicroPython)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + b"\0" * (64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + msg).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()


def test_the_textbook_hmac_a_controller_can_compute_gives_the_same_signature():
    d = signed(nonce="0f" * 16)
    msg = S.canonical("demo", "cross", "switch", 1, "alice", d["ts"], d["exp"], d["nonce"])
    assert hmac_with_sha256_only(KEY, msg).hex() == d["sig"]
    k_gw = hmac_with_sha256_only(KEY, b"greenwave-gateway-key-1\ndemo\ncross")
    assert k_gw == KEY_GW
    assert hmac_with_sha256_only(k_gw, msg).hex() == d["gw_sig"]


def test_the_gateway_checks_gw_sig_and_passes_sig_on_unchecked():
    d = signed()
    cmd = verifier().check("switch", raw({**d, "sig": "0" * 64}), NOW)
    assert cmd.sig == "0" * 64  # the controller's to refuse: the gateway cannot check it
    # a gateway holding K_gw signs only gw_sig; it cannot make the controller's sig
    assert KEY_GW != KEY and S.sign("alice", KEY_GW, "demo", "cross", "switch", 1,
                                    now=NOW)["sig"] != d["sig"]  # fmt: skip


def test_a_gateway_key_is_bound_to_its_intersection():
    assert S.gateway_key(KEY, "demo", "tee") != KEY_GW != S.gateway_key(KEY, "other", "cross")


def test_a_signed_command_passes_once_and_keeps_the_payload_unchanged():
    d = signed(ttl_s=60)
    cmd = verifier().check("switch", raw(d), NOW + 1)
    assert (cmd.cmd, cmd.arg, cmd.key, cmd.exp - cmd.ts) == ("switch", 1, "alice", 60)
    assert cmd.raw == raw(d)


def test_a_replayed_nonce_is_refused_while_it_is_live():
    v = verifier()
    d = raw(signed(ttl_s=60))
    v.check("switch", d, NOW)
    r = refusal(d, now=NOW + 59, v=v)
    assert (r.counter, r.answer) == ("replayed", "refused: replayed nonce")


def test_an_expired_command_is_answered_expired():
    r = refusal(raw(signed(ttl_s=30)), now=NOW + 30)
    assert (r.counter, r.answer) == ("expired", "expired")


def test_a_command_from_the_future_is_refused():
    r = refusal(raw(signed(now=NOW + S.MAX_SKEW_S + 5)))
    assert r.counter == "future" and "ahead of the gateway's clock" in r.answer


def test_an_unknown_key_is_refused_naming_the_key_id():
    r = refusal(raw(signed(key_id="mallory", key=secrets.token_bytes(32))))
    assert (r.counter, r.answer) == ("unknown_key", "refused: unknown key 'mallory'")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(arg=0),
        lambda d: d.update(exp=d["exp"] + 1),
        lambda d: d.update(nonce="1" * 32),
        lambda d: d.update(gw_sig="0" * 64),
    ],
)
def test_any_change_to_a_signed_field_breaks_the_signature(tamper):
    d = signed()
    tamper(d)
    assert refusal(raw(d)).counter == "bad_signature"


def test_a_signature_for_another_intersection_or_site_does_not_pass_here():
    for site, ix in (("demo", "tee"), ("other", "cross")):
        d = S.sign("alice", KEY, site, ix, "switch", 1, now=NOW)
        assert refusal(raw(d)).answer == "refused: bad signature"


def test_a_wrong_key_for_a_known_id_is_a_bad_signature():
    assert refusal(raw(signed(key=secrets.token_bytes(32)))).counter == "bad_signature"


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"[" * S.MAX_PAYLOAD, "not JSON"),  # nested past the recursion limit
        (b"x" * (S.MAX_PAYLOAD + 1), "longer than"),
        (raw({**signed(), "arg": True}), "arg missing or not int"),
        (raw({**signed(), "ts": 1.5}), "ts missing or not int"),
        (raw({k: v for k, v in signed().items() if k != "sig"}), "sig missing"),
        (raw({k: v for k, v in signed().items() if k != "gw_sig"}), "gw_sig missing"),
        (raw({**signed(), "extra": 1}), "unknown field 'extra'"),
        (raw({**signed(), "nonce": "XYZ" * 8}), "nonce, sig or gw_sig"),
        (raw({**signed(), "key": "a b"}), "key id"),
        (raw({**signed(), "arg": 300}), "arg 300 not 0..255"),
    ],
)
def test_malformed_payloads_are_refused_with_the_reason(payload, why):
    r = refusal(payload)
    assert r.counter == "malformed" and why in r.answer


def test_a_command_on_another_topic_is_malformed():
    r = refusal(raw(signed(cmd="hold", arg=0)), topic_cmd="switch")
    assert r.answer == "refused: malformed: cmd 'hold' on topic cmd/switch"


def test_a_lifetime_beyond_the_limit_is_refused_even_when_signed():
    d = signed()
    d["exp"] = d["ts"] + S.MAX_LIFETIME_S + 1
    msg = S.canonical("demo", "cross", "switch", 1, "alice", d["ts"], d["exp"], d["nonce"])
    d["gw_sig"] = S.hmac_sha256(KEY_GW, msg).hex()
    assert "exp must be" in refusal(raw(d)).answer


def test_nonces_are_forgotten_once_expired_and_bounded(monkeypatch):
    monkeypatch.setattr(S, "MAX_NONCES", 3)
    v = verifier()
    for _ in range(3):
        v.check("hold", raw(signed("hold", 0, ttl_s=10)), NOW)
    assert refusal(raw(signed("hold", 0)), "hold", v=v).counter == "busy"
    later = NOW + 10
    v.check("hold", raw(signed("hold", 0, now=later)), later)  # the old three have expired


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"cmd": "reboot"}, "unknown command"), ({"ttl_s": 0}, "ttl_s"), ({"arg": 256}, "arg")],
)
def test_sign_refuses_what_the_gateway_would(kw, match):
    with pytest.raises(ValueError, match=match):
        signed(**kw)
