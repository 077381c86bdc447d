"""gateway.commands: signed operator commands over the real broker to the firmware's Controller.

The gateway and the operator speak MQTT 5 where the broker does (Mosquitto): answers come on the
response topic with the correlation data. On MQTT 3.1.1 (the embedded demo broker) they come on
`reply/<name>` and name the nonce.
"""

import json
import os
import queue
import random
import secrets
import threading
import time
import uuid

import pytest

from edge.factories import cross
from firmware import config as fwconfig
from firmware.controller import Controller
from gateway import signing as S
from gateway.mqtt import Mqtt
from tests.gateway.test_service import TIMEOUT_S, creds, wait_for

KEY = secrets.token_bytes(32)


class Operator:
    """An operator's MQTT session: sends commands, collects the answers."""

    def __init__(self, rig, protocol):
        self.rig = rig
        self.answers = queue.Queue()
        self.mqtt = Mqtt(
            rig.broker.url, f"op-{uuid.uuid4().hex[:8]}", None,
            protocol=protocol, **creds(rig.broker, "operator"),
        ).connect()  # fmt: skip
        self.reply_base = f"{rig.base}/reply/"
        self.mqtt.subscribe(self.reply_base + "#", self.answers.put, full=True)

    def send(self, cmd, payload, response_topic=None, correlation=None):
        kw = {}
        if response_topic is not None:
            kw = {"response_topic": response_topic, "correlation": correlation}
        self.mqtt.publish(f"{self.rig.base}/cmd/{cmd}", payload, qos=1, **kw)

    def sign(self, cmd, arg=0, key_id="alice", key=KEY, **kw):
        return S.sign(key_id, key, self.rig.site, self.rig.ix.id, cmd, arg, now=time.time(), **kw)

    def answer(self, pred=lambda m: True):
        deadline = time.monotonic() + TIMEOUT_S
        seen = []
        while time.monotonic() < deadline:
            try:
                m = self.answers.get(timeout=0.1)
            except queue.Empty:
                continue
            body = json.loads(m.payload)
            seen.append((m.topic, body))
            if pred(body):
                return m, body
        pytest.fail(f"no matching answer in {TIMEOUT_S} s; saw {len(seen)}, last {seen[-5:]!r}")

    def close(self):
        self.mqtt.close(offline=False)


@pytest.fixture
def v5(broker):
    if not broker.mqtt5:
        pytest.skip(f"the {broker.kind} test broker speaks MQTT 3.1.1 only")


@pytest.fixture
def op_rig(make_rig, broker):
    yield from _op_rig(make_rig, broker)


@pytest.fixture
def plans_rig(make_rig, broker):
    """op_rig with cross(plans=True): timing plans 1 offpeak and 2 ns_priority."""
    yield from _op_rig(make_rig, broker, ix=cross(plans=True))


def _op_rig(make_rig, broker, **kw):
    protocol = 5 if broker.mqtt5 else 4
    rig = make_rig(operator_keys={"alice": KEY}, protocol=protocol, **kw)
    op = Operator(rig, protocol)
    # the gateway subscribes after connecting: wait until it answers a probe
    for _ in range(50):
        op.send("hold", b"probe")
        try:
            op.answers.get(timeout=0.2)
            break
        except queue.Empty:
            continue
    yield rig, op
    op.close()


def test_a_signed_switch_is_forwarded_and_answered_ok_with_the_correlation(op_rig, v5):
    rig, op = op_rig
    st = rig.remote_green()
    target = (st["phase"] + 1) % len(rig.ix.phases)
    cmd = op.sign("switch", target)
    op.send("switch", json.dumps(cmd), f"{op.reply_base}me", b"corr-1")
    msg, body = op.answer(lambda b: b["nonce"] == cmd["nonce"])
    assert msg.topic == f"{op.reply_base}me" and msg.correlation == b"corr-1"
    assert body["result"] == "ok" and body["cmd"] == "switch"
    want = rig.phase_signals(target)
    wait_for(f"controller signals {want}", lambda: rig.peer.signals() == want)
    d = rig.decision()
    assert d["source"] == "operator:alice" and d["result"] == "ok"
    seen = [m for t, m in rig.inbox.seen if t == "history" and m["commands"]]
    history = seen[-1] if seen else rig.inbox.wait("history", lambda h: h["commands"])
    assert history["commands"][-1] == {
        "t": history["commands"][-1]["t"], "key": "alice", "cmd": "switch", "arg": target,
        "nonce": cmd["nonce"], "result": "ok",
    }  # fmt: skip


def test_the_controllers_refusal_comes_back_to_the_operator(op_rig):
    rig, op = op_rig
    rig.remote_green()
    cmd = op.sign("switch", 9)  # no phase 9: the controller says so
    op.send("switch", json.dumps(cmd))
    msg, body = op.answer(lambda b: b["nonce"] == cmd["nonce"])
    assert msg.topic == f"{rig.base}/reply/switch"
    assert body["result"] == "refused: unknown phase"


def test_replayed_expired_unknown_and_forged_commands_are_refused_and_counted(op_rig):
    rig, op = op_rig
    rig.remote_green()
    good = op.sign("hold")
    op.send("hold", json.dumps(good))
    op.answer(lambda b: b["nonce"] == good["nonce"])
    cases = [
        (good, "refused: replayed nonce", "replayed"),
        ({**op.sign("hold"), "ts": int(time.time()) - 100, "exp": int(time.time()) - 70},
         "refused: bad signature", "bad_signature"),
        (op.sign("hold", key_id="mallory"), "refused: unknown key 'mallory'", "unknown_key"),
    ]  # fmt: skip
    expired = op.sign("hold")
    expired["ts"], expired["exp"] = int(time.time()) - 100, int(time.time()) - 70
    msg = S.canonical(rig.site, rig.ix.id, "hold", 0, "alice", expired["ts"], expired["exp"],
                      expired["nonce"])  # fmt: skip
    expired["sig"] = S.hmac_sha256(KEY, msg).hex()
    expired["gw_sig"] = S.hmac_sha256(S.gateway_key(KEY, rig.site, rig.ix.id), msg).hex()
    cases.append((expired, "expired", "expired"))
    for payload, result, _ in cases:
        op.send("hold", json.dumps(payload))
        op.answer(lambda b, p=payload, r=result: b["nonce"] == p["nonce"] and b["result"] == r)
    op.send("hold", b"\x00not json")
    op.answer(lambda b: b["result"] == "refused: malformed: not JSON")
    health = rig.gw.health()
    for _, _, counter in cases:
        assert health["auth_failures"][counter] >= 1, (counter, health["auth_failures"])
    assert health["auth_failures"]["malformed"] >= 2  # the probe and the junk
    assert health["commands"]["ok"] == 1
    published = rig.inbox.wait("health", lambda h: h["auth_failures"]["expired"] >= 1,
                               timeout=TIMEOUT_S * 2)  # fmt: skip
    assert published["auth_failures"]["replayed"] >= 1


def test_a_signed_preempt_reaches_the_controller_which_checks_the_operators_signature(op_rig):
    rig, op = op_rig
    rig.remote_green()
    side = len(rig.ix.phases) - 1
    cmd = op.sign("preempt", side)
    op.send("preempt", json.dumps(cmd))
    _, body = op.answer(lambda b: b["nonce"] == cmd["nonce"])
    assert body["result"] == "ok"
    want = rig.phase_signals(side)
    wait_for(f"preempt phase green {want}", lambda: rig.peer.signals() == want, TIMEOUT_S * 2)
    with rig.peer.lock:
        assert rig.peer.ctl.seq.pre_cmd == 1 << side
    release = op.sign("preempt", 255)
    op.send("preempt", json.dumps(release))
    _, body = op.answer(lambda b: b["nonce"] == release["nonce"])
    assert body["result"] == "ok"
    with rig.peer.lock:
        assert rig.peer.ctl.seq.pre_cmd == 0


def test_a_gateway_holding_only_k_gw_cannot_make_a_command_the_controller_takes(op_rig):
    """A compromised gateway (or anyone with its secrets file) signs with K_gw in both places:
    the gateway's check passes, the controller's does not."""
    rig, op = op_rig
    rig.remote_green()
    k_gw = rig.gw.operator_keys["alice"]
    forged = S.sign("alice", k_gw, rig.site, rig.ix.id, "preempt", 1, now=time.time())
    forged["gw_sig"] = S.hmac_sha256(k_gw, S.canonical(
        rig.site, rig.ix.id, "preempt", 1, "alice", forged["ts"], forged["exp"], forged["nonce"]
    )).hex()  # fmt: skip
    op.send("preempt", json.dumps(forged))
    _, body = op.answer(lambda b: b["nonce"] == forged["nonce"])
    assert body["result"] == "refused: bad signature"  # the controller's own verdict
    with rig.peer.lock:
        assert rig.peer.ctl.seq.pre_cmd == 0
    # and the controller stops a replay the gateway lets through (e.g. after a gateway restart)
    good = op.sign("hold")
    op.send("hold", json.dumps(good))
    op.answer(lambda b: b["nonce"] == good["nonce"] and b["result"] == "ok")
    rig.gw.commands.verifier._nonces.clear()  # the gateway forgot: as after a restart
    op.send("hold", json.dumps(good))
    _, body = op.answer(lambda b: b["nonce"] == good["nonce"] and b["result"] != "ok")
    assert body["result"] == "refused: replayed"
    # both of the controller's refusals are counted in the gateway's health
    assert rig.gw.health()["controller_auth_refusals"] == {"bad signature": 1, "replayed": 1}


def test_a_signed_plan_is_put_in_force_by_the_controller_and_the_plan_topic_says_it(plans_rig):
    rig, op = plans_rig
    first = rig.inbox.wait("plan")
    assert (first["plan"], first["plan_name"], first["plans"]) == (
        0, None, ["offpeak", "ns_priority"]
    )  # fmt: skip
    assert [p["max_green_s"] for p in first["phases"]] == [30.0, 45.0, 30.0, 40.0]
    rig.remote_green()

    def run(arg):
        signed = op.sign("plan", arg)
        op.send("plan", json.dumps(signed))
        return op.answer(lambda b: b["nonce"] == signed["nonce"])[1]["result"]

    assert run(3) == "refused: unknown plan"  # the controller's own verdict
    assert run(2) == "ok"
    msg = rig.inbox.wait("plan", lambda m: m["plan"] == 2)
    assert msg["plan_name"] == "ns_priority"
    assert [p["max_green_s"] for p in msg["phases"]] == [30.0, 45.0, 20.0, 25.0]
    with rig.peer.lock:
        assert list(rig.peer.ctl.cfg.max_green) == [30000, 45000, 20000, 25000]
    d = [d for d in rig.gw.decisions if d["request"] == "plan"]
    assert [(x["plan"], x["phase"], x["result"]) for x in d] == [
        (3, None, "refused: unknown plan"), (2, None, "ok")
    ]  # fmt: skip
    assert [(e["cmd"], e["arg"], e["result"]) for e in rig.gw.commands.recent()][-2:] == [
        ("plan", 3, "refused: unknown plan"), ("plan", 2, "ok")
    ]  # fmt: skip
    # a controller that reboots starts on its config's own timing (plan 0): the gateway says so
    peer = rig.peer
    with peer.lock:
        peer.cfg = fwconfig.load(rig.ix.to_compact())
        peer.ctl = Controller(peer.cfg, peer.now(), peer.keys, peer.boot + 1)
    msg = rig.inbox.wait("plan", lambda m: m["plan"] == 0)
    assert [p["max_green_s"] for p in msg["phases"]] == [30.0, 45.0, 30.0, 40.0]


def test_flash_and_clear_flash_go_down_signed_and_the_controller_answers(op_rig):
    rig, op = op_rig
    rig.remote_green()

    def run(cmd):
        signed = op.sign(cmd)
        op.send(cmd, json.dumps(signed))
        return op.answer(lambda b: b["nonce"] == signed["nonce"])[1]["result"]

    assert run("clear-flash") == "refused: nothing to clear"  # the controller's own verdict
    assert run("flash") == "ok"
    with rig.peer.lock:
        seq = rig.peer.ctl.seq
        assert seq.state == 5 and seq.fault_reason == "flash by operator alice"  # FAULT
        assert set(rig.peer.ctl.signals) == {ord("f")}
    assert run("flash") == "refused: already in flash"
    assert run("clear-flash") == "ok"
    with rig.peer.lock:
        assert rig.peer.ctl.cleared == 1  # the app (not in this rig) resets into start-up
    assert [e["cmd"] for e in rig.gw.commands.recent()][-4:] == [
        "clear-flash",
        "flash",
        "flash",
        "clear-flash",
    ]


def test_a_response_topic_outside_the_reply_space_is_refused(op_rig, v5):
    rig, op = op_rig
    cmd = op.sign("hold")
    op.send("hold", json.dumps(cmd), f"{rig.base}/state", b"c")
    msg, body = op.answer(lambda b: "response topic" in b["result"])
    assert msg.topic == f"{rig.base}/reply/hold" and msg.correlation == b"c"
    states = [m for t, m in rig.inbox.seen if t == "state"]
    assert all(isinstance(m, dict) for m in states)  # nothing was answered onto `state`


def test_without_operator_keys_every_command_is_refused(make_rig, broker):
    rig = make_rig()  # no operator keys
    op = Operator(rig, 5 if broker.mqtt5 else 4)
    try:
        cmd = op.sign("hold")
        for _ in range(50):
            op.send("hold", json.dumps(op.sign("hold")))
            try:
                m = op.answers.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        else:
            pytest.fail("no answer")
        assert json.loads(m.payload)["result"] == "refused: unknown key 'alice'"
        assert cmd  # signed with a key the gateway does not hold
    finally:
        op.close()


def test_on_mqtt_3_1_1_the_answer_comes_on_the_reply_topic_naming_the_nonce(make_rig):
    rig = make_rig(operator_keys={"alice": KEY}, protocol=4)  # as with the demo's broker
    op = Operator(rig, 4)
    try:
        rig.remote_green()
        cmd = op.sign("hold")
        op.send("hold", json.dumps(cmd))
        msg, body = op.answer(lambda b: b["nonce"] == cmd["nonce"])
        assert msg.topic == f"{rig.base}/reply/hold" and msg.correlation is None
        assert body["result"] == "ok"
    finally:
        op.close()


def test_ten_thousand_malformed_payloads_are_each_refused_and_counted(op_rig):
    rig, op = op_rig
    rig.remote_green()
    rng = random.Random(5)
    good = json.dumps(op.sign("hold")).encode()
    counts = rig.gw.commands.counts
    before = dict(counts)
    n = int(os.environ.get("GW_FUZZ_N", "10000"))
    for i in range(n):
        kind = i % 4
        if kind == 0:
            payload = rng.randbytes(rng.randrange(0, 80))
        elif kind == 1:
            payload = good[: rng.randrange(0, len(good) - 1)]  # truncated
        elif kind == 2:
            d = json.loads(good)
            d[rng.choice(list(d))] = rng.choice([None, True, 1.5, [], {}, "x" * 3])
            payload = json.dumps(d).encode()
        else:
            payload = b"[" * rng.randrange(1, 2000)  # deep nesting
        op.mqtt.publish(f"{rig.base}/cmd/hold", payload, qos=1)
        if i % 500 == 499:  # paced: Mosquitto drops beyond 1000 queued for a slow subscriber
            wait_for("the gateway to catch up", lambda i=i: counts["received"] - before[
                "received"] > i, timeout=60)  # fmt: skip
    wait_for("every payload counted", lambda: counts["received"] - before["received"] >= n,
             timeout=120)  # fmt: skip
    assert counts["refused"] - before["refused"] == n and counts["ok"] == before["ok"]
    failures = rig.gw.health()["auth_failures"]
    assert failures["malformed"] > n // 2 and sum(failures.values()) >= n
    while True:  # let the 10,000 answers drain first
        try:
            op.answers.get(timeout=1.0)
        except queue.Empty:
            break
    cmd = op.sign("release")  # and the gateway still serves a good one
    op.send("release", json.dumps(cmd))
    _, body = op.answer(lambda b: b["nonce"] == cmd["nonce"])
    assert body["result"] == "ok"


def test_history_published_from_both_threads_at_once_does_not_deadlock(op_rig):
    # paho's thread answers a command holding the commands' lock and publishes the history;
    # at the same moment the gateway's thread publishes it for a controller's answer
    rig, _ = op_rig
    cmds = rig.gw.commands
    holding, go = threading.Event(), threading.Event()

    def paho_side():
        with cmds._lock:
            holding.set()
            go.wait(5)
            rig.gw.publish_history()

    paho = threading.Thread(target=paho_side, daemon=True)
    gateway = threading.Thread(target=rig.gw.publish_history, daemon=True)
    paho.start()
    assert holding.wait(5)
    gateway.start()  # blocks on the commands' lock while paho's thread holds it
    time.sleep(0.2)
    go.set()
    paho.join(5)
    gateway.join(5)
    assert not paho.is_alive() and not gateway.is_alive(), "the two threads deadlocked"
