"""gateway.secrets: the secrets file is checked once, every problem named, no secret shown."""

import logging
import os
import secrets as pysecrets

import pytest

from gateway.secrets import (
    EXAMPLE,
    MIN_KEY_BYTES,
    Redactor,
    SecretsError,
    check_key,
    check_password,
    load_controller_keys,
    load_secrets,
    parse,
)


def good_text(password=None, **operators) -> str:
    password = password or pysecrets.token_urlsafe(18)
    ops = operators or {"alice": pysecrets.token_hex(32)}
    lines = ["[broker]", 'username = "demo/cross"', f'password = "{password}"', "[operators]"]
    lines += [f'{k} = "{v}"' for k, v in ops.items()]
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    with pytest.raises(SecretsError) as e:
        parse(text)
    return e.value.problems


def test_a_good_file_is_read_with_its_keys_as_bytes():
    key = pysecrets.token_hex(32)
    s = parse(good_text("x7Gq-9vLw2Zr_4PkT8mB", bob=key))
    assert s.username == "demo/cross" and s.password == "x7Gq-9vLw2Zr_4PkT8mB"
    assert s.operators == {"bob": bytes.fromhex(key)}
    assert "x7Gq" not in repr(s) and key not in repr(s)


def test_the_shipped_example_is_refused_field_by_field():
    found = problems(EXAMPLE.replace('ca_file = "/etc/greenwave/ca.crt"\n', ""))
    assert any(p.startswith("broker.password: the sample value") for p in found)
    assert any(p.startswith("operators.alice: the sample key") for p in found)
    assert any(p.startswith("link.key: the sample key") for p in found)


def test_the_link_key_is_read_checked_and_redacted():
    link = pysecrets.token_hex(32)
    s = parse(good_text() + f'[link]\nkey = "{link}"\n')
    assert s.link_key == bytes.fromhex(link) and link in s.values() and link not in repr(s)
    assert parse(good_text()).link_key is None  # a gateway for a controller without keys
    assert problems(good_text() + '[link]\nkey = "00"\n') == ["link.key: too short (1 bytes, "
                                                               "at least 32)"]  # fmt: skip
    op = pysecrets.token_hex(32)
    assert problems(good_text(alice=op) + f'[link]\nkey = "{op}"\n') == [
        "link.key: the same key as operators.alice"
    ]


def test_a_controller_keys_file_becomes_the_compact_keys_for_flash(tmp_path):
    k, link = pysecrets.token_hex(32), pysecrets.token_hex(32)
    f = tmp_path / "cross.keys.toml"
    f.write_text(f'site = "demo"\n[operators]\nalice = "{k}"\n[link]\nkey = "{link}"\n')
    f.chmod(0o600)
    assert load_controller_keys(f) == {"v": 1, "site": "demo", "operators": {"alice": k},
                                       "link": link}  # fmt: skip
    f.write_text('site = "a/b"\n[operators]\nalice = "00"\n')
    with pytest.raises(SecretsError) as e:
        load_controller_keys(f)
    assert [p.split(":")[0] for p in e.value.problems] == ["site", "operators.alice", "link.key"]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("", "empty"),
        (None, "empty"),
        ("changeme", "too short"),
        ("changeme-changeme-1234", "placeholder"),
        ("CHANGE_ME_PLEASE_NOW_9", "placeholder"),
        ("my-secret-broker-pass", "placeholder"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "guessable"),
        ("Zq8-short", "too short (9 characters"),
    ],
)
def test_weak_passwords_are_refused_without_showing_them(password, why):
    found = check_password("broker.password", password)
    assert found is not None and why in found
    if password:
        assert password not in found


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty"),
        ("zz" * 32, "not hex"),
        ("ab" * (MIN_KEY_BYTES - 1), "too short"),
        ("00" * 32, "not random"),
        ("0102" * 16, "not random"),
    ],
)
def test_weak_keys_are_refused_without_showing_them(key, why):
    value, found = check_key("operators.bob", key)
    assert value is None and why in found
    if key:
        assert key not in found


def test_every_problem_is_reported_together():
    text = (
        "[broker]\nusername = \"\"\npassword = \"changeme\"\nca_file = \"/no/such/ca.crt\"\n"
        "cert_file = \"/no/such.crt\"\nport = 1\n[operators]\n\"bad id!\" = \"00\"\n"
        'bob = ""\n[extra]\n'
    )  # fmt: skip
    found = problems(text)
    for field in ("extra: unknown section", "broker.port: unknown key", "broker.username",
                  "broker.password", "broker.ca_file: '/no/such/ca.crt'", "broker.cert_file",
                  "broker.cert_file, broker.key_file: give both", "operators.bad id!",
                  "operators.bob: empty"):  # fmt: skip
        assert any(p.startswith(field) for p in found), (field, found)


def test_two_operators_with_one_key_are_refused():
    key = pysecrets.token_hex(32)
    found = problems(good_text(alice=key, bob=key))
    assert found == ["operators.bob: the same key as operators.alice"]


def test_not_toml_is_one_problem_naming_the_file():
    assert problems("[broker\n")[0].startswith("secrets: not TOML")


def test_a_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text(good_text())
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="mode 0644 lets others read it; chmod 600"):
        load_secrets(path)
    os.chmod(path, 0o600)
    assert load_secrets(path).username == "demo/cross"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SecretsError, match="nope.toml: cannot read"):
        load_secrets(tmp_path / "nope.toml")


def test_the_redactor_hides_secret_values_in_log_records():
    canary = pysecrets.token_hex(32)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "key is %s here", (canary,), None)
    Redactor(["", canary]).filter(record)
    assert record.getMessage() == "key is *** here"
