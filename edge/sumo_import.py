"""Import SUMO traffic-light programs (.net.xml) as Greenwave intersections.

Rules, in SUMO's own terms (docs/config.md, "Importing from SUMO"):

- A signal group is one incoming lane's links that show the same colour in every program phase
  (G, g and s count as green). Lanes, not single links, go to phases, so a shared through+left
  lane with a permissive left ('G' thru, 'g' left) is one group.
- Two groups conflict when a link of one is a foe of a link of the other (the junction's
  <request foes>) AND no program phase shows both green. Foes that SUMO lets go together
  (a permissive left against the opposing through) are left to the drivers, as in SUMO.
- Each program phase with a green becomes a phase. It must be followed by yellow phases (every
  link leaving green shows 'y', no other link does), then optional all-red phases: their sums are
  the yellow and all-red times. Anything else is an error naming the traffic light.
- Yellow is raised to 3.0 s and all-red to 1.0 s when SUMO's are shorter (a warning says so).
- A SUMO program is one cycle of phases, not rings and barriers: an imported config has no
  rings and runs its phases in free order, program order first.

sumolib is imported only when a network is read, so the rest of the edge runs without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge import config
from edge.model import MIN_YELLOW_S, Detector, Intersection, Phase, SignalGroup
from edge.validation import validate

MIN_ALL_RED_S = 1.0
MAX_GREEN_CAP_S = 120.0
SHORT_GREEN_S = 10.0  # greens shorter than this are protected lefts: shorter min green/passage
_GREEN, _YELLOW, _RED = "G", "y", "r"
_COLOUR = {"G": _GREEN, "g": _GREEN, "s": _GREEN, "y": _YELLOW, "r": _RED}
_TURN = {"s": "thru", "r": "right", "R": "right", "l": "left", "L": "left", "t": "left"}


class SumoImportError(ValueError):
    """A network that cannot be imported; `.problems` lists every problem, each naming its TLS."""

    def __init__(self, problems, source=None):
        self.problems = list(problems)
        where = f"{source}: " if source else ""
        super().__init__(
            "\n".join(
                [f"{where}{len(self.problems)} import problem(s)"]
                + [f"  {p}" for p in self.problems]
            )
        )


@dataclass(frozen=True)
class Imported:
    """One imported traffic light: the intersection and what places SUMO detectors later."""

    intersection: Intersection
    program: str  # SUMO programID that was imported
    lanes: dict[str, tuple[str, ...]]  # signal group -> its incoming SUMO lane ids
    detector_lanes: dict[str, tuple[str, ...]]  # detector name -> SUMO lane ids it covers
    warnings: tuple[str, ...] = ()
    links: dict[str, tuple[int, ...]] | None = None  # signal group -> its SUMO link indices
    green_states: tuple[str, ...] = ()  # per phase, the SUMO state of its program green phase
    green_s: tuple[float, ...] = ()  # per phase, the duration of that program green phase
    sumo_id: str = ""  # the light's id in SUMO (the config id may be rewritten)


def read_net(path):
    """Read a SUMO .net.xml with the programs SUMO would run (the last one of each light)."""
    try:
        import sumolib
    except ImportError:
        raise SumoImportError(["sumolib is not installed: pip install sumolib"], path) from None
    return sumolib.net.readNet(str(path), withLatestPrograms=True)


def import_net(path, tls="all") -> list[Imported]:
    """Import the traffic lights `tls` ("all" or a list of ids) of the network at `path`.

    Raises SumoImportError listing every problem of every selected light.
    """
    path = Path(path)
    if not path.is_file():
        raise SumoImportError([f"no such file: {str(path)!r}"])
    net = read_net(path)
    known = {t.getID(): t for t in net.getTrafficLights()}
    wanted = sorted(known) if tls == "all" else list(tls)
    problems = [f"traffic light {t!r}: not in the network" for t in wanted if t not in known]
    if not known:
        problems.append("the network has no traffic lights")
    out = []
    for tls_id in wanted:
        if tls_id in known:
            try:
                out.append(import_tls(known[tls_id]))
            except SumoImportError as e:
                problems += e.problems
    if problems:
        raise SumoImportError(problems, str(path))
    return out


def import_tls(tls) -> Imported:
    """Import one sumolib TLS (with its program loaded) as an Imported intersection."""
    ident = tls.getID()
    problems: list[str] = []

    def fail(message):
        problems.append(f"traffic light {ident!r}: {message}")

    programs = tls.getPrograms()
    if not programs:
        fail("has no program")
        raise SumoImportError(problems)
    program_id, program = list(programs.items())[-1]
    states = [ph.state for ph in program.getPhases()]
    links = _links(tls, fail)
    _check_program(states, len(links), fail)
    if problems:
        raise SumoImportError(problems)
    columns = [tuple(_COLOUR[s[i]] for s in states) for i in range(len(links))]
    groups, members = _groups(links, columns)
    never = [i for i, col in enumerate(columns) if _GREEN not in col]
    if never:
        fail(f"link indices {never} are never green in program {program_id!r}")
    warnings: list[str] = []
    phases = _phases(program, groups, members, columns, fail, warnings)
    if problems:
        raise SumoImportError(problems)
    ix_id = "".join("_" if c.isspace() or c in "+#/" else c for c in ident)
    if ix_id != ident:
        warnings.append(f"id {ident!r} written as {ix_id!r} (no spaces or + # / in ids)")
    names = [g.name for g in groups]
    dets = [Detector(f"{n}_stop", i, (n,), "stop_bar") for i, n in enumerate(names)]
    dets += [Detector(f"{n}_adv", len(names) + i, (n,), "advance") for i, n in enumerate(names)]
    lanes = {
        g.name: tuple(dict.fromkeys(links[i][0].getID() for i in members[g.name])) for g in groups
    }
    ix = Intersection(
        id=ix_id,
        groups=tuple(groups),
        conflicts=_conflicts(links, columns, members),
        phases=tuple(phases),
        rings=(),  # free phase order, as SUMO cycles its program
        detectors=tuple(dets),
        startup_all_red_s=max(3.0, max(ph.all_red_s for ph in phases)),
    )
    for p in validate(ix):
        fail(f"imported config is invalid: {p}")
    if problems:
        raise SumoImportError(problems)
    detector_lanes = {d.name: lanes[d.calls[0]] for d in dets}
    links_of = {g.name: tuple(members[g.name]) for g in groups}
    greens = [ph for ph in program.getPhases() if any(_COLOUR[c] == _GREEN for c in ph.state)]
    return Imported(
        ix,
        program_id,
        lanes,
        detector_lanes,
        tuple(warnings),
        links_of,
        tuple(ph.state for ph in greens),
        tuple(float(ph.duration) for ph in greens),
        ident,
    )


def _links(tls, fail):
    """Per link index: (incoming lane, sumolib Connection); reports missing or odd links."""
    by_index: dict[int, list] = {}
    for in_lane, out_lane, index in tls.getConnections():
        conns = [
            c
            for c in in_lane.getOutgoing()
            if c.getToLane() is out_lane and c.getTLLinkIndex() == index
        ]
        by_index.setdefault(index, []).extend((in_lane, c) for c in conns[:1])
    count = max(by_index, default=-1) + 1
    missing = [i for i in range(count) if not by_index.get(i)]
    if missing:
        fail(f"link indices {missing} have no vehicle connection (crossings are not imported)")
    shared = [i for i, found in sorted(by_index.items()) if len({id(f[0]) for f in found}) > 1]
    if shared:
        fail(f"link indices {shared} are shared by several incoming lanes")
    return [by_index[i][0] if by_index.get(i) else (None, None) for i in range(count)]


def _check_program(states, count, fail):
    if not states:
        fail("its program has no phases")
    for k, state in enumerate(states):
        if len(state) != count:
            fail(f"phase {k} state {state!r} has {len(state)} signals for {count} link indices")
        odd = sorted(set(state) - set(_COLOUR))
        if odd:
            fail(f"phase {k} state {state!r} uses {''.join(odd)!r}; only G g s y r are imported")


def _groups(links, columns):
    """Signal groups: links of one incoming lane with the same colour column, by link index."""
    keys: dict[tuple, list[int]] = {}
    for i, (lane, _) in enumerate(links):
        keys.setdefault((lane.getID(), columns[i]), []).append(i)
    groups, members, taken = [], {}, set()
    for indices in keys.values():
        lane = links[indices[0]][0]
        turns = {_TURN.get(links[i][1].getDirection(), "thru") for i in indices}
        movement = "thru_right" if turns == {"thru", "right"} else _movement(turns)
        base = f"{_approach(lane.getShape())}_{movement}"
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        groups.append(SignalGroup(name, "vehicle", base.split("_")[0], movement))
        members[name] = indices
    return groups, members


def _movement(turns):
    # A shared thru+left lane is a through group (its left is permissive); left+right is a stem.
    if "thru" in turns:
        return "thru"
    return "left" if "left" in turns else "right"


def _approach(shape):
    """Where traffic comes from (n, s, e, w), from the direction of the lane's last segment."""
    (x0, y0), (x1, y1) = shape[-2][:2], shape[-1][:2]
    dx, dy = x1 - x0, y1 - y0
    if abs(dy) >= abs(dx):
        return "n" if dy < 0 else "s"
    return "e" if dx < 0 else "w"


def _phases(program, groups, members, columns, fail, warnings):
    """A Greenwave phase per green program phase, timed from the transition phases after it."""
    phases_in = program.getPhases()
    count = len(phases_in)
    colours = [{_COLOUR[c] for c in ph.state} for ph in phases_in]
    greens = [k for k in range(count) if _GREEN in colours[k]]
    if not greens:
        fail("its program has no green phase")
    actuated = program.getType() in ("actuated", "delay_based")
    out = []
    for n, k in enumerate(greens):
        ph = phases_in[k]
        if _YELLOW in colours[k]:
            fail(f"phase {k} state {ph.state!r} mixes green and yellow (overlaps are not imported)")
            continue
        green = {g.name for g in groups if columns[members[g.name][0]][k] == _GREEN}
        nxt = (k + 1) % count
        yellow = all_red = 0.0
        while _YELLOW in colours[nxt] and _GREEN not in colours[nxt]:
            _check_yellow(k, nxt, phases_in, columns, fail)
            yellow += float(phases_in[nxt].duration)
            nxt = (nxt + 1) % count
        while colours[nxt] == {_RED} and nxt != k:
            all_red += float(phases_in[nxt].duration)
            nxt = (nxt + 1) % count
        if yellow == 0:
            shown = phases_in[(k + 1) % count].state
            fail(f"green phase {k} state {ph.state!r} is followed by {shown!r}, not by yellow")
            continue
        if _GREEN not in colours[nxt]:
            fail(
                f"phase {nxt} state {phases_in[nxt].state!r} follows the all-red after phase "
                f"{k}; expected green"
            )
        name = f"p{n + 1}"
        if yellow < MIN_YELLOW_S:
            warnings.append(f"{name}: SUMO yellow {yellow!r} s raised to {MIN_YELLOW_S} s")
            yellow = MIN_YELLOW_S
        if all_red < MIN_ALL_RED_S:
            warnings.append(f"{name}: SUMO all-red {all_red!r} s raised to {MIN_ALL_RED_S} s")
            all_red = MIN_ALL_RED_S
        order = [g.name for g in groups if g.name in green]
        out.append(Phase(name, tuple(order), *_green_times(ph, actuated), yellow, all_red))
    return out


def _check_yellow(k, y, phases_in, columns, fail):
    """Every link green in phase k shows yellow in phase y, and no other link does."""
    state = phases_in[y].state
    wrong = [i for i, col in enumerate(columns) if (col[k] == _GREEN) != (col[y] == _YELLOW)]
    if wrong:
        fail(
            f"yellow phase {y} state {state!r} does not match green phase {k} "
            f"{phases_in[k].state!r} at link indices {wrong}"
        )


def _green_times(ph, actuated):
    """(min_green_s, max_green_s, passage_s) from a SUMO green phase."""
    duration = float(ph.duration)
    short = duration < SHORT_GREEN_S
    min_green = 5.0 if short else 7.0
    passage = 2.0 if short else 3.0
    if actuated and ph.minDur >= 0 and ph.maxDur >= 0:
        min_green = max(min_green, float(ph.minDur))
        max_green = float(ph.maxDur)
    else:
        # A fixed-time green is the typical demand; an actuated controller may stretch it 2x.
        max_green = 2.0 * duration
    max_green = min(max(max_green, min_green + 5.0), MAX_GREEN_CAP_S)
    return min_green, max(max_green, min_green), passage


def _conflicts(links, columns, members):
    """Pairs of groups with foe links that no program phase shows green together."""
    pairs = set()
    names = list(members)
    for a_pos, a in enumerate(names):
        for b in names[a_pos + 1 :]:
            ca, cb = columns[members[a][0]], columns[members[b][0]]
            if any(x == _GREEN and y == _GREEN for x, y in zip(ca, cb, strict=True)):
                continue
            if any(_foes(links[i][1], links[j][1]) for i in members[a] for j in members[b]):
                pairs.add(frozenset((a, b)))
    return frozenset(pairs)


def _foes(c1, c2) -> bool:
    node = c1.getJunction()
    if node is not c2.getJunction():
        return False  # links of different junctions of one joined light never cross
    i, j = c1.getJunctionIndex(), c2.getJunctionIndex()
    if i < 0 or j < 0:
        return True  # no right-of-way data: assume the worst
    return node.areFoes(i, j) or node.areFoes(j, i)


def to_toml(imp: Imported, source: str = "") -> str:
    """The config file of `imp`: a header of comments (origin, lanes, warnings), then the TOML."""
    ix = imp.intersection
    head = [
        f"# Imported by `greenwave config import-sumo` from {source or 'a SUMO network'},",
        f"# traffic light {ix.id!r}, program {imp.program!r}. Signal group lanes (SUMO ids):",
    ]
    head += [f"#   {g}: {' '.join(lanes)}" for g, lanes in imp.lanes.items()]
    head += [f"# warning: {w}" for w in imp.warnings]
    return "\n".join(head) + "\n\n" + config.dumps(ix, comments=False)


__all__ = ["Imported", "SumoImportError", "import_net", "import_tls", "read_net", "to_toml"]
