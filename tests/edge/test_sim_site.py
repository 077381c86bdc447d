"""One intersection: the firmware controller in-process and the gateway side of the wire."""

import pytest

pytest.importorskip("libsumo")
pytest.importorskip("sumolib")

from edge.sim import controllers, runner  # noqa: E402
from edge.sim.site import Site  # noqa: E402
from tests.simdata import TWO_WAY, views  # noqa: E402


class _HoldThenAskForCurrent(controllers.Strategy):
    """HOLD for 15 s, then ask to switch to the phase already green (always refused)."""

    def decide(self, now_s, reading, current, elapsed_s):
        return (controllers.HOLD if now_s < 15 else controllers.SWITCH), current


class _Still:
    def __init__(self, reading):
        self.reading = reading

    def read(self, now_s):
        return self.reading


def test_a_refused_switch_releases_the_hold_to_the_controllers_own_choice():
    imp = runner.import_lights(str(TWO_WAY))[0]
    phases = imp.intersection.phases
    waiting = phases[2].groups[0]
    reading = views(imp, vehicles={waiting: 3.0})
    reading.stop[waiting] = True  # its stop-bar loop calls phase 2
    site = Site(imp, _HoldThenAskForCurrent(controllers.PhaseModel(imp)), _Still(reading), 0.0)
    names = [g.name for g in imp.intersection.groups]
    first_green = {}
    for t in range(0, 60):
        site.step(float(t))
        green = {names[i] for i, c in enumerate(site.signals) if c == "G"}
        for p, ph in enumerate(phases):
            if green and green == set(ph.groups):
                first_green.setdefault(p, t)
    assert site.stats["refused"] >= 1
    # without the CLEAR the HOLD would keep phase 0 to its 66 s max green
    assert first_green[0] == 0 and 15 < first_green[2] < 30
    assert 1 not in first_green  # nobody called the phase between
