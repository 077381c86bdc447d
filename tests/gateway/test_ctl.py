"""`greenwave ctl` against a running gateway, its controller peer and the real broker: the
read-only actions (status, watch, plan, help). The `ctl` fixture is in conftest.py."""

import json
import threading

import pytest

from edge.cli import main


def test_status_shows_the_intersection_readable_and_as_json(ctl):
    st = ctl.rig.remote_green()
    ctl.rig.inbox.wait("health")
    code, out, _ = ctl("status", "--wait", "1")
    assert code == 0
    line = out.strip()
    assert line.startswith("cross") and "online" in line and st["signals"] in line
    assert f"phase {st['phase']} ({st['phase_name']})" in line
    code, out, _ = ctl("status", "cross", "--json")
    row = json.loads(out)
    assert row["availability"] == "online" and row["state"]["signals"] == st["signals"]
    assert row["health"]["auth_failures"]["bad_signature"] == 0


def test_plan_shows_the_phases(ctl):
    ctl.rig.remote_green()
    code, out, _ = ctl("plan", "cross")
    assert code == 0
    for i, p in enumerate(ctl.rig.ix.phases):
        assert any(line.split()[:2] == [str(i), p.name] for line in out.splitlines()), out


def test_watch_prints_live_signal_strings(ctl):
    rig = ctl.rig
    st = rig.remote_green()
    target = (st["phase"] + 1) % len(rig.ix.phases)
    threading.Timer(1.0, rig.gw.request, args=(2, target)).start()  # CMD_SWITCH from elsewhere
    code, out, _ = ctl("watch", "cross", "--json", "--duration", "20", "--count", "30")
    assert code == 0
    seen = [json.loads(line) for line in out.splitlines()]
    signals = [m["message"]["signals"] for m in seen if m["topic"] == "state"]
    assert rig.phase_signals(target) in signals, signals


def test_watch_readable_lines_name_the_intersection(ctl):
    ctl.rig.remote_green()
    code, out, _ = ctl("watch", "--count", "1", "--duration", "10")
    assert code == 0 and " cross " in out and ctl.rig.ix.id in out


def test_every_action_has_help(capsys):
    for action in ("status", "watch", "plan", "history", "hold", "switch", "preempt", "flash",
                   "clear-flash"):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            main(["ctl", action, "--help"])
        assert e.value.code == 0
        assert "--json" in capsys.readouterr().out
