"""Heads -> SUMO states, and SUMO programs built from imported lights."""

import subprocess

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import programs, runner, sumo  # noqa: E402
from tests.simdata import CROSS, TWO_WAY  # noqa: E402


def test_head_map_keeps_permissive_greens():
    # the generated cross has permissive lefts ('g') in its program: they must stay 'g'
    imp = runner.import_lights(str(CROSS))[0]
    heads = programs.HeadMap(imp)
    names = [g.name for g in imp.intersection.groups]
    for ph, state in zip(imp.intersection.phases, imp.green_states, strict=True):
        signals = "".join("G" if n in ph.groups else "r" for n in names)
        assert heads.state(signals) == state
    assert "g" in "".join(imp.green_states)
    assert imp.sumo_id == "A0" and imp.green_s == (42.0, 42.0)
    yellow = "".join("y" if n in imp.intersection.phases[0].groups else "r" for n in names)
    assert set(heads.state(yellow)) == {"y", "r"}
    assert set(heads.state("f" * len(names))) == {"r"}


@pytest.mark.parametrize("kind", programs.SUMO_TYPES)
def test_sumo_runs_the_generated_programs(tmp_path, kind):
    imp = runner.import_lights(str(TWO_WAY))
    add = tmp_path / "p.add.xml"
    add.write_text(programs.program_xml(imp, kind))
    routes = TWO_WAY.parent / "single-intersection-vhvh.rou.xml"
    proc = subprocess.run(
        [sumo.sumo_binary(), "-n", str(TWO_WAY), "-r", str(routes), "-a", str(add), "-e", "60",
         "--no-step-log", "true"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr
