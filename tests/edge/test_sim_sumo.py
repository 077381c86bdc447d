"""Finding SUMO and reading its statistics."""

import os
import subprocess

import pytest

pytest.importorskip("sumo")

from edge.sim import sumo  # noqa: E402


def test_binaries_come_from_the_eclipse_sumo_package_even_after_libsumo_moved_sumo_home():
    pytest.importorskip("libsumo")  # importing it points SUMO_HOME at a folder with no bin/
    for name in ("sumo", "netgenerate"):
        path = sumo.sumo_binary(name)
        assert os.access(path, os.X_OK)
    out = subprocess.run([sumo.sumo_binary(), "--version"], capture_output=True, text=True)
    assert "Eclipse SUMO sumo" in out.stdout


def test_a_missing_tool_is_named():
    with pytest.raises(sumo.SumoError, match="'no-such-sumo-tool' not found"):
        sumo.sumo_binary("no-such-sumo-tool")


def test_teleports_from_statistic_output(tmp_path):
    path = tmp_path / "stats.xml"
    path.write_text(
        '<statistics><vehicles loaded="10"/><teleports total="3" jam="2" yield="1" '
        'wrongLane="0"/></statistics>'
    )
    assert sumo.teleports(path) == 3
    path.write_text('<statistics><vehicles loaded="10"/></statistics>')
    assert sumo.teleports(path) == 0
