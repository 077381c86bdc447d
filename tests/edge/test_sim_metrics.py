"""Delay as RESCO measures it, from a hand-made tripinfo."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import metrics  # noqa: E402


def test_mean_delay_is_timeloss_plus_departdelay_with_unfinished_and_undeparted(tmp_path):
    path = tmp_path / "tripinfo.xml"
    path.write_text(
        """<tripinfos>
  <tripinfo id="a" depart="10.00" departDelay="2.00" arrival="60.00" timeLoss="8.50"/>
  <tripinfo id="b" depart="20.00" departDelay="0.00" arrival="-1.00" timeLoss="30.00"/>
  <tripinfo id="c" depart="-1" departDelay="45.00" arrival="-1.00" timeLoss="0.00"/>
  <tripinfo id="d" depart="5.00" departDelay="1.00" arrival="40.00" timeLoss="0.50"/>
</tripinfos>"""
    )
    d = metrics.read_delay(path)
    assert (d.vehicles, d.trips, d.running, d.undeparted) == (4, 2, 1, 1)
    assert d.total_delay_s == pytest.approx(10.5 + 30.0 + 45.0 + 1.5)
    assert d.mean_delay_s == pytest.approx(87.0 / 4)


def test_bad_tripinfo_is_named(tmp_path):
    path = tmp_path / "tripinfo.xml"
    path.write_text('<tripinfos><tripinfo id="x" depart="1" departDelay="oops" arrival="2" '
                    'timeLoss="1"/></tripinfos>')  # fmt: skip
    with pytest.raises(metrics.TripinfoError, match=r"'x'.*departDelay='oops'"):
        metrics.read_delay(path)
