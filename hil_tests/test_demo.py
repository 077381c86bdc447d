"""`greenwave demo` as a user runs it, against the fixture broker, checked from its record."""

import json
import threading
import time
from urllib.parse import quote

import paho.mqtt.client as paho

from edge.cli import main
from edge.record import read_record
from edge.safety import check_record


def _url(broker, user):
    if user in broker.users:
        return f"mqtt://{user}:{quote(broker.users[user], safe='')}@{broker.host}:{broker.port}"
    return broker.url


def test_demo_runs_the_chain_safely_and_records_every_change(broker, rig_kind, tmp_path, capsys):
    got: list[str] = []
    lock = threading.Lock()
    viewer = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="demo-viewer")
    if "viewer" in broker.users:
        viewer.username_pw_set("viewer", broker.users["viewer"])

    def on_message(client, userdata, msg):
        with lock:
            got.append(msg.topic)

    viewer.on_message = on_message
    viewer.connect(broker.host, broker.port)
    viewer.subscribe("greenwave/demotest/#", qos=1)
    viewer.loop_start()
    time.sleep(0.3)
    record = tmp_path / "r.jsonl"
    try:
        rc = main([
            "demo", "--duration", "150", "--speed", "20", "--no-tui", "--seed", "3",
            "--record", str(record), "--broker", _url(broker, "gateway"), "--site", "demotest",
        ])  # fmt: skip
    finally:
        viewer.loop_stop()
        viewer.disconnect()
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "safety violations 0" in out
    assert "served" in out and "mean delay" in out and "MQTT messages published" in out
    assert broker.users.get("gateway", "\0") not in out  # the password never shows

    headers, rows = read_record(record)
    assert list(headers) == ["cross"]
    assert check_record(record) == {"cross": []}
    signals = [r["signals"] for r in rows]
    assert signals[0] == "f" * 8 and signals[1] == "r" * 8
    assert sum("G" in s for s in signals) >= 4, signals  # several phases served in 150 s
    # every green ends through yellow, then red
    for before, after in zip(signals, signals[1:], strict=False):
        for a, b in zip(before, after, strict=True):
            assert not (a == "G" and b not in "Gy"), (before, after)
            assert not (a == "y" and b not in "yr"), (before, after)
    times = [r["t"] for r in rows]
    assert times == sorted(times) and times[-1] <= 152

    with lock:
        topics = set(got)
    for suffix in ("availability", "state", "telemetry", "events", "decision"):
        assert f"greenwave/demotest/cross/{suffix}" in topics, topics
    assert json.loads(record.read_text().splitlines()[0])["type"] == "header"
