"""The validated controller config that the control loop reads: plain attributes, no checks.

`config.load` builds it. It lives apart from the validator so that the app can drop
`firmware.config` once start-up is done and the GC frees the validator's code: an object keeps
its class's module loaded, and the control loop only needs this small one.
"""


class Config:
    """A validated config. Build it with `config.load`, not directly.

    Per phase p: `phase_groups[p]` (group indices), `phase_mask[p]` (group bitmask),
    `min_green`, `max_green`, `passage`, `yellow`, `all_red` (ms). Per group g: `conflict_mask[g]`
    (bitmask of the groups it conflicts with), `g_min_green`, `g_yellow`, `g_all_red` (the
    minimum over the phases holding g). Per detector input i: `det_phases[i]` (phase bitmask).
    Pedestrian timing per phase: `walk[p]` (the walk as shown: max(walk, min green)),
    `ped_clear[p]` (0: none). Phase bitmasks `recall`
    (any recall), `recall_max`, `recall_ped`; group bitmask `ped_mask`; detector bitmasks
    `ped_dets` (push buttons), `pre_dets` (preempt inputs), `fail_none` (a failed detector
    places no call); `det_diag` None or, per detector i, [3i] no-activity ms, [3i+1] max-presence
    ms, [3i+2] erratic counts per minute (0: check off).
    Dual-ring: `rings` None (free phase order) or, per ring, per barrier group, its phases in
    service order (bytes).
    `max_cycle` is then the sum over barrier groups of the longest ring's phase spans there,
    plus the longest run of phases before another in one ring's barrier group.
    Timing plans: `plans` None or, flat, plan k's max green of phase p at [k * n_phases + p]
    (ms), plan 0 the config's own (base) max greens. `max_green` is then the plan in force (the
    controller's PLAN command writes it; the sequencer ends greens at it), and `plans[:n]` the
    base: the envelope the max cycle and the starvation guard (free.py) are built from, which
    every plan lies under.
    """

    rings = None  # a class default: a config without rings has no attribute of its own (heap)
    plans = None  # (and without plans)

    # What config.blank sets (`__init__` is there: the validator, start-up code that boot.py
    # unloads, as on MicroPython code is heap). Annotations only: MicroPython compiles nothing
    # for them. boot.py turns the numbers the control code reads into int arrays.
    id: str
    groups: "list[str]"
    n_groups: int
    ped: list
    conflicts: list
    conflict_mask: list
    phase_groups: list
    phase_mask: list
    n_phases: int
    min_green: list
    max_green: list
    passage: list
    yellow: list
    all_red: list
    g_min_green: list
    g_yellow: list
    g_all_red: list
    det_phases: list
    n_detectors: int
    startup_flash: int
    startup_all_red: int
    max_cycle: int
    walk: list
    ped_clear: list
    ped_mask: int
    recall: int
    recall_max: int
    recall_ped: int
    ped_dets: int
    pre_dets: int
    fail_none: int
    det_diag: "list | None"

    def __init__(self):
        from .config import blank

        blank(self)
