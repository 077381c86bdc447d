import secrets

import pytest

from edge.cli import main
from edge.factories import cross

# The TLS broker is used by the gateway tests only; the plain one comes from the root conftest.
from tests.brokerfixture import tls_broker  # noqa: F401
from tests.gateway.test_service import make_rig  # noqa: F401  (test_commands uses it too)

OPERATOR_KEY = secrets.token_bytes(32)  # operator alice's, for the `ctl` fixture


@pytest.fixture
def ctl(make_rig, broker, monkeypatch, tmp_path, capsys):  # noqa: F811 (the fixture above)
    """Run `greenwave ctl ...` as operator alice against a gateway; -> (exit, stdout, stderr)."""
    rig = make_rig(operator_keys={"alice": OPERATOR_KEY}, protocol=5 if broker.mqtt5 else 4,
                   ix=cross(plans=True))  # fmt: skip
    key_file = tmp_path / "alice.key"
    key_file.write_text(f"alice:{OPERATOR_KEY.hex()}\n")
    monkeypatch.setenv("GREENWAVE_KEY_FILE", str(key_file))
    monkeypatch.delenv("GREENWAVE_OPERATOR_KEY", raising=False)
    if broker.users:
        monkeypatch.setenv("GREENWAVE_USER", "operator")
        monkeypatch.setenv("GREENWAVE_PASSWORD", broker.users["operator"])
    conn = ["--broker", broker.url, "--site", rig.site,
            "--mqtt-version", "5" if broker.mqtt5 else "3.1.1"]  # fmt: skip

    def run(*args):
        code = main(["ctl", *conn, *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    run.rig = rig
    return run
