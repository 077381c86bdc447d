"""Heads -> SUMO link states, and SUMO programs built from an imported intersection.

`HeadMap` turns a Greenwave signal string (one character per signal group) into the SUMO state
string of the light (one character per link index). A green group shows each of its links'
green character from the program phase that has the same groups green (`G` priority, `g`
yield, as SUMO's program has it), so permissive movements still yield in simulation.

`program_xml` writes the same intersection as a SUMO `tlLogic` (static, actuated or
delay_based) with Greenwave's timing: the comparison runs SUMO's own controllers with the very
min/max greens, yellows and all-reds that Greenwave's controllers get.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

SUMO_TYPES = ("static", "actuated", "delay_based")


class HeadMap:
    """Signal string -> SUMO state string for one imported light."""

    def __init__(self, imported):
        names = [g.name for g in imported.intersection.groups]
        index = {n: i for i, n in enumerate(names)}
        width = 1 + max(i for idx in imported.links.values() for i in idx)
        self.link_group = [0] * width
        for g, idx in imported.links.items():
            for i in idx:
                self.link_group[i] = index[g]
        fallback = []
        for i in range(width):
            found = [s[i] for s in imported.green_states if s[i] in "Ggs"]
            fallback.append(found[0] if found else "G")
        self._chars = {None: fallback}
        phases = imported.intersection.phases
        for ph, state in zip(phases, imported.green_states, strict=True):
            key = frozenset(index[g] for g in ph.groups)
            self._chars[key] = [
                c if c in "Ggs" else f for c, f in zip(state, fallback, strict=True)
            ]

    def state(self, signals: str) -> str:
        """SUMO state for `signals` (flash and dark show red: stop)."""
        greens = frozenset(i for i, c in enumerate(signals) if c in "Gg")
        chars = self._chars.get(greens) or self._chars[None]
        out = []
        for i, gi in enumerate(self.link_group):
            c = signals[gi]
            out.append(chars[i] if c in "Gg" else ("y" if c == "y" else "r"))
        return "".join(out)


def program_xml(imported_list, kind: str, program_id: str | None = None) -> str:
    """A SUMO additional file with one `tlLogic` of type `kind` per imported light."""
    if kind not in SUMO_TYPES:
        raise ValueError(f"kind must be one of {', '.join(SUMO_TYPES)}, got {kind!r}")
    pid = program_id or f"greenwave-{kind}"
    out = ["<additional>"]
    for imp in imported_list:
        ix = imp.intersection
        heads = HeadMap(imp)
        names = [g.name for g in ix.groups]
        out.append(
            f"  <tlLogic id={quoteattr(imp.sumo_id or ix.id)} type={quoteattr(kind)} "
            f'programID={quoteattr(pid)} offset="0">'
        )
        n = len(ix.phases)
        for p, ph in enumerate(ix.phases):
            nxt = set(ix.phases[(p + 1) % n].groups)
            green = "".join("G" if g in ph.groups else "r" for g in names)
            yellow = "".join(("G" if g in nxt else "y") if g in ph.groups else "r" for g in names)
            red = yellow.replace("y", "r")
            dur = min(max(imp.green_s[p], ph.min_green_s), ph.max_green_s)
            timed = (
                ""
                if kind == "static"
                else (f' minDur="{ph.min_green_s:g}" maxDur="{ph.max_green_s:g}"')
            )
            out.append(f'    <phase duration="{dur:g}"{timed} state="{heads.state(green)}"/>')
            out.append(f'    <phase duration="{ph.yellow_s:g}" state="{heads.state(yellow)}"/>')
            if ph.all_red_s > 0:
                out.append(f'    <phase duration="{ph.all_red_s:g}" state="{heads.state(red)}"/>')
        out.append("  </tlLogic>")
    out.append("</additional>")
    return "\n".join(out) + "\n"
