"""`greenwave sim` on the command line."""

import re

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge import cli  # noqa: E402
from tests.simdata import NET, ROUTES  # noqa: E402


def test_cli_prints_the_summary(tmp_path, capsys):
    code = cli.main(
        ["sim", "--net", str(NET), "--routes", str(ROUTES), "--end", "120", "--seed", "2",
         "--controller", "max-pressure", "--tripinfo", str(tmp_path / "t.xml"), "--no-progress"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"mean delay \d+\.\d\d s per vehicle", out)
    assert re.search(r"trips \d+, teleports 0, wall time", out)
    assert (tmp_path / "t.xml").is_file()


def test_cli_reach_is_for_exact_sensing_only(tmp_path, capsys):
    base = ["sim", "--net", str(NET), "--routes", str(ROUTES), "--end", "60",
            "--tripinfo", str(tmp_path / "t.xml"), "--no-progress", "--reach", "400"]  # fmt: skip
    assert cli.main(base) == 2
    assert "--reach" in capsys.readouterr().err
    assert cli.main([*base, "--sensing", "exact"]) == 0
    assert "(exact, reach 400 m)" in capsys.readouterr().out


def test_cli_oracle_sensing_is_offered_and_said(tmp_path, capsys):
    base = ["sim", "--net", str(NET), "--routes", str(ROUTES), "--end", "60", "--sensing",
            "oracle", "--tripinfo", str(tmp_path / "t.xml"), "--no-progress"]  # fmt: skip
    assert cli.main(base) == 0
    assert "schedule (oracle)" in capsys.readouterr().out
    assert cli.main([*base, "--reach", "400"]) == 0
    assert "(oracle, reach 400 m)" in capsys.readouterr().out
