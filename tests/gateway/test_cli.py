"""`greenwave gateway run`: the start-up failures exit non-zero and say what is wrong.

The run itself (and a `kill -9` of it) is in test_service.py, next to the controller peer."""

import pytest

from edge import factories
from edge.broker import free_port
from edge.cli import main
from gateway.cli import redact


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "cross.toml"
    path.write_text(factories.example_toml("cross"))
    return path


def run(capsys, *args):
    code = main(["gateway", "run", *map(str, args)])
    return code, capsys.readouterr().err


def test_a_bad_config_exits_2_naming_the_field(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(factories.example_toml("cross").replace("baud = 115200", "baud = -5"))
    code, err = run(capsys, "--config", bad)
    assert code == 2
    assert "link.baud" in err and "-5" in err


def test_a_missing_config_exits_2(tmp_path, capsys):
    code, err = run(capsys, "--config", tmp_path / "nope.toml")
    assert code == 2 and "nope.toml: cannot read" in err


def test_a_bad_broker_url_exits_2_without_showing_the_password(config, tmp_path, capsys):
    code, err = run(
        capsys, "--config", config, "--broker", "http://gw:s3cret@host", "--state-dir", tmp_path
    )
    assert code == 2
    assert "http://gw:***@host" in err and "s3cret" not in err


def test_an_unreachable_broker_exits_1_naming_it(config, tmp_path, capsys):
    url = f"mqtt://127.0.0.1:{free_port('127.0.0.1')}"
    code, err = run(capsys, "--config", config, "--broker", url, "--state-dir", tmp_path)
    assert code == 1
    assert f"cannot reach the broker at {url}" in err


def test_a_bad_port_exits_1_naming_it(config, tmp_path, capsys, broker):
    user = f"gateway:{broker.users['gateway']}@" if broker.users else ""
    url = f"mqtt://{user}{broker.host}:{broker.port}"
    port = tmp_path / "no-such-tty"
    code, err = run(
        capsys, "--config", config, "--broker", url, "--port", port, "--state-dir", tmp_path
    )
    assert code == 1
    assert f"cannot open the controller port {str(port)!r}" in err
    assert broker.users.get("gateway", "\0") not in err  # the password is never printed


def test_an_unusable_state_dir_exits_1_naming_it(config, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, err = run(capsys, "--config", config, "--state-dir", blocker / "sub")
    assert code == 1 and "state directory" in err and "file/sub" in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mqtt://u:p@h:1", "mqtt://u:***@h:1"),
        ("mqtts://user:pa:ss@host", "mqtts://user:***@host"),
        ("mqtt://host:1883", "mqtt://host:1883"),
    ],
)
def test_redact_hides_only_the_password(url, shown):
    assert redact(url) == shown
