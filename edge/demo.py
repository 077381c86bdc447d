"""`greenwave demo`: one emulated intersection, the whole chain, live.

Firmware on the real MicroPython interpreter (emulated pins, virtual clock) -> a throttled pty
-> the gateway (pyserial, the firmware's own protocol module) -> an MQTT broker, with the
optimizer's requests (`--algorithm`: schedule or max-pressure) going back down. Traffic comes
from the built-in stochastic arrival model, which sees the heads and drives the detector inputs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

log = logging.getLogger("greenwave.demo")

_LOOP_REAL_S = 0.005  # how often the traffic model samples the heads and sets the detectors


def add_arguments(p: argparse.ArgumentParser) -> None:
    from gateway.planner import ALGORITHMS

    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="intersection config (TOML); default: the built-in four-way cross()",
    )
    p.add_argument(
        "--broker",
        metavar="URL",
        help="MQTT broker, e.g. mqtt://localhost:1883; default: an embedded amqtt broker",
    )
    p.add_argument("--site", default=None, help="site name in the MQTT topics (default: config)")
    p.add_argument(
        "--duration",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="virtual seconds to run (default: 300)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=10.0,
        metavar="FACTOR",
        help="virtual clock speed, x real time (default: 10)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed for the traffic (default: 1)")
    p.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write the run record (JSON Lines: header, then every change of the heads)",
    )
    p.add_argument(
        "--no-tui",
        action="store_true",
        help="no live view; print a progress line every 30 virtual seconds",
    )
    p.add_argument(
        "--heapsize",
        default="64k",
        help="MicroPython heap for the controller, as a board has (default: 64k)",
    )
    p.add_argument(
        "--baud",
        type=int,
        default=None,
        help="serial line rate between controller and gateway (default: config)",
    )
    p.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default="schedule",
        help="the gateway's optimizer loop (default: schedule; see `greenwave gateway run`)",
    )
    p.add_argument(
        "--scale-demand",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply the default arrival rates (default: 1.0)",
    )


def _load(args):
    from edge.config import load
    from edge.factories import cross

    return load(args.config) if args.config else cross()


def run(args: argparse.Namespace) -> int:
    from edge.broker import EmbeddedBroker
    from edge.config import ConfigError
    from edge.record import RecordWriter
    from edge.traffic import TrafficModel
    from gateway.clock import ScaledClock
    from gateway.mqtt import Mqtt, MqttError
    from gateway.planner import warm_up
    from gateway.service import Gateway
    from hil_tests.rig.emulator import EmulatedController, RigError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.speed <= 0 or args.duration <= 0:
        print(
            f"error: --speed and --duration must be positive (got {args.speed!r}, "
            f"{args.duration!r})",
            file=sys.stderr,
        )
        return 2
    try:
        ix = _load(args)
    except (ConfigError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    broker = None
    rig = None
    gw = None
    mqtt = None
    record = None
    try:
        if args.broker:
            url = args.broker
        else:
            broker = EmbeddedBroker().start()
            url = broker.url
        # the optimizer's kernels load (or compile, tens of seconds) before the clock starts
        print(f"loading the {args.algorithm} optimizer (the first run compiles it: up to a "
              "minute)...", end="", flush=True)  # fmt: skip
        took = warm_up(args.algorithm)
        print(f" {took:.1f} s", flush=True)
        epoch = time.time_ns()
        clock = ScaledClock(epoch, args.speed)
        rig = EmulatedController(
            ix,
            clock="scaled",
            speed=args.speed,
            epoch_ns=epoch,
            heapsize=args.heapsize,
            baud=args.baud or ix.link.baud,
            seed=args.seed,
        )
        if args.record:
            record = RecordWriter(args.record)
            record.header(ix)
            rig.listeners.append(lambda t, s: record.change(t, ix.id, s))
        rig.start()
        site = args.site or ix.broker.site
        mqtt = Mqtt(url, f"greenwave-gateway-{ix.id}", f"greenwave/{site}/{ix.id}/availability")
        mqtt.connect()
        gw = Gateway(
            ix, rig.port, mqtt, clock, baud=args.baud, site=site, algorithm=args.algorithm
        ).start()
        traffic = TrafficModel(ix, seed=args.seed, scale=args.scale_demand)
        view = _View(ix, rig, gw, traffic, mqtt.url, args)
        view.loop(clock)
        waiting = traffic.waiting_delay_s(clock.s())
        summary = _summary(ix, rig, gw, traffic, mqtt, waiting, args)
    except (RigError, MqttError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if gw is not None:
            gw.stop()
        if mqtt is not None:
            mqtt.close()
        if rig is not None:
            rig.stop()
        if broker is not None:
            broker.stop()
        if record is not None:
            record.close()
    print(summary)
    return 0 if not rig.oracle.violations else 1


def _summary(ix, rig, gw, traffic, mqtt, waiting_s, args) -> str:
    st = traffic.stats()
    violations = rig.oracle.violations
    lines = [
        f"greenwave demo: {ix.id}, {args.duration:g} s virtual at x{args.speed:g}, "
        f"seed {args.seed}, optimizer {args.algorithm}",
        f"  vehicles arrived {st['arrived']}, served {st['served']}, "
        f"still queued {sum(traffic.queues().values())}",
        f"  mean delay per served vehicle {st['mean_delay_s']:.1f} s "
        f"(plus {waiting_s:.0f} s waited by vehicles still queued)",
        f"  head changes {len(rig.changes)}, safety violations {len(violations)}",
        f"  MQTT messages published {mqtt.published}, decisions {gw.stats['decisions']} "
        f"(ok {gw.stats['acks_ok']}, refused {gw.stats['acks_refused']})",
        f"  serial frames {gw.stats['frames']}, dropped {gw.link.decoder.dropped}, "
        f"controller firmware log {rig.log_path}",
    ]
    for v in violations[:10]:
        lines.append(f"  VIOLATION {v}")
    if args.record:
        lines.append(f"  record written to {args.record}")
    return "\n".join(lines)


_COLOURS = {
    "G": "bold white on green",
    "g": "black on green",
    "y": "black on yellow",
    "r": "white on red",
    "f": "blink white on red",
    "o": "dim",
}


class _View:
    """The live terminal view (rich), or progress lines with --no-tui."""

    def __init__(self, ix, rig, gw, traffic, url, args):
        self.ix, self.rig, self.gw, self.traffic, self.url, self.args = (
            ix,
            rig,
            gw,
            traffic,
            url,
            args,
        )

    def loop(self, clock) -> None:
        n = len(self.ix.groups)
        next_print = 30.0
        if self.args.no_tui or not sys.stdout.isatty():
            print(
                f"running {self.ix.id} for {self.args.duration:g} virtual s at "
                f"x{self.args.speed:g}; broker {self.url}; controller on {self.rig.port}",
                flush=True,
            )
            while (t := clock.s()) < self.args.duration:
                self._step(t, n)
                if t >= next_print:
                    next_print += 30.0
                    print(self._line(t), flush=True)
                time.sleep(_LOOP_REAL_S)
            return
        from rich.live import Live

        with Live(self._render(0.0), refresh_per_second=8, transient=False) as live:
            last = 0.0
            while (t := clock.s()) < self.args.duration:
                self._step(t, n)
                if time.monotonic() - last > 0.12:
                    last = time.monotonic()
                    live.update(self._render(t))
                time.sleep(_LOOP_REAL_S)
            live.update(self._render(clock.s()))

    def _step(self, t, n) -> None:
        if not self.rig.alive:
            raise RuntimeError(
                f"the controller firmware stopped; log {self.rig.log_path}:\n{self.rig.log_tail()}"
            )
        self.traffic.step(t, self.rig.signals or "r" * n)
        self.rig.set_detectors(self.traffic.detector_levels())

    def _line(self, t) -> str:
        st = self.gw.state or {}
        q = self.traffic.queues()
        return (
            f"t={t:6.0f}s {self.rig.signals or '-':{len(self.ix.groups)}} "
            f"mode={st.get('mode', '?'):8} phase={st.get('phase_name') or '-':8} "
            f"queued={sum(q.values()):3d} served={self.traffic.served:4d} "
            f"violations={len(self.rig.oracle.violations)} published={self.gw.mqtt.published}"
        )

    def _render(self, t):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        st = self.gw.state or {}
        head = Text(
            f"{self.ix.id}  t={t:7.1f} s / {self.args.duration:g}  x{self.args.speed:g}  "
            f"mode {st.get('mode', '?')}  phase {st.get('phase_name') or '-'}\n"
        )
        sig = Text("signals ")
        for ch in self.rig.signals or "":
            sig.append(f" {ch} ", style=_COLOURS.get(ch, ""))
        groups = Table("group", "head", "queue (model)", "queue (detectors)", box=None)
        q = self.traffic.queues()
        for i, g in enumerate(self.ix.groups):
            ch = self.rig.signals[i] if len(self.rig.signals) > i else "-"
            est = self.gw.queues[i] if i < len(self.gw.queues) else 0
            groups.add_row(
                g.name, Text(ch, style=_COLOURS.get(ch, "")), str(q.get(g.name, 0)), f"{est:.0f}"
            )
        dec = Table("t", "request", "phase", "answer", box=None, title="decisions")
        for d in self.gw.decisions[-6:]:
            dec.add_row(f"{d['t']:.0f}", d["request"], d["phase"], d.get("result", "…"))
        st_ = self.traffic.stats()
        foot = Text(
            f"\nserved {st_['served']}  mean delay {st_['mean_delay_s']:.1f} s  "
            f"violations {len(self.rig.oracle.violations)}  "
            f"published {self.gw.mqtt.published}  broker {self.url}"
        )
        return Group(head, sig, Text(""), groups, dec, foot)
