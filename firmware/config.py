"""The compact controller config (a dict from JSON) -> a validated `Config`.

The controller trusts nobody: `load` checks everything again, even though edge/model.py already
did, and reports every problem in one `ConfigError`. Group, phase and detector sets become int
bitmasks so the per-tick code does no allocation; counts are capped at 30 so every mask stays a
MicroPython small int on 32-bit boards. The optional keys' checks (pedestrian timing and recall,
detector kinds and diagnostics, rings) are in config_options.py, timing plans in plans.py: each
is loaded only for a config that has them.
"""

# Config lives in its own small module so that the app can unload this one (the validator).
from .config_data import Config

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


VERSION = const(1)
MIN_YELLOW_MS = const(3000)
MAX_ITEMS = const(30)  # groups, phases, detectors: masks fit a 31-bit small int
MAX_MS = const(3600000)  # any single time; sums of them stay far below ticks' half period

_KEYS = (
    "v",
    "id",
    "groups",
    "ped",
    "conflicts",
    "phases",
    "timing",
    "detectors",
    "startup_flash",
    "startup_all_red",
)
# Optional keys (absent = the defaults in config_data.Config): recall, pedestrian timing,
# detector kinds and diagnostics, rings (config_options.py), then timing plans (plans.py).
_OPTIONAL = ("recall", "ped_timing", "det_kind", "det_diag", "rings", "plans")
_TIMING = ("min_green", "max_green", "passage", "yellow", "all_red")
_TIMING_TEXT = "min_green, max_green, passage, yellow, all_red"


class ConfigError(ValueError):
    """The config is unusable; `.problems` lists every problem (field and value)."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


def _is_int(x):
    # bool is an int subclass on both interpreters; JSON true is not a number here.
    return type(x) is int


def _int_list(out, field, value):
    """The list if `value` is a list of ints, else None (problem recorded)."""
    if type(value) is not list:
        out.append(f"{field}: {value!r} is not a list")
        return None
    ok = True
    for i, x in enumerate(value):
        if not _is_int(x):
            out.append(f"{field}[{i}]: {x!r} is not an integer")
            ok = False
    return value if ok else None


def _list_of_lists(out, field, value, min_len):
    if type(value) is not list:
        out.append(f"{field}: {value!r} is not a list")
        return None
    if len(value) < min_len:
        out.append(f"{field}: {value!r} needs at least {min_len} entries")
        return None
    if len(value) > MAX_ITEMS:
        out.append(f"{field}: {len(value)} entries, at most {MAX_ITEMS} supported")
        return None
    return value


def _ms(out, field, value, lo):
    if not _is_int(value):
        out.append(f"{field}: {value!r} is not an integer number of ms")
        return False
    if value < lo or value > MAX_MS:
        out.append(f"{field}: {value!r} is outside {lo}..{MAX_MS} ms")
        return False
    return True


def _groups(out, d, cfg):
    names = _list_of_lists(out, "groups", d["groups"], 1)
    if names is None:
        return False
    ok = True
    for i, name in enumerate(names):
        if type(name) is not str or not name:
            out.append(f"groups[{i}]: {name!r} is not a non-empty string")
            ok = False
        elif names.index(name) != i:
            out.append(f"groups[{i}]: {name!r} is a duplicate name")
            ok = False
    if ok:
        cfg.groups = list(names)
        cfg.n_groups = len(names)
    return ok


def _ped(out, d, cfg):
    ped = _int_list(out, "ped", d["ped"])
    if ped is None:
        return
    if len(ped) != cfg.n_groups:
        out.append(f"ped: {ped!r} has {len(ped)} entries for {cfg.n_groups} groups")
        return
    for i, x in enumerate(ped):
        if x not in (0, 1):
            out.append(f"ped[{i}]: {x!r} is not 0 or 1")
            return
    cfg.ped = list(ped)


def _conflicts(out, d, cfg):
    n = cfg.n_groups
    mask = [0] * n
    cfg.conflict_mask = mask
    pairs = d["conflicts"]
    if type(pairs) is not list:
        out.append(f"conflicts: {pairs!r} is not a list")
        return False
    seen = []
    ok = True
    for k, pair in enumerate(pairs):
        field = f"conflicts[{k}]"
        if type(pair) is not list or len(pair) != 2 or not (_is_int(pair[0]) and _is_int(pair[1])):
            out.append(f"{field}: {pair!r} is not a pair of group indices")
            ok = False
            continue
        i, j = pair
        if not (0 <= i < n and 0 <= j < n):
            out.append(f"{field}: {pair!r} names an unknown group (there are {n})")
            ok = False
            continue
        if i == j:
            out.append(f"{field}: {pair!r} is a group conflicting with itself")
            ok = False
            continue
        p = (i, j) if i < j else (j, i)
        if p not in seen:
            seen.append(p)
        mask[i] |= 1 << j
        mask[j] |= 1 << i
    cfg.conflicts = seen
    return ok


def _phases(out, d, cfg):
    phases = _list_of_lists(out, "phases", d["phases"], 1)
    if phases is None:
        return False
    cfg.n_phases = len(phases)
    n = cfg.n_groups
    ok = True
    covered = 0
    for p, groups in enumerate(phases):
        field = f"phases[{p}]"
        if type(groups) is not list or not groups:
            out.append(f"{field}: {groups!r} is not a non-empty list of group indices")
            ok = False
            continue
        m = 0
        for g in groups:
            if not _is_int(g) or not 0 <= g < n:
                out.append(f"{field}: {g!r} is not a group index (there are {n} groups)")
                ok = False
            elif m & (1 << g):
                out.append(f"{field}: group {g!r} ({cfg.groups[g]}) is listed twice")
                ok = False
            else:
                m |= 1 << g
        if cfg.conflict_mask:
            for g in range(n):
                clash = m & cfg.conflict_mask[g] & ~((1 << (g + 1)) - 1)
                if m & (1 << g) and clash:
                    h = 0
                    while not clash & (1 << h):
                        h += 1
                    a, b = cfg.groups[g], cfg.groups[h]
                    out.append(f"{field}: {groups!r} holds conflicting groups {a} and {b}")
                    ok = False
        covered |= m
        cfg.phase_groups.append([g for g in range(n) if m & (1 << g)])
        cfg.phase_mask.append(m)
    for g in range(n):
        if not covered & (1 << g):
            out.append(f"groups[{g}]: {cfg.groups[g]!r} is in no phase")
            ok = False
    return ok


def _timing(out, d, cfg):
    rows = d["timing"]
    if type(rows) is not list or len(rows) != cfg.n_phases:
        out.append(f"timing: {rows!r} is not a list of {cfg.n_phases} rows (one per phase)")
        return False
    lists = (cfg.min_green, cfg.max_green, cfg.passage, cfg.yellow, cfg.all_red)
    lows = (1, 1, 0, MIN_YELLOW_MS, 0)
    ok = True
    for p, row in enumerate(rows):
        if type(row) is not list or len(row) != 5:
            out.append(f"timing[{p}]: {row!r} is not [{_TIMING_TEXT}]")
            ok = False
            continue
        row_ok = True
        for k in range(5):
            field = f"timing[{p}][{k}] ({_TIMING[k]})"
            if _ms(out, field, row[k], lows[k]):
                lists[k].append(row[k])
            else:
                row_ok = False
        if row_ok and row[0] > row[1]:
            out.append(f"timing[{p}]: min_green {row[0]!r} is above max_green {row[1]!r}")
            row_ok = False
        ok = ok and row_ok
    return ok


def _group_bounds(cfg):
    inf = MAX_MS + 1
    cfg.g_min_green = [inf] * cfg.n_groups
    cfg.g_yellow = [inf] * cfg.n_groups
    cfg.g_all_red = [inf] * cfg.n_groups
    for p in range(cfg.n_phases):
        for g in cfg.phase_groups[p]:
            cfg.g_min_green[g] = min(cfg.g_min_green[g], cfg.min_green[p])
            cfg.g_yellow[g] = min(cfg.g_yellow[g], cfg.yellow[p])
            cfg.g_all_red[g] = min(cfg.g_all_red[g], cfg.all_red[p])
    cfg.max_cycle = 0
    for p in range(cfg.n_phases):
        cfg.max_cycle += cfg.max_green[p] + cfg.yellow[p] + cfg.all_red[p]


def _detectors(out, d, cfg):
    dets = d["detectors"]
    if type(dets) is not list:
        out.append(f"detectors: {dets!r} is not a list")
        return
    if len(dets) > MAX_ITEMS:
        out.append(f"detectors: {len(dets)} entries, at most {MAX_ITEMS} supported")
        return
    for i, phases in enumerate(dets):
        field = f"detectors[{i}]"
        if type(phases) is not list:
            out.append(f"{field}: {phases!r} is not a list of phase indices")
            continue
        m = 0
        for p in phases:
            if not _is_int(p) or (cfg.n_phases and not 0 <= p < cfg.n_phases):
                out.append(f"{field}: calls unknown phase {p!r}")
            elif cfg.n_phases:
                m |= 1 << p
        cfg.det_phases.append(m)
    cfg.n_detectors = len(dets)


def blank(cfg):
    """config_data.Config.__init__: every field empty (here, as the validator is start-up code
    that boot.py unloads; the Config stays for good)."""
    cfg.id = ""
    cfg.groups = []
    cfg.n_groups = 0
    cfg.ped = []
    cfg.conflicts = []
    cfg.conflict_mask = []
    cfg.phase_groups = []
    cfg.phase_mask = []
    cfg.n_phases = 0
    cfg.min_green = []
    cfg.max_green = []
    cfg.passage = []
    cfg.yellow = []
    cfg.all_red = []
    cfg.g_min_green = []
    cfg.g_yellow = []
    cfg.g_all_red = []
    cfg.det_phases = []
    cfg.n_detectors = 0
    cfg.startup_flash = 0
    cfg.startup_all_red = 0
    cfg.max_cycle = 0
    cfg.walk = []
    cfg.ped_clear = []
    cfg.ped_mask = 0
    cfg.recall = 0
    cfg.recall_max = 0
    cfg.recall_ped = 0
    cfg.ped_dets = 0
    cfg.pre_dets = 0
    cfg.fail_none = 0
    cfg.det_diag = None


def load(d):
    """Validate the compact config dict `d` and return a `Config`; raise `ConfigError` listing
    every problem found."""
    if type(d) is not dict:
        raise ConfigError([f"config: {d!r} is not a JSON object"])
    out = []
    cfg = Config()
    # The optional keys but plans are checked by config_options.py, loaded only for a config
    # with one of them, and first: its code then lies beside config.py's, before the Config's
    # lists break the free heap into pieces (heap).
    opt = None
    for key in _OPTIONAL[:-1]:
        if key in d:
            from . import config_options as opt

            break
    for key in _KEYS:
        if key not in d:
            out.append(f"{key}: missing")
    for key in d:
        if key not in _KEYS and key not in _OPTIONAL:
            out.append(f"{key}: unknown field (value {d[key]!r})")
    # A missing field is reported once above; the checks that need it are skipped.
    if "v" in d and (d["v"] != VERSION or not _is_int(d["v"])):
        out.append(f"v: {d['v']!r} is not the supported version {VERSION}")
    if "id" in d:
        if type(d["id"]) is not str or not d["id"]:
            out.append(f"id: {d['id']!r} is not a non-empty string")
        else:
            cfg.id = d["id"]
    groups_ok = "groups" in d and _groups(out, d, cfg)
    phases_ok = False
    timing_ok = False
    if groups_ok:
        if "ped" in d:
            _ped(out, d, cfg)
        if "conflicts" in d:
            _conflicts(out, d, cfg)
        if "phases" in d:
            phases_ok = _phases(out, d, cfg)
        if cfg.n_phases and "timing" in d:
            timing_ok = _timing(out, d, cfg)
    if "detectors" in d:
        _detectors(out, d, cfg)
    flash_ok = "startup_flash" in d and _ms(out, "startup_flash", d["startup_flash"], 0)
    all_red_ok = "startup_all_red" in d and _ms(out, "startup_all_red", d["startup_all_red"], 0)
    if flash_ok:
        cfg.startup_flash = d["startup_flash"]
    if opt:
        opt.detectors(out, d, cfg)
    if cfg.ped:
        for g in range(cfg.n_groups):
            cfg.ped_mask |= cfg.ped[g] << g
    if phases_ok and timing_ok:
        cfg.walk = [0] * cfg.n_phases
        cfg.ped_clear = cfg.walk  # one list of zeros until a walk is set (heap)
        if opt:
            opt.ped_timing(out, d, cfg)
        _group_bounds(cfg)
        if opt and "rings" in d:
            opt.rings(out, d, cfg)
        if "plans" in d:  # checked by plans.py, loaded only for a config with plans (heap)
            from .plans import check

            check(out, d["plans"], cfg)
        longest = max(cfg.all_red)
        if all_red_ok and d["startup_all_red"] < longest:
            v = d["startup_all_red"]
            out.append(f"startup_all_red: {v!r} is shorter than the longest all_red ({longest} ms)")
    if all_red_ok:
        cfg.startup_all_red = d["startup_all_red"]
    if out:
        raise ConfigError(out)
    return cfg
