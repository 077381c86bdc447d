"""Intersection config files (TOML) <-> edge.model.Intersection.

The layout is documented in docs/config.md. `loads` reports every problem at once: TOML syntax,
unknown or missing keys, wrong shapes, then the model's own validation.
"""

from __future__ import annotations

import dataclasses
import re
import textwrap
import tomllib
from pathlib import Path

from edge.model import (
    MISSING,
    BrokerSettings,
    ConfigError,
    Detector,
    Intersection,
    LinkSettings,
    Phase,
    Plan,
    Problem,
    SignalGroup,
)
from edge.validation import validate

_REQUIRED = object()
_TOP = ("intersection", "groups", "conflicts", "phases", "rings", "plans", "detectors", "link",
        "broker")  # fmt: skip
_INTERSECTION_KEYS = {"id": _REQUIRED, "startup_flash_s": 5.0, "startup_all_red_s": 3.0}

# One line of help per key, written above the key in commented files (`dumps(comments=True)`).
HELP = {
    "intersection": "The intersection. Times are seconds.",
    "intersection.id": "id used in MQTT topics and records: no spaces or + # /",
    "intersection.startup_flash_s": "flash at power-on before the start-up all-red, s",
    "intersection.startup_all_red_s": "all-red after start-up flash, before the first green, s "
    "(at least the longest all_red_s)",
    "groups": "Signal groups: one output per signal head, in signal-string order "
    "(one character each: G green, y yellow, r red, f flash, o dark).",
    "groups.name": "unique name",
    "groups.kind": "vehicle or pedestrian",
    "groups.approach": "approach the traffic comes from (n, s, e, w, ...)",
    "groups.movement": "thru, left, right, thru_right (thru with shared right) or crossing (ped)",
    "conflicts": "Conflict matrix: pairs of groups never shown green or yellow together.",
    "phases": "Phases: non-conflicting groups green together, in service order. "
    "Timing in seconds, NTCIP 1202 terms.",
    "phases.name": "unique name",
    "phases.groups": "signal groups green in this phase",
    "phases.min_green_s": "Minimum Green: every green lasts at least this long, s",
    "phases.max_green_s": "Maximum Green: longest green while a conflicting call waits, s",
    "phases.passage_s": "Passage (vehicle extension / gap): green extension per actuation, s",
    "phases.yellow_s": "Yellow Change interval, s (never below 3.0)",
    "phases.all_red_s": "Red Clearance: all-red after the yellow, before a conflicting green, s",
    "phases.recall": "Recall: none, min (call every cycle), max (call and time to max green) or "
    "pedestrian (a walk every cycle)",
    "phases.walk_s": "Walk: pedestrian walk, s (0 = no pedestrian timing); shown for at least "
    "min_green_s",
    "phases.ped_clear_s": "Pedestrian Clearance (flashing don't walk), s; ends before the vehicle "
    "yellow, so max(walk_s, min_green_s) + ped_clear_s <= max_green_s",
    "rings": "Rings and barriers (dual-ring operation, NEMA TS2): one [[rings]] table per ring. "
    "Without them phases run one at a time in free cyclic order.",
    "rings.sequence": "the ring's barrier groups in order, each a list of phase names in service "
    "order; the k-th group of every ring is one side of the barrier (ring 1 = [[p1, p2], "
    "[p3, p4]], ring 2 = [[p5, p6], [p7, p8]] for a NEMA 8-phase dual ring)",
    "plans": "Timing plans an operator may put in force (greenwave ctl plan ID --set N): one "
    "[[plans]] table each, numbered 1.. in file order; plan 0 is the phases' own timing. A plan "
    "only trims: each max green lies between the phase's min_green_s (with a walk, max(walk_s, "
    "min_green_s) + ped_clear_s) and its max_green_s.",
    "plans.name": "unique name",
    "plans.max_green_s": "max green per phase name, s; a phase not named keeps its max_green_s",
    "detectors": "Detectors: one per controller input; inputs are numbered 0..n-1 without gaps.",
    "detectors.name": "unique name",
    "detectors.input": "controller input number",
    "detectors.calls": "signal groups this detector calls (and extends)",
    "detectors.role": "stop_bar (presence at the stop line), advance (upstream), count, "
    "ped_button (pedestrian push button) or preempt (emergency vehicle preemption)",
    "detectors.no_activity_s": "No Activity diagnostic: failed after this long without a change, "
    "s (0 = off)",
    "detectors.max_presence_s": "Max Presence diagnostic: failed when present this long, s "
    "(0 = off)",
    "detectors.erratic_per_min": "Erratic Counts diagnostic: failed above this many counts a "
    "minute (0 = off)",
    "detectors.fail_action": "a failed detector: call (its phases are called all the time) or none",
    "link": "Serial link from the cabinet computer to the controller.",
    "link.port": "serial device (or a pyserial URL)",
    "link.baud": "line rate, bits per second",
    "broker": "MQTT broker. Topics are greenwave/<site>/<intersection id>/...",
    "broker.url": "mqtt://host:port, or mqtts://host:port for TLS",
    "broker.site": "site name in the topics: no spaces or + # /",
}


def load(path) -> Intersection:
    """Read the TOML config at `path`; raise ConfigError listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([Problem("file", str(path), f"not UTF-8 text: {e}")], str(path)) from None
    return loads(text, source=str(path))


def loads(text: str, source: str = "<string>") -> Intersection:
    """Parse TOML `text` into an Intersection; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([_syntax_problem(e, text)], source) from None
    reader = _Reader()
    ix = reader.build(data)
    problems = reader.problems
    if ix is not None:
        # A missing key is already reported; its MISSING value would be reported again.
        seen = {p.field for p in problems}
        problems += [p for p in validate(ix) if p.field not in seen]
    if problems:
        raise ConfigError(problems, source)
    return ix


def _syntax_problem(err, text) -> Problem:
    msg = str(err)
    m = re.match(r"(.*) \(at line (\d+), column (\d+)\)$", msg)
    if not m:
        end = re.match(r"(.*) \(at end of document\)$", msg)
        lines = text.splitlines() or [""]
        where = f"line {len(lines)}, end of document"
        return Problem(where, lines[-1], f"TOML syntax error: {end.group(1) if end else msg}")
    line = int(m.group(2))
    lines = text.splitlines()
    shown = lines[line - 1] if 0 < line <= len(lines) else ""
    return Problem(f"line {line}, column {m.group(3)}", shown, f"TOML syntax error: {m.group(1)}")


def _keys(cls) -> dict:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        else:
            out[f.name] = _REQUIRED
    return out


class _Reader:
    """Walks the parsed TOML, collecting problems; `build` returns None on a broken structure."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.broken = False  # a table that is not one: model paths would be misleading

    def add(self, path, value, message, broken=False):
        self.problems.append(Problem(path, value, message))
        self.broken = self.broken or broken

    def table(self, path, raw, keys) -> dict:
        if not isinstance(raw, dict):
            self.add(path, raw, "must be a table", broken=True)
            return {}
        for key, value in raw.items():
            if key not in keys:
                self.add(f"{path}.{key}", value, f"unknown key; expected one of {', '.join(keys)}")
        kwargs = {}
        for key, default in keys.items():
            if key in raw:
                value = raw[key]
                if key.endswith("_s") and isinstance(value, int) and not isinstance(value, bool):
                    value = float(value)
                kwargs[key] = value
            elif default is _REQUIRED:
                self.add(f"{path}.{key}", MISSING, "required key is missing")
                kwargs[key] = MISSING
        return kwargs

    def entries(self, data, name, cls, required):
        if name not in data:
            if required:
                self.add(name, MISSING, f"required: add at least one [[{name}]] table", True)
            return ()
        raw = data[name]
        if not isinstance(raw, list) or not all(isinstance(e, dict) for e in raw):
            self.add(name, raw, f"must be an array of tables ([[{name}]])", broken=True)
            return ()
        keys = _keys(cls)
        return tuple(cls(**self.table(f"{name}[{i}]", e, keys)) for i, e in enumerate(raw))

    def pairs(self, data):
        raw = data.get("conflicts", {"pairs": []})
        if isinstance(raw, list):
            self.add(
                "conflicts", raw, "must be a table: write [conflicts] then pairs = [...]", True
            )
            return []
        conflicts = self.table("conflicts", raw, {"pairs": []})
        raw = conflicts.get("pairs", [])
        if not isinstance(raw, list):
            self.add("conflicts.pairs", raw, "must be an array of [group, group] pairs")
            return []
        good = []
        for i, pair in enumerate(raw):
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(n, str) for n in pair):
                good.append(pair)
            else:
                self.add(f"conflicts.pairs[{i}]", pair, "must be a pair of group names")
        return good

    def rings(self, data):
        """The `sequence` of every [[rings]] table (none: free phase order)."""
        if "rings" not in data:
            return ()
        raw = data["rings"]
        if not isinstance(raw, list) or not raw or not all(isinstance(e, dict) for e in raw):
            self.add("rings", raw, "must be an array of tables ([[rings]])", broken=True)
            return ()
        return [self.table(f"rings[{i}]", e, {"sequence": _REQUIRED}).get("sequence")
                for i, e in enumerate(raw)]  # fmt: skip

    def plans(self, data):
        """The [[plans]] tables (none: only the base timing)."""
        out = []
        for plan in self.entries(data, "plans", Plan, required=False):
            v = plan.max_green_s
            if isinstance(v, tuple):  # TOML integers are seconds too
                v = tuple(
                    (k, float(x)) if isinstance(x, int) and not isinstance(x, bool) else (k, x)
                    for k, x in v
                )
            out.append(Plan(name=plan.name, max_green_s=v))
        return tuple(out)

    def build(self, data) -> Intersection | None:
        for key, value in data.items():
            if key not in _TOP:
                self.add(key, value, f"unknown key; expected one of {', '.join(_TOP)}")
        if "intersection" not in data:
            self.add("intersection", MISSING, "required: add an [intersection] table", True)
        top = self.table("intersection", data.get("intersection", {}), _INTERSECTION_KEYS)
        groups = self.entries(data, "groups", SignalGroup, required=True)
        pairs = self.pairs(data)
        phases = self.entries(data, "phases", Phase, required=True)
        rings = self.rings(data)
        plans = self.plans(data)
        detectors = self.entries(data, "detectors", Detector, required=False)
        link = LinkSettings(**self.table("link", data.get("link", {}), _keys(LinkSettings)))
        broker = self.table("broker", data.get("broker", {}), _keys(BrokerSettings))
        if self.broken:
            return None
        return Intersection(
            groups=groups,
            conflicts=pairs,
            phases=phases,
            rings=rings,
            plans=plans,
            detectors=detectors,
            link=link,
            broker=BrokerSettings(**broker),
            **top,
        )


def dumps(ix: Intersection, comments: bool = False) -> str:
    """TOML text for `ix` that `loads` reads back to an equal Intersection.

    With `comments`, each section and the keys of its first entry get a line of help.
    """
    out: list[str] = []

    def section(header, name, pairs, first):
        if out:
            out.append("")
        if comments and first and name in HELP:
            out.extend(_comment(HELP[name]))
        out.append(header)
        for key, value in pairs:
            if comments and first and f"{name}.{key}" in HELP:
                out.extend(_comment(f"{key}: {HELP[f'{name}.{key}']}"))
            out.append(f"{key} = {_value(value)}")

    section(
        "[intersection]",
        "intersection",
        [(k, getattr(ix, k)) for k in _INTERSECTION_KEYS],
        True,
    )
    for i, g in enumerate(ix.groups):
        section("[[groups]]", "groups", _fields(g), i == 0)
    out += [""] + (_comment(HELP["conflicts"]) if comments else [])
    out.append("[conflicts]")
    pairs = ix.conflict_pairs()
    if pairs:
        out.append("pairs = [")
        out += [f"    {_value(list(p))}," for p in pairs]
        out.append("]")
    else:
        out.append("pairs = []")
    for i, ph in enumerate(ix.phases):
        section("[[phases]]", "phases", _fields(ph), i == 0)
    for i, ring in enumerate(ix.rings):
        section("[[rings]]", "rings", [("sequence", ring)], i == 0)
    for i, plan in enumerate(ix.plans):
        table = _InlineTable(plan.max_green_s)
        section("[[plans]]", "plans", [("name", plan.name), ("max_green_s", table)], i == 0)
    for i, d in enumerate(ix.detectors):
        section("[[detectors]]", "detectors", _fields(d), i == 0)
    section("[link]", "link", _fields(ix.link), True)
    section("[broker]", "broker", _fields(ix.broker), True)
    return "\n".join(out) + "\n"


def _comment(text):
    return ["# " + line for line in textwrap.wrap(text, 96)]


# Keys written only when they differ from their default, so files of configs that do not use
# recall, pedestrian timing or detector diagnostics look as before.
_QUIET = ("recall", "walk_s", "ped_clear_s", "no_activity_s", "max_presence_s",
          "erratic_per_min", "fail_action")  # fmt: skip


def _fields(obj):
    out = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name not in _QUIET or value != f.default:
            out.append((f.name, value))
    return out


class _InlineTable(tuple):
    """(key, value) pairs written as a TOML inline table."""


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _value(value) -> str:
    if isinstance(value, _InlineTable):
        items = (f"{k if _BARE.fullmatch(k) else _string(k)} = {_value(v)}" for k, v in value)
        return "{ " + ", ".join(items) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
