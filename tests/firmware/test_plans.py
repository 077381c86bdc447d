# Runs on CPython (pytest) and on MicroPython (mprun.py): plain functions and asserts only.
"""Timing plans: the config's `plans` checked against each phase's floor and base max green, and
the operator's signed PLAN putting one in force at once (a green past its new max green ends,
never before its min green), refused unsigned or unknown."""

from configs import four, two
from test_auth import BOOT, KEYS, T, acks, nonce, send, signed
from test_controller import Gateway

from firmware import config
from firmware import protocol as P
from firmware import protocol_gateway as G
from firmware.controller import Controller


def planned():
    """two() with plan 1 = max greens 10 s / 8 s and plan 2 = the floors (min greens)."""
    d = two()
    d["plans"] = [[10000, 8000], [5000, 4000]]
    return d


def problems(d):
    try:
        config.load(d)
    except config.ConfigError as e:
        return e.problems
    raise AssertionError("no ConfigError")


def test_plans_are_kept_flat_after_the_base_max_greens():
    cfg = config.load(planned())
    assert cfg.plans == [20000, 15000, 10000, 8000, 5000, 4000]  # plan 0 (the base) first
    assert cfg.max_green == [20000, 15000]  # the plan in force
    plain = config.load(two())
    assert plain.plans is None  # the class default: no attribute of its own (heap)


def test_every_plan_problem_is_reported_with_its_field_and_value():
    d = two()
    d["plans"] = [[4999, 15000], [20000, 15001], [10000], "x"]
    got = problems(d)
    assert got == [
        "plans[0][0] (max_green): 4999 is outside 5000..20000 ms (the phase's floor..its "
        "max_green)",
        "plans[1][1] (max_green): 15001 is outside 4000..15000 ms (the phase's floor..its "
        "max_green)",
        "plans[2]: [10000] is not a list of 2 max greens (one per phase)",
        "plans[3]: 'x' is not a list of 2 max greens (one per phase)",
    ], got
    d["plans"] = []
    assert problems(d) == ["plans: [] is not a list of 1..16 plans"]
    d["plans"] = [[10000, 8000]] * 17
    assert problems(d)[0].startswith("plans: [[10000, 8000], ")


def test_with_a_walk_the_floor_is_the_walk_shown_plus_the_ped_clearance():
    d = four()
    d["ped_timing"] = [[0, 0], [0, 0], [0, 0], [5000, 9000]]  # walk shown max(5000, 7000)
    d["plans"] = [[5000, 8000, 6000, 15999]]
    assert problems(d) == [
        "plans[0][3] (max_green): 15999 is outside 16000..25000 ms (the phase's floor..its "
        "max_green)"
    ]
    d["plans"] = [[5000, 8000, 6000, 16000]]
    assert config.load(d).plans[4:] == [5000, 8000, 6000, 16000]


def keyed(d):
    """A Gateway whose controller holds test_auth's keys, link up and remote at 4600 with
    both detectors on (phase 0 green from 3000, extended, phase 1 waiting)."""
    g = Gateway(d)
    g.ctl = Controller(config.load(d), g.t0, KEYS, BOOT)
    g.log = []
    g._ctl_seq = 0
    on = lambda rel: 3  # noqa: E731
    g.run(4000, on)
    g.alive = True
    g.run(4600, on)
    return g


def plan(g, k, i, seq, at=None):
    """Send a signed PLAN k (nonce i) at rel `at` (now); its ACKs."""
    rx = g.frame(P.T_SIGNED, signed("plan", P.CMD_PLAN, k, T + i, nonce(i)), seq)
    return acks(g.at(g.rel if at is None else at, rx))


def test_a_signed_plan_shortens_the_running_green_at_once():
    base = keyed(planned())
    base.run(30000, lambda rel: 3)
    assert "23000 yr" in base.heads()  # base max green 20 s from 3000
    g = keyed(planned())
    assert plan(g, 1, 1, 70) == [(P.ACK_OK, "")]
    assert list(g.ctl.cfg.max_green) == [10000, 8000]
    g.run(30000, lambda rel: 3)
    assert "13000 yr" in g.heads(), g.heads()  # the plan's 10 s, in the green already running
    # phase 1 (green from 17000) maxes out at its plan max 8 s too
    assert "25000 ry" in g.heads(), g.heads()


def test_a_plan_never_ends_a_green_before_its_min_green_and_applies_past_its_max_at_once():
    g = keyed(planned())
    assert plan(g, 2, 1, 70) == [(P.ACK_OK, "")]  # the floors: max green = min green
    g.run(12000, lambda rel: 3)
    assert g.heads().split(", ")[-3:-1] == ["3000 Gr", "8000 yr"]  # min green 5 s: not sooner
    g = keyed(planned())
    g.run(15000, lambda rel: 3)  # base: 12 s into a 20 s max green
    assert plan(g, 1, 1, 70) == [(P.ACK_OK, "")]  # the plan's 10 s are past: it ends now
    g.run(16000, lambda rel: 3)
    assert g.heads().endswith("15000 yr"), g.heads()


def test_plan_zero_restores_the_base_and_unknown_or_unsigned_plans_are_refused():
    g = keyed(planned())
    assert plan(g, 3, 1, 70) == [(P.ACK_REFUSED, "unknown plan")]
    assert plan(g, 1, 2, 71) == [(P.ACK_OK, "")]
    assert plan(g, 1, 2, 71) == [(P.ACK_OK, "")]  # a retry: the same answer
    assert plan(g, 0, 3, 72) == [(P.ACK_OK, "")]
    assert list(g.ctl.cfg.max_green) == [20000, 15000]
    assert g.ctl.cfg.plans[:2] == [20000, 15000]  # the base itself never changes
    tag = G.pack_command(P.CMD_PLAN, 1, KEYS[2], BOOT, 1)
    assert send(g, P.T_COMMAND, tag, 73) == [(P.ACK_REFUSED, "needs an operator signature")]
    refused = [e[3] for e in g.kinds("ev") if e[2] == P.EV_REFUSED]
    assert refused == ["unknown plan", "needs an operator signature"]
    # without plans, plan 0 is the base (a no-op) and any other is unknown
    g = keyed(two())
    assert plan(g, 0, 1, 80) == [(P.ACK_OK, "")]
    assert plan(g, 1, 2, 81) == [(P.ACK_REFUSED, "unknown plan")]
    assert g.ctl.cfg.max_green is g.ctl.cfg.max_green
    # like flash, in any state: a timing table is safe to change at any moment (start-up here)
    g = Gateway(planned())
    g.ctl = Controller(config.load(planned()), g.t0, KEYS, BOOT)
    g._ctl_seq = 0
    assert plan(g, 1, 1, 90, at=500) == [(P.ACK_OK, "")]
    assert list(g.ctl.cfg.max_green) == [10000, 8000]
