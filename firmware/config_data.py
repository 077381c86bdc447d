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

    def __init__(self):
        self.id = ""
        self.groups = []
        self.n_groups = 0
        self.ped = []
        self.conflicts = []
        self.conflict_mask = []
        self.phase_groups = []
        self.phase_mask = []
        self.n_phases = 0
        self.min_green = []
        self.max_green = []
        self.passage = []
        self.yellow = []
        self.all_red = []
        self.g_min_green = []
        self.g_yellow = []
        self.g_all_red = []
        self.det_phases = []
        self.n_detectors = 0
        self.startup_flash = 0
        self.startup_all_red = 0
        self.max_cycle = 0
        self.walk = []
        self.ped_clear = []
        self.ped_mask = 0
        self.recall = 0
        self.recall_max = 0
        self.recall_ped = 0
        self.ped_dets = 0
        self.pre_dets = 0
        self.fail_none = 0
        self.det_diag = None

    def clearance(self, p):
        """Yellow plus all-red of phase p (ms)."""
        return self.yellow[p] + self.all_red[p]
