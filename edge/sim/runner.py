"""`greenwave sim`: SUMO drives traffic, the firmware drives the lights, the edge decides.

One run: import the selected traffic lights (edge.sumo_import), place detectors in a generated
additional file (edge.sim.sensing), start SUMO (libsumo, else TraCI) with the caller's network,
routes, additional files and extra options untouched, then every simulation step: read the
detectors, step each intersection's firmware controller (edge.sim.site) with the strategy's
requests on the wire, show its heads in SUMO, record them. SUMO writes its own tripinfo (with
unfinished and undeparted vehicles) and statistics; the delay comes from the tripinfo.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge import safety, sumo_import
from edge.record import RecordWriter
from edge.sim import controllers, coordination, lookahead, metrics, oracle, sensing, sumo
from edge.sim.site import Site


class SimError(RuntimeError):
    """A run that cannot start or finish; the message says why (and names the light)."""


@dataclass
class SimOptions:
    net: str
    routes: list[str]
    tripinfo: str
    begin: float = 0.0
    end: float = 3600.0
    seed: int = 1
    controller: str = "schedule"
    additional: list[str] = field(default_factory=list)
    sumo_args: str = ""
    record: str | None = None
    tls: str | list[str] = "all"
    # detectors; exact or oracle (exact + the demand not inserted yet): measurement only
    sensing: str = "detectors"
    # measurement only: exact sensing this far upstream along vehicles' routes (None: the zones)
    reach_m: float | None = None
    progress: bool = False
    api: str = "libsumo"


@dataclass
class SimResult:
    delay: metrics.Delay
    teleports: int
    wall_s: float
    violations: list
    stats: dict
    api: str

    def summary(self, opts: SimOptions) -> str:
        d = self.delay
        lines = [
            f"greenwave sim: {Path(opts.net).name}, {opts.controller} ({_sensed(opts)}), "
            f"{opts.begin:g}-{opts.end:g} s, seed {opts.seed}, {self.api}",
            f"  mean delay {d.mean_delay_s:.2f} s per vehicle (timeLoss + departDelay, "
            f"{d.vehicles} vehicles: {d.trips} trips, {d.running} running, "
            f"{d.undeparted} undeparted)",
            f"  trips {d.trips}, teleports {self.teleports}, wall time {self.wall_s:.1f} s",
            f"  requests {self.stats['requests']} (ok {self.stats['ok']}, refused "
            f"{self.stats['refused']}), controller faults {self.stats['faults']}, "
            f"safety violations {len(self.violations)}",
            f"  tripinfo {opts.tripinfo}" + (f", record {opts.record}" if opts.record else ""),
        ]
        lines += [f"  VIOLATION {v}" for v in self.violations[:10]]
        return "\n".join(lines)


def _sensed(opts: SimOptions) -> str:
    return opts.sensing if opts.reach_m is None else f"{opts.sensing}, reach {opts.reach_m:g} m"


def import_lights(net, tls="all"):
    """Imported lights of `net`; SimError listing every problem (each names its light)."""
    try:
        return sumo_import.import_net(net, tls)
    except sumo_import.SumoImportError as e:
        raise SimError(str(e)) from None


def run(opts: SimOptions) -> SimResult:
    """Run one simulation; raises SimError (bad input, SUMO failure)."""
    if opts.controller not in controllers.CONTROLLERS:
        raise SimError(f"--controller must be one of {', '.join(controllers.CONTROLLERS)}")
    if opts.sensing not in ("detectors", "exact", "oracle"):
        raise SimError(f"--sensing must be detectors, exact or oracle, got {opts.sensing!r}")
    if opts.reach_m is not None and (opts.sensing == "detectors" or not opts.reach_m > 0):
        raise SimError(
            f"--reach ({opts.reach_m!r}) needs --sensing exact or oracle and a length over 0 m"
        )
    if not opts.end > opts.begin:
        raise SimError(f"--end ({opts.end!r}) must be after --begin ({opts.begin!r})")
    for path in [opts.net, *opts.routes, *opts.additional]:
        if not Path(path).is_file():
            raise SimError(f"no such file: {path!r}")
    imported = import_lights(opts.net, opts.tls)
    net = sumo_import.read_net(opts.net)
    layouts = [sensing.plan_layout(net, imp) for imp in imported]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="greenwave-sim-") as tmp:
        trips = None
        if opts.sensing == "oracle":  # measurement only: the demand, from a first pass
            try:
                trips, _ = oracle.first_pass(opts, tmp)
            except sumo.SumoError as e:
                raise SimError(str(e)) from None
        det_file = os.path.join(tmp, "detectors.add.xml")
        Path(det_file).write_text(sensing.additional_xml(layouts), encoding="utf-8")
        stats_file = os.path.join(tmp, "statistics.xml")
        cmd = [
            sumo.sumo_binary(),
            "--net-file", opts.net,
            "--route-files", ",".join(opts.routes),
            "--additional-files", ",".join([*opts.additional, det_file]),
            "--begin", f"{opts.begin:g}",
            "--end", f"{opts.end:g}",
            "--seed", str(opts.seed),
            "--tripinfo-output", opts.tripinfo,
            "--tripinfo-output.write-unfinished", "true",
            "--tripinfo-output.write-undeparted", "true",
            "--statistic-output", stats_file,
            "--no-step-log", "true",
            "--no-warnings", "true",
            *shlex.split(opts.sumo_args),
        ]  # fmt: skip
        try:
            api = sumo.start(cmd, opts.api)
        except sumo.SumoError as e:
            raise SimError(str(e)) from None
        api_name = api.__name__
        record = RecordWriter(opts.record) if opts.record else None
        try:
            result = _loop(api, opts, imported, layouts, record, net, trips)
        finally:
            try:
                api.close()
            except Exception:  # noqa: BLE001 - already closed or crashed: nothing to keep
                pass
            if record is not None:
                record.close()
        teleports = sumo.teleports(stats_file) if os.path.isfile(stats_file) else 0
    try:
        delay = metrics.read_delay(opts.tripinfo)
    except (OSError, metrics.TripinfoError) as e:
        raise SimError(f"cannot read the tripinfo SUMO wrote: {e}") from None
    stats, violations = result
    return SimResult(delay, teleports, time.perf_counter() - started, violations, stats, api_name)


def _loop(api, opts, imported, layouts, record, net=None, trips=None):
    sites = []
    future = oracle.Future(trips, api) if trips is not None else None
    checks = []
    strategies = [controllers.make(opts.controller, imp) for imp in imported]
    # No coordination with a look-ahead: it sees the vehicles an upstream plan would announce
    # (from 300 m on, the arterial's roads whole and the approaches behind the neighbours).
    if opts.reach_m is None and net is not None and any(hasattr(s, "link") for s in strategies):
        for strategy, feeds in zip(
            strategies, coordination.plan_feeds(net, imported, layouts), strict=True
        ):
            if hasattr(strategy, "link"):
                strategy.link(feeds, strategies)
    for k, (imp, lay) in enumerate(zip(imported, layouts, strict=True)):
        strategy = strategies[k]
        if opts.sensing in ("exact", "oracle"):
            far = None
            if opts.reach_m is not None:
                far = lookahead.plan_look_ahead(net, lay, opts.reach_m)
            if future is not None:
                seer = oracle.Clairvoyant(net, lay, future, getattr(strategy, "horizon_s", 120.0))
                sense = oracle.OracleSensing(lay, api, far, seer)
            else:
                sense = sensing.ExactSensing(lay, api, far)
        else:
            sense = sensing.DetectorSensing(lay, sensing.Fence(api))
        site = Site(imp, strategy, sense, opts.begin, seq0=opts.seed * 7919 + k * 104729)
        sites.append(site)
        header = imp.intersection.record_header()
        checks.append(safety.SafetyOracle(header))
        if record is not None:
            record.header(imp.intersection)
    progress = _Progress(opts) if opts.progress else None
    try:
        t = api.simulation.getTime()
        while t < opts.end - 1e-9:
            for site, check in zip(sites, checks, strict=True):
                state = site.step(t)
                for ms, signals in site.take_changes():
                    check.feed(ms / 1000.0, signals)
                    if record is not None:
                        record.change(ms / 1000.0, site.ix.id, signals)
                if state != site.sumo_state:
                    api.trafficlight.setRedYellowGreenState(site.imported.sumo_id, state)
                    site.sumo_state = state
            api.simulationStep()
            t = api.simulation.getTime()
            if progress is not None:
                progress.update(t)
    finally:
        if progress is not None:
            progress.close()
    stats = {k: sum(s.stats[k] for s in sites) for k in sites[0].stats}
    violations = [v for o in checks for v in o.violations]
    return stats, violations


class _Progress:
    def __init__(self, opts):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.begin = opts.begin
        self.p = Progress(
            TextColumn(f"sim {opts.controller}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("s"),
            TimeElapsedColumn(),
            transient=True,
            console=Console(stderr=True),
        )
        self.task = self.p.add_task("sim", total=int(opts.end - opts.begin))
        self.p.start()
        self._last = 0

    def update(self, t):
        done = int(t - self.begin)
        if done - self._last >= 10:
            self.p.update(self.task, completed=done)
            self._last = done

    def close(self):
        self.p.stop()
