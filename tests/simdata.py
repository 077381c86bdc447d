"""Shared paths and small builders for the `greenwave sim` tests (tests/edge/test_sim_*.py)."""

from pathlib import Path

from edge.sim import runner, sensing

ROOT = Path(__file__).resolve().parents[1]
SINGLE = ROOT / "scenarios" / "sumo-rl" / "single-intersection"
NET = SINGLE / "single-intersection.net.xml"
ROUTES = SINGLE / "single-intersection.rou.xml"
TWO_WAY = ROOT / "scenarios/sumo-rl/2way-single-intersection/single-intersection.net.xml"
CROSS = ROOT / "scenarios" / "generated" / "cross.net.xml"
ARTERIAL = ROOT / "scenarios" / "generated" / "arterial.net.xml"


def opts(tmp_path, **kw):
    """SimOptions for a short single-intersection run writing into tmp_path."""
    base = dict(
        net=str(NET),
        routes=[str(ROUTES)],
        tripinfo=str(tmp_path / "tripinfo.xml"),
        begin=0.0,
        end=300.0,
        seed=3,
        record=str(tmp_path / "run.jsonl"),
    )
    base.update(kw)
    return runner.SimOptions(**base)


def views(imp, queue=None, vehicles=None, arrivals=None, room=20.0, entered=0, sensed_s=10.0):
    """A detector Reading of one imported light with the given per-group values."""
    names = [g.name for g in imp.intersection.groups]
    queue, vehicles, arrivals = queue or {}, vehicles or {}, arrivals or {}
    groups = {
        n: sensing.GroupView(
            queue=queue.get(n, 0.0),
            vehicles=max(vehicles.get(n, 0.0), queue.get(n, 0.0)),
            arrivals_s=list(arrivals.get(n, [])),
            entered=entered,
            sensed_s=sensed_s,
            room=room,
        )
        for n in names
    }
    return sensing.Reading(dict.fromkeys(names, False), dict.fromkeys(names, False), groups)
