"""gateway.ctl_command: `greenwave ctl`'s signed commands against a running gateway, its
controller peer and the real broker, and the operator's key. The `ctl` fixture is in conftest.py."""

import json
import secrets

import pytest

from gateway.ctl_command import operator_key
from tests.gateway.test_service import wait_for


def test_switch_by_phase_name_is_signed_answered_ok_and_followed(ctl):
    st = ctl.rig.remote_green()
    target = (st["phase"] + 1) % len(ctl.rig.ix.phases)
    name = ctl.rig.ix.phases[target].name
    code, out, err = ctl("switch", "cross", name)
    assert (code, out.strip()) == (0, f"cross: switch {target} -> ok"), err
    want = ctl.rig.phase_signals(target)
    wait_for(want, lambda: ctl.rig.peer.signals() == want)
    code, out, _ = ctl("history", "cross", "--json")
    assert code == 0
    last = json.loads(out.splitlines()[-1])
    assert (last["key"], last["cmd"], last["arg"], last["result"]) == ("alice", "switch",
                                                                        target, "ok")  # fmt: skip


def test_hold_and_release_are_answered(ctl):
    ctl.rig.remote_green()
    assert ctl("hold", "cross")[:2] == (0, "cross: hold -> ok\n")
    code, out, _ = ctl("hold", "cross", "--release", "--json")
    assert code == 0 and json.loads(out)["result"] == "ok" and json.loads(out)["cmd"] == "release"


def test_preempt_is_signed_for_the_controller_and_runs(ctl):
    ctl.rig.remote_green()
    code, out, _ = ctl("preempt", "cross", "1")
    assert (code, out.strip()) == (0, "cross: preempt 1 -> ok")
    with ctl.rig.peer.lock:
        assert ctl.rig.peer.ctl.seq.pre_cmd == 1 << 1  # checked by the controller's own keys
    code, out, _ = ctl("preempt", "cross", "255")
    assert (code, out.strip()) == (0, "cross: preempt 255 -> ok")


def test_plan_set_is_signed_checked_by_the_controller_and_shown_in_force(ctl):
    rig = ctl.rig
    rig.remote_green()
    assert ctl("plan", "cross", "--set", "3")[:2] == (1, "cross: plan 3 -> refused: unknown plan\n")
    assert ctl("plan", "cross", "--set", "1")[:2] == (0, "cross: plan 1 -> ok\n")
    with rig.peer.lock:
        assert list(rig.peer.ctl.cfg.max_green) == [15000, 25000, 15000, 20000]  # offpeak
    code, out, _ = ctl("plan", "cross")
    assert code == 0 and "plan 1 offpeak in force (plans: 0 base, 1 offpeak, 2 ns_priority)" in out
    row = next(line.split() for line in out.splitlines() if line.split()[:2] == ["1", "ns_thru"])
    assert row[-5:] == ["7", "25", "3", "4", "2"]  # min max gap yellow red: max 25 s in force
    code, out, _ = ctl("plan", "cross", "--json")
    assert json.loads(out)["plan"] == 1 and json.loads(out)["plan_name"] == "offpeak"
    assert ctl("plan", "cross", "--set", "0")[:2] == (0, "cross: plan 0 -> ok\n")
    with rig.peer.lock:
        assert list(rig.peer.ctl.cfg.max_green) == [30000, 45000, 30000, 40000]
    assert json.loads(ctl("plan", "cross", "--json")[1])["plan"] == 0


def test_flash_and_clear_flash_are_signed_for_the_controller(ctl):
    ctl.rig.remote_green()
    assert ctl("clear-flash", "cross")[:2] == (
        1,
        "cross: clear-flash 0 -> refused: nothing to clear\n",
    )
    assert ctl("flash", "cross")[:2] == (0, "cross: flash 0 -> ok\n")
    with ctl.rig.peer.lock:
        assert ctl.rig.peer.ctl.seq.fault_reason == "flash by operator alice"
    assert ctl("clear-flash", "cross")[:2] == (0, "cross: clear-flash 0 -> ok\n")


def test_a_wrong_operator_key_is_refused_by_the_gateway(ctl, tmp_path, monkeypatch):
    wrong = tmp_path / "wrong.key"
    wrong.write_text(f"alice:{secrets.token_hex(32)}\n")
    code, out, _ = ctl("hold", "cross", "--operator-key", wrong)
    assert (code, out.strip()) == (1, "cross: hold -> refused: bad signature")


def test_without_an_operator_key_a_command_is_a_usage_error(ctl, monkeypatch):
    monkeypatch.delenv("GREENWAVE_KEY_FILE")
    code, _, err = ctl("hold", "cross")
    assert code == 2 and "no operator key" in err


@pytest.mark.parametrize(
    ("text", "why"),
    [("alice", "expected KEY_ID:HEX_KEY"), ("alice:1234", "too short"),
     ("alice:" + "00" * 32, "not random")],
)  # fmt: skip
def test_a_bad_operator_key_is_refused_without_showing_it(tmp_path, text, why):
    path = tmp_path / "k"
    path.write_text(text)

    class Args:
        operator_key = str(path)

    with pytest.raises(Exception, match=why) as e:
        operator_key(Args)
    assert text.partition(":")[2] not in str(e.value) or not text.partition(":")[2]
