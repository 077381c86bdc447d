"""The compact config's optional checks: pedestrian timing and recall, detector kinds and
diagnostics, dual rings (timing plans: plans.py).

config.py loads this only for a config with one of those keys, after its own checks, and boot
unloads it with config.py: start-up code, like the validator, is heap a board cannot spare.
"""

from .config import _is_int, _ms

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_MAX_RINGS = const(4)
_MAX_ERRATIC = const(1000)  # counts per minute


def _rows(out, d, key, n, width):
    """d[key] as n rows of `width` ints (width 0: n ints), or None (problem recorded)."""
    rows = d[key]
    if type(rows) is not list or len(rows) != n:
        out.append(f"{key}: {rows!r} is not a list of {n} entries")
        return None
    for i, row in enumerate(rows):
        r = [row] if not width else row
        if type(r) is not list or len(r) != (width or 1) or not all(_is_int(x) for x in r):
            out.append(f"{key}[{i}]: {row!r} is not {width or 1} integer(s)")
            return None
    return rows


def ped_timing(out, d, cfg):
    """Check d's `ped_timing` and `recall` against the validated phase timing; set `cfg.walk`,
    `cfg.ped_clear` (config.py's zeros until then) and the recall masks."""
    n = cfg.n_phases
    if "ped_timing" in d:
        cfg.ped_clear = [0] * n
        rows = _rows(out, d, "ped_timing", n, 2) or []
        for p in range(len(rows)):
            walk, clear = rows[p]
            f = f"ped_timing[{p}]"
            if walk == 0 and clear == 0:
                continue
            if not (_ms(out, f + " (walk)", walk, 1) and _ms(out, f + " (ped_clear)", clear, 1)):
                continue
            if clear < cfg.yellow[p]:
                out.append(f"{f}: ped_clear {clear!r} is below the phase's yellow {cfg.yellow[p]}")
            # walk shows for at least min green, and all of it fits in the vehicle green
            w = walk if walk > cfg.min_green[p] else cfg.min_green[p]
            if w + clear > cfg.max_green[p]:
                out.append(
                    f"{f}: max(walk, min_green) + ped_clear = {w + clear} ms exceeds max_green "
                    f"{cfg.max_green[p]}"
                )
            if not cfg.phase_mask[p] & cfg.ped_mask:
                out.append(f"{f}: {rows[p]!r} but phase {p} has no pedestrian group")
            cfg.walk[p] = w
            cfg.ped_clear[p] = clear
    if "recall" in d:
        rows = _rows(out, d, "recall", n, 0) or []
        for p in range(len(rows)):
            r = rows[p]
            if not 0 <= r <= 3:
                out.append(f"recall[{p}]: {r!r} is not 0 none, 1 min, 2 max or 3 pedestrian")
            elif r == 3 and not cfg.walk[p]:
                out.append(f"recall[{p}]: pedestrian recall (3) on a phase without ped_timing")
            elif r:
                cfg.recall |= 1 << p
                cfg.recall_max |= (r == 2) << p
                cfg.recall_ped |= (r == 3) << p


def detectors(out, d, cfg):
    """Check d's `det_kind` and `det_diag`; set the detector masks and `cfg.det_diag`."""
    n = cfg.n_detectors
    if "det_kind" in d:
        rows = _rows(out, d, "det_kind", n, 0) or []
        for i in range(len(rows)):
            k = rows[i]
            if not 0 <= k <= 2:
                out.append(f"det_kind[{i}]: {k!r} is not 0 vehicle, 1 pedestrian or 2 preempt")
            elif k:
                cfg.ped_dets |= (k == 1) << i
                cfg.pre_dets |= (k == 2) << i
    if "det_diag" in d:
        rows = _rows(out, d, "det_diag", n, 4) or []
        if rows:
            diag = [0] * (3 * n)
            for i in range(n):
                na, mp, er, fail = rows[i]
                f = f"det_diag[{i}]"
                _ms(out, f + " (no_activity)", na, 0)
                _ms(out, f + " (max_presence)", mp, 0)
                if not 0 <= er <= _MAX_ERRATIC:
                    out.append(f"{f} (erratic_per_min): {er!r} is outside 0..{_MAX_ERRATIC}")
                if fail not in (0, 1):
                    out.append(f"{f} (fail_action): {fail!r} is not 0 call or 1 none")
                diag[3 * i : 3 * i + 3] = rows[i][:3]
                cfg.fail_none |= (fail == 1) << i
            if any(diag):
                cfg.det_diag = diag


def rings(out, d, cfg):
    """Dual-ring/barrier structure: d["rings"][r][b] lists ring r's phases in barrier group b, in
    service order. Every phase in exactly one ring, the same number of barrier groups in every
    ring, phases of different rings in one barrier group never conflict, and a signal group
    belongs to one ring only (each ring drives its own heads). Sets `cfg.rings` and, when the
    rings pass, the ring cycle as `cfg.max_cycle`."""
    k = len(out)
    rings = d["rings"]
    n = cfg.n_phases
    if type(rings) is not list or not 1 <= len(rings) <= _MAX_RINGS:
        out.append(f"rings: {rings!r} is not a list of 1..{_MAX_RINGS} rings")
        return
    nb = -1
    ring_of = [-1] * n
    side = bytearray(n)
    order = []
    for r, ring in enumerate(rings):
        if type(ring) is not list or not ring or not all(type(b) is list for b in ring):
            out.append(f"rings[{r}]: {ring!r} is not a list of barrier groups (lists of phases)")
            return
        if nb < 0:
            nb = len(ring)
        elif len(ring) != nb:
            out.append(f"rings[{r}]: {len(ring)} barrier groups, rings[0] has {nb}")
            return
        seq = []
        cells = []
        for b, group in enumerate(ring):
            cells.append(bytes(p for p in group if _is_int(p) and 0 <= p < n))
            for p in group:
                f = f"rings[{r}][{b}]"
                if not _is_int(p) or not 0 <= p < n:
                    out.append(f"{f}: {p!r} is not a phase index (there are {n} phases)")
                    return
                if ring_of[p] >= 0:
                    out.append(f"{f}: phase {p} is already in rings[{ring_of[p]}]")
                    return
                ring_of[p] = r
                side[p] = b
                seq.append(p)
        if not seq:
            out.append(f"rings[{r}]: {ring!r} holds no phase")
        order.append(cells)
    for p in range(n):
        if ring_of[p] < 0:
            out.append(f"rings: phase {p} is in no ring")
    gring = [-1] * cfg.n_groups
    for b in range(nb):
        if not any(side[p] == b and ring_of[p] >= 0 for p in range(n)):
            out.append(f"rings: barrier group {b} holds no phase")
    for p in range(n):
        m = cfg.phase_mask[p]
        for g in range(cfg.n_groups):
            if (m >> g) & 1 and ring_of[p] >= 0:
                if gring[g] >= 0 and gring[g] != ring_of[p]:
                    out.append(
                        f"rings: group {g} ({cfg.groups[g]}) is in rings {gring[g]} and "
                        f"{ring_of[p]}; a signal group belongs to one ring"
                    )
                gring[g] = ring_of[p]
        for q in range(p + 1, n):
            if ring_of[p] != ring_of[q] and side[p] == side[q] and ring_of[q] >= 0:
                mq = cfg.phase_mask[q]
                if any((m >> g) & 1 and cfg.conflict_mask[g] & mq for g in range(cfg.n_groups)):
                    out.append(
                        f"rings: phases {p} and {q} conflict but share barrier group "
                        f"{side[p]} in different rings"
                    )
    cfg.rings = order
    if len(out) == k:
        _ring_cycle(cfg)


def _ring_cycle(cfg):
    # The rings cross each barrier together: a barrier group lasts as long as its longest ring.
    # A call on a phase its ring has just passed waits for the rest of that barrier group, the
    # others, and then the phases before it in its ring: the longest such run is added.
    total = 0
    before = 0
    for b in range(len(cfg.rings[0])):
        longest = 0
        for ring in cfg.rings:
            t = 0
            for p in ring[b]:
                before = t if t > before else before
                t += cfg.max_green[p] + cfg.yellow[p] + cfg.all_red[p]
            longest = t if t > longest else longest
        total += longest
    cfg.max_cycle = total + before
