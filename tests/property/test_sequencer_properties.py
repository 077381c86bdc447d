"""Property tests (CPython only): random intersections, detector traces and hostile gateway
requests against the sequencer, checked by the firmware Monitor and by an independent oracle
written here; and mutated runs that the Monitor must catch."""

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware import config, ticks
from firmware import monitor as mon_mod
from firmware.monitor import Monitor
from firmware.sequencer import CLEAR, GREEN, HOLD, PREEMPT, SWITCH, Sequencer

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_GAP = 200  # ms between control ticks, at most


@st.composite
def compact_configs(draw):
    """A valid compact config: 2-6 groups, random conflicts, phases built greedily from
    non-conflicting groups (with random overlaps), random timings within bounds."""
    n = draw(st.integers(2, 6))
    clash = [[False] * n for _ in range(n)]
    conflicts = []
    for i in range(n):
        for j in range(i + 1, n):
            if draw(st.booleans()):
                clash[i][j] = clash[j][i] = True
                conflicts.append([i, j])
    phases = []
    for g in draw(st.permutations(range(n))):
        for ph in phases:
            if not any(clash[g][h] for h in ph) and draw(st.booleans()):
                ph.append(g)
                break
        else:
            phases.append([g])
    for ph in phases:  # overlaps: a group may also run in other phases it fits in
        for g in range(n):
            if g not in ph and not any(clash[g][h] for h in ph) and draw(st.booleans()):
                ph.append(g)
    timing = []
    for _ in phases:
        mn = draw(st.integers(1000, 4000))
        timing.append(
            [
                mn,
                draw(st.integers(mn, mn + 8000)),
                draw(st.integers(0, 3000)),
                draw(st.integers(3000, 4000)),
                draw(st.integers(0, 1500)),
            ]
        )
    longest_all_red = max(t[4] for t in timing)
    return {
        "v": 1,
        "id": "prop",
        "groups": ["g" + str(i) for i in range(n)],
        "ped": [draw(st.integers(0, 1)) for _ in range(n)],
        "conflicts": conflicts,
        "phases": [sorted(ph) for ph in phases],
        "timing": timing,
        "detectors": [[p] for p in range(len(phases))],
        "startup_flash": draw(st.integers(0, 3000)),
        "startup_all_red": draw(st.integers(longest_all_red, longest_all_red + 2000)),
    }


class Oracle:
    """The safety rules, written again from the compact dict alone."""

    def __init__(self, d, now, signals):
        n = len(d["groups"])
        self.n = n
        self.pairs = [tuple(p) for p in d["conflicts"]]
        self.conf = [[h for h in range(n) if (g, h) in self.pairs or (h, g) in self.pairs]
                     for g in range(n)]  # fmt: skip
        big = 10**9
        self.min_green = [big] * n
        self.yellow = [big] * n
        self.all_red = [big] * n
        for ph, (mn, _mx, _pa, ye, ar) in zip(d["phases"], d["timing"], strict=True):
            for g in ph:
                self.min_green[g] = min(self.min_green[g], mn)
                self.yellow[g] = min(self.yellow[g], ye)
                self.all_red[g] = min(self.all_red[g], ar)
        self.last = signals
        self.since = [now] * n
        self.red_at = [now] * n

    def see(self, now, s):
        """Raise AssertionError naming the broken rule."""
        for a, b in self.pairs:
            assert not (s[a] in "Ggy" and s[b] in "Ggy"), ("conflict", a, b, s)
        for g in range(self.n):
            old, new = self.last[g], s[g]
            if old == new:
                continue
            lasted = now - self.since[g]
            assert new in "Gyrf", ("sequencer showed", new)
            if old == "G":
                assert new == "y", ("green must end in yellow", g, s)
                assert lasted >= self.min_green[g], ("short green", g, lasted)
            if old == "y":
                assert new == "r", ("yellow must end in red", g, s)
                assert lasted >= max(3000, self.yellow[g]), ("short yellow", g, lasted)
            if new == "y":
                assert old == "G", ("yellow from", old, g)
            if new == "r":
                self.red_at[g] = now
            if new == "G":
                assert old == "r", ("green from", old, g)
                for h in self.conf[g]:
                    assert now - self.red_at[h] >= self.all_red[h], ("all-red", g, h)
            self.since[g] = now
        self.last = s


def bound_of(d):
    """Max cycle + the longest clearance, from the dict."""
    spans = [mx + ye + ar for _mn, mx, _pa, ye, ar in d["timing"]]
    return sum(spans) + max(ye + ar for _mn, _mx, _pa, ye, ar in d["timing"])


def random_plan(rnd, cfg):
    """Put a random timing plan in force as the controller's PLAN does: every max green
    anywhere between the phase's floor (firmware/plans.py's) and its base max green."""
    for p in range(cfg.n_phases):
        lo = cfg.walk[p] + cfg.ped_clear[p] if cfg.ped_clear[p] else cfg.min_green[p]
        hi = cfg.plans[p]  # the base
        cfg.max_green[p] = rnd.choice((lo, hi, rnd.randint(lo, hi)))


HOSTILE = ("none", "random", "hold_forever", "clear_spam", "switch_spam")


def hostile_request(rnd, mode, n_phases):
    if mode == "hold_forever":
        return HOLD, 0
    if mode == "clear_spam":
        return CLEAR, 0
    if mode == "switch_spam":
        return SWITCH, rnd.randrange(n_phases)
    code = rnd.choice((HOLD, SWITCH, SWITCH, SWITCH, CLEAR, 0, 4, 255))
    return code, rnd.choice((rnd.randrange(-1, n_phases + 2), "x", None))


@SETTINGS
@given(
    d=compact_configs(),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(HOSTILE),
    toggle=st.sampled_from((0.02, 0.1, 0.4)),
    req_rate=st.sampled_from((0.01, 0.1, 1.0)),
    before_wrap=st.integers(0, 10000),
    plan_rate=st.sampled_from((0.0, 0.0, 0.005, 0.05)),
)
def test_hostile_gateway_never_breaks_safety_or_starves_a_call(
    d, seed, mode, toggle, req_rate, before_wrap, plan_rate
):
    rnd = random.Random(seed)  # the per-tick randomness: thousands of draws, one seed
    cfg = config.load(d)
    n_ph = cfg.n_phases
    if plan_rate:
        cfg.plans = list(cfg.max_green)  # plan 0, the base, as config.load keeps it
    t0 = ticks.PERIOD - before_wrap
    seq = Sequencer(cfg, t0)
    mon = Monitor(cfg, t0, seq.signals)
    oracle = Oracle(d, 0, bytes(seq.signals).decode())
    hostile = mode != "none"
    bound = bound_of(d)
    assert seq.call_bound == bound
    slack = 3 * (n_ph + 2) * MAX_GAP  # each transition may happen up to one tick late
    end = d["startup_flash"] + d["startup_all_red"] + 3 * (bound + slack)
    calls = 0
    pending = {}  # phase -> time its call started waiting (not before the first green)
    first_green = None
    heads = oracle.last
    rel = 0
    while rel < end:
        rel += rnd.randint(1, MAX_GAP)
        now = ticks.add(t0, rel)
        if rnd.random() < toggle:
            calls ^= 1 << rnd.randrange(n_ph)
        if hostile and rnd.random() < req_rate:
            code, arg = hostile_request(rnd, mode, n_ph)
            result, reason = seq.request(code, arg, now)
            assert result in (0, 1, 2) and isinstance(reason, str)
            assert (result == 2) == (code not in range(HOLD, PREEMPT + 1))
            if code == PREEMPT:
                seq.request(PREEMPT, 255, now)  # preemption suspends the bound: tested below
        if plan_rate and rnd.random() < plan_rate:
            random_plan(rnd, cfg)  # as the controller's PLAN, at any moment of any state
        if seq.step(now, calls):
            heads = bytes(seq.signals).decode()
            assert heads != oracle.last
            oracle.see(rel, heads)
        else:
            assert bytes(seq.signals).decode() == heads
        assert mon.check(now, seq.signals) == 0, mon.fault_detail
        green = seq.phase if seq.state == GREEN else -1
        if green >= 0 and first_green is None:
            first_green = rel
        pending.pop(green, None)
        if calls:
            for p in range(n_ph):
                if calls >> p & 1 and p != green and p not in pending:
                    pending[p] = rel
        if first_green is not None:
            for p, since in pending.items():
                waited = rel - max(since, first_green)
                assert waited <= bound + slack, ("starved", p, waited, bound, mode)
    assert first_green is not None


def run_log(d, rnd, steps=600):
    """A legal run's change log [(rel ms, signals)] with random calls."""
    cfg = config.load(d)
    seq = Sequencer(cfg, 0)
    log = [(0, bytes(seq.signals).decode())]
    calls = 0
    rel = 0
    for _ in range(steps):
        rel += rnd.randint(1, MAX_GAP)
        if rnd.random() < 0.05:
            calls ^= 1 << rnd.randrange(cfg.n_phases)
        if seq.step(rel, calls):
            log.append((rel, bytes(seq.signals).decode()))
    return cfg, log


def monitor_code(cfg, log, t0):
    mon = Monitor(cfg, t0, log[0][1])
    for rel, s in log[1:]:
        code = mon.check(ticks.add(t0, rel), s)
        if code:
            return code
    return 0


def _events(log, old, new):
    """Indices i where some group goes old -> new from log[i-1] to log[i]: (i, group)."""
    out = []
    for i in range(1, len(log)):
        a, b = log[i - 1][1], log[i][1]
        for g in range(len(a)):
            if a[g] == old and b[g] == new:
                out.append((i, g))
    return out


def _green_since(log, i, g):
    j = i - 1
    while j > 0 and log[j - 1][1][g] == "G":
        j -= 1
    return log[j][0]


MUTATIONS = ("conflict", "no_yellow", "short_yellow", "short_green", "all_red", "dark", "r_to_y")


@settings(max_examples=150, deadline=None)
@given(
    d=compact_configs(),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(MUTATIONS),
    before_wrap=st.integers(0, 10000),
)
def test_monitor_catches_every_kind_of_mutated_run(d, seed, kind, before_wrap):
    rnd = random.Random(seed)
    cfg, log = run_log(d, rnd)
    t0 = ticks.PERIOD - before_wrap
    assert monitor_code(cfg, log, t0) == 0
    log = [list(e) for e in log]
    expect = None
    if kind == "conflict" and cfg.conflicts and len(log) > 3:
        i = rnd.randrange(3, len(log))
        a, b = rnd.choice(cfg.conflicts)
        s = list(log[i][1])
        s[a] = s[b] = "G"
        log[i][1] = "".join(s)
        expect = mon_mod.FAULT_CONFLICT
    elif kind == "no_yellow" and _events(log, "G", "y"):
        i, g = rnd.choice(_events(log, "G", "y"))
        s = log[i][1]
        log[i][1] = s.replace("y", "r")
        expect = mon_mod.FAULT_NO_YELLOW
    elif kind == "short_yellow" and _events(log, "y", "r"):
        i, g = rnd.choice(_events(log, "y", "r"))
        start = log[i - 1][0]
        log[i][0] = start + rnd.randrange(1, max(3000, cfg.g_yellow[g]))
        expect = mon_mod.FAULT_SHORT_YELLOW
    elif kind == "short_green":
        cands = [(i, g) for i, g in _events(log, "G", "y")]
        rnd.shuffle(cands)
        for i, g in cands:
            lo = max(log[i - 1][0], _green_since(log, i, g)) + 1
            hi = _green_since(log, i, g) + cfg.g_min_green[g] - 1
            if lo <= hi:
                log[i][0] = rnd.randint(lo, hi)
                expect = mon_mod.FAULT_SHORT_GREEN
                break
    elif kind == "all_red":
        cands = _events(log, "r", "G")
        rnd.shuffle(cands)
        for i, g in cands:
            # latest red onset among g's conflicting groups, before this event
            worst = None
            for h in range(cfg.n_groups):
                if (cfg.conflict_mask[g] >> h) & 1 and cfg.g_all_red[h] > 0:
                    j = i - 1
                    while j > 0 and not (log[j][1][h] == "r" and log[j - 1][1][h] != "r"):
                        j -= 1
                    if j > 0 and (worst is None or log[j][0] + cfg.g_all_red[h] > worst):
                        worst = log[j][0] + cfg.g_all_red[h]
            if worst is not None and worst - 1 > log[i - 1][0]:
                log[i][0] = rnd.randint(log[i - 1][0] + 1, worst - 1)
                expect = mon_mod.FAULT_ALL_RED
                break
    elif kind == "dark" and len(log) > 3:
        i = rnd.randrange(3, len(log))
        g = rnd.randrange(cfg.n_groups)
        s = list(log[i][1])
        s[g] = "o"
        log[i][1] = "".join(s)
        expect = mon_mod.FAULT_DARK
    elif kind == "r_to_y":
        cands = []
        for i in range(3, len(log)):
            a, b = log[i - 1][1], log[i][1]
            busy = 0
            for h in range(cfg.n_groups):
                if b[h] in "Gy":
                    busy |= 1 << h
            for g in range(cfg.n_groups):
                if a[g] == "r" and b[g] == "r" and not cfg.conflict_mask[g] & busy:
                    cands.append((i, g))
        if cands:
            i, g = rnd.choice(cands)
            s = list(log[i][1])
            s[g] = "y"
            log[i][1] = "".join(s)
            expect = mon_mod.FAULT_BAD_TRANSITION
    if expect is None:
        return  # this run has no place for that mutation
    assert monitor_code(cfg, log, t0) == expect, (kind, log)
