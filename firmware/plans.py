"""Timing plans in the compact config, checked (config.py loads this only for a config with
`plans`, and boot unloads it with config.py).

`plans[k - 1][p]` is phase p's max green (ms) under plan k. Each lies between the phase's floor
(its min green; with a walk, the walk as shown plus the pedestrian clearance, which must fit in
the green) and its base max green, which stays the envelope the max cycle and the starvation
guard are built from. They are kept flat in `cfg.plans` with plan 0 (the base) first; the
controller's PLAN command copies one into `cfg.max_green` (config_data.Config).
"""

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


MAX_PLANS = const(16)  # timing plans besides plan 0 (the base timing)


def check(out, rows, cfg):
    """Check `rows` (d["plans"]) against the validated timing in `cfg`, append every problem to
    `out` (field and value), and set `cfg.plans`."""
    n = cfg.n_phases
    if type(rows) is not list or not 1 <= len(rows) <= MAX_PLANS:
        out.append(f"plans: {rows!r} is not a list of 1..{MAX_PLANS} plans")
        return
    flat = list(cfg.max_green)
    for k, row in enumerate(rows):
        if type(row) is not list or len(row) != n:
            out.append(f"plans[{k}]: {row!r} is not a list of {n} max greens (one per phase)")
            continue
        for p in range(n):
            v = row[p]
            lo = cfg.walk[p] + cfg.ped_clear[p] if cfg.ped_clear[p] else cfg.min_green[p]
            # bool is an int subclass on both interpreters; JSON true is not a number here
            if type(v) is not int or not lo <= v <= cfg.max_green[p]:
                out.append(
                    f"plans[{k}][{p}] (max_green): {v!r} is outside {lo}..{cfg.max_green[p]} ms "
                    "(the phase's floor..its max_green)"
                )
        flat += row
    cfg.plans = flat
