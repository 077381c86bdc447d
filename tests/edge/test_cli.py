import argparse
import io
import json
import sys
import types
from pathlib import Path

import pytest

from edge import cli, config, factories
from edge.factories import tee
from edge.record import RecordWriter


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def pipe(capsys, monkeypatch, text, *argv):
    """Run `greenwave argv` with `text` (str or bytes) on its standard input."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    return run(capsys, *argv)


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("greenwave ")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["config"],
        ["config", "validate"],
        ["config", "example"],
        ["record"],
        ["record", "check"],
        ["demo"],
    ],
)
def test_help_everywhere(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    assert "usage: greenwave" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["config"], ["record"]])
def test_missing_action_prints_usage(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and "usage: greenwave" in err and out == ""


def test_config_validate_ok(capsys, tmp_path):
    path = tmp_path / "cross.toml"
    path.write_text(factories.example_toml("cross"))
    code, out, err = run(capsys, "config", "validate", str(path))
    assert (code, out, err) == (0, "ok: cross, 8 groups, 4 phases\n", "")


def test_config_validate_lists_every_problem(capsys, tmp_path):
    path = tmp_path / "bad.toml"
    text = factories.example_toml("tee").replace("yellow_s = 3.5", "yellow_s = 2.0", 1)
    text = text.replace('id = "tee"', 'id = "my tee"')
    path.write_text(text)
    code, out, err = run(capsys, "config", "validate", str(path))
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"{path}: intersection.id = 'my tee': may not contain spaces or the MQTT characters + # /",
        f"{path}: phases[0].yellow_s = 2.0: must be >= 3.0 s",
    ]


def test_config_validate_syntax_error(capsys, tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[intersection]\nid = "x\n')
    code, out, err = run(capsys, "config", "validate", str(path))
    assert code == 1 and err.startswith(f"{path}: line 2, column")
    assert "Traceback" not in err


def test_config_validate_missing_file(capsys, tmp_path):
    code, out, err = run(capsys, "config", "validate", str(tmp_path / "nope.toml"))
    assert code == 1 and "nope.toml: cannot read" in err and "Traceback" not in err


def test_config_example_nema8_piped_into_validate(capsys, monkeypatch):
    code, example, err = run(capsys, "config", "example", "nema8")
    assert code == 0 and "[[rings]]" in example
    code, out, err = pipe(capsys, monkeypatch, example, "config", "validate", "-")
    assert (code, out, err) == (0, "ok: nema8, 8 groups, 8 phases, 2 rings\n", "")


def test_config_validate_stdin_problems(capsys, monkeypatch):
    text = factories.example_toml("nema8").replace('["p7", "p8"]', '["p8", "p8"]')
    code, out, err = pipe(capsys, monkeypatch, text, "config", "validate", "-")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        "<stdin>: rings[1].sequence[1] = 'p8': phase already in rings[1]",
        "<stdin>: phases[6].name = 'p7': phase is in no ring (with [[rings]] every phase is in "
        "exactly one)",
    ]
    code, out, err = pipe(capsys, monkeypatch, b"\xff\xfe", "config", "validate", "-")
    assert code == 1 and err.startswith("<stdin>: not UTF-8 text") and "Traceback" not in err


def test_config_import_sumo_stays_in_free_phase_order(capsys, monkeypatch):
    pytest.importorskip("sumolib")
    net = Path(__file__).resolve().parents[2] / "scenarios" / "sumo-rl" / "single-intersection"
    code, text, err = run(capsys, "config", "import-sumo", str(net / "single-intersection.net.xml"))
    assert code == 0 and "[[rings]]" not in text
    assert config.loads(text).rings == () and "rings" not in config.loads(text).to_compact()
    code, out, err = pipe(capsys, monkeypatch, text, "config", "validate", "-")
    assert code == 0 and out.startswith("ok: ") and out.endswith(" phases\n")


@pytest.mark.parametrize("name", factories.EXAMPLES)
def test_config_example(capsys, name):
    code, out, err = run(capsys, "config", "example", name)
    assert code == 0 and err == ""
    assert config.loads(out) == factories.example(name)


def test_config_example_unknown_name(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["config", "example", "roundabout"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def write_record(path, trace):
    with RecordWriter(path) as rec:
        rec.header(tee())
        for t, s in trace:
            rec.change(t, "tee", s)


GOOD_TEE = [(0.0, "fffff"), (5.0, "rrrrr"), (8.0, "rGGrr"), (20.0, "rGyrr"), (23.5, "rGrrr")]


def test_record_check_ok(capsys, tmp_path):
    path = tmp_path / "run.jsonl"
    write_record(path, GOOD_TEE)
    code, out, err = run(capsys, "record", "check", str(path))
    assert code == 0 and err == ""
    assert out == "ok: 1 intersection(s), 5 signal changes, no violations\n"


def test_record_check_violations(capsys, tmp_path):
    path = tmp_path / "run.jsonl"
    write_record(path, [*GOOD_TEE[:2], (8.0, "GGGrr")])  # w_thru against e_left
    code, out, err = run(capsys, "record", "check", str(path))
    assert code == 1
    assert out.splitlines()[0].startswith("tee: t=8.000 s conflict [w_thru, e_left]")
    assert "safety violation" in err


def test_record_check_unreadable(capsys, tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps(tee().record_header()) + "\n{oops\n")
    code, out, err = run(capsys, "record", "check", str(path))
    assert code == 2 and f"{path}:2:" in err and "Traceback" not in err
    code, out, err = run(capsys, "record", "check", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "cannot read" in err


def test_demo_dispatches_to_edge_demo(capsys, monkeypatch):
    calls = []
    fake = types.ModuleType("edge.demo")
    fake.__doc__ = "A fake demo."

    def add_arguments(p: argparse.ArgumentParser):
        p.add_argument("--duration", type=float, default=1.0)

    def run_demo(args):
        calls.append(args.duration)
        return 7

    fake.add_arguments, fake.run = add_arguments, run_demo
    monkeypatch.setitem(sys.modules, "edge.demo", fake)
    assert cli.main(["demo", "--duration", "3"]) == 7
    assert calls == [3.0]


def test_demo_unavailable_without_edge_demo(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "edge.demo", None)  # makes the import fail
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    assert "unavailable" in capsys.readouterr().out
    code, out, err = run(capsys, "demo")
    assert code == 1 and "greenwave demo is unavailable" in err
