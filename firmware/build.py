"""Start-up only: the set-up of the controller and its parts, unloaded once they are built.

On MicroPython a function's code stays in the heap as long as its module does, and a class
keeps every method it was built with (deleting one frees nothing), so the bodies of the
constructors the controller runs once (Controller, Sequencer, Monitor, Detectors) live here and
their classes' `__init__` only call them. app.main loads this module after the control modules
but controller.py, builds the controller with `start`, then unloads it: the running
controller's heap does not carry its set-up (docs/architecture.md, "Memory").
"""

import gc
from array import array

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


_STARTUP_FLASH = const(0)  # sequencer's
_MODE_STARTUP = const(0)  # protocol's
_BUCKETS = const(10)  # detectors'
_EV_BOOT = const(1)  # protocol's EV_BOOT
_OUT_BYTES = const(384)  # controller.OUT_BYTES
_RX_FRAME = const(152)  # controller's
_TELEMETRY_EVERY_MS = const(1000)  # controller's
_MIN_YELLOW = const(3000)  # monitor's
_RING_W = const(9)  # rings._W: the fields of a ring
_F = const(102)  # ord("f")
_G = const(71)  # ord("G")
_g = const(103)  # ord("g")


def start(hal, cfg, boot_detail, keys, boot, floor):
    """app.main's set-up once it has loaded the control modules: build the controller and
    show its heads; return (controller, beats)."""
    # The parts first, and their start-up garbage collected, before controller.py (the largest
    # module) loads: the peak is then the larger of the two, not their sum.
    now = hal.now_ms()
    p = parts(cfg, now)
    gc.collect()
    __import__("firmware.controller")
    gc.collect()
    from .controller import Controller

    ctl = object.__new__(Controller)
    controller(ctl, cfg, now, None, boot, p)  # without auth.py, which app.main loads after
    p = None
    ctl.keys = keys
    ctl.floor = floor  # commands accepted before this boot are "replayed or stale"
    if boot_detail:
        ctl.event(now, _EV_BOOT, boot_detail)
    hal.write_heads(now, ctl.signals)
    beats = [now, now, now]  # per critical task (app.TASKS), the time of its last turn
    return ctl, beats


def parts(cfg, now_ms):
    """The controller's parts (sequencer, monitor, detectors, link state, command store, frame
    reader and encoder, output buffer), which `start` builds before controller.py loads."""
    from . import detectors, link, monitor, sequencer
    from . import protocol as P

    seq = sequencer.Sequencer(cfg, now_ms)
    enc = P.Encoder()
    enc.dropped = 0  # frames that found the controller's `out` full
    return (
        seq,
        monitor.Monitor(cfg, now_ms, seq.signals),
        detectors.Detectors(cfg.n_detectors, diag=cfg.det_diag, fail_none=cfg.fail_none),
        link.LinkState(now_ms),
        link.CommandDedup(8),  # retries come within 2 s
        P.Reader(_RX_FRAME),
        enc,
        bytearray(_OUT_BYTES),  # out[:out_n] is waiting to be sent
    )


def controller(c, cfg, now_ms, keys, boot, p=None):
    """Controller.__init__ (controller.py says what each attribute is), from the parts `p`
    (default: built now)."""
    from . import ticks

    if p is None:
        p = parts(cfg, now_ms)
    c.seq, c.mon, c.det, c.link, c.dedup, c.decoder, c._enc, c.out = p
    p = None
    c.signals = c.seq.signals
    c.cfg = cfg
    # signed commands (auth.py keeps them up to date): link counter, Unix time heard so far
    # (minus auth._EPOCH), replay floor and ring (made on the first operator command)
    c.keys = keys
    c.boot = boot & 0x3FFFFFFF
    c.link_ctr = 0
    c.unix = 0
    c.floor = 0
    c.ring = None
    c.ring_next = 0
    c.cleared = 0  # 1: an operator's clear-flash was accepted (app.py resets)
    c._auth = None  # auth.py, resident with keys (app.main loaded it)
    if keys is not None:
        from . import auth

        c._auth = auth
    c.out_n = 0
    c.mode = _MODE_STARTUP
    c.changed = True
    c._next = array("i", (now_ms, ticks.add(now_ms, _TELEMETRY_EVERY_MS)))  # state, telemetry
    c.event(now_ms, _EV_BOOT, "boot " + cfg.id)


def sequencer(s, cfg, now_ms):
    """Sequencer.__init__ (sequencer.py says what each attribute is)."""
    s.cfg = cfg
    n = cfg.n_phases
    s._n = n
    s._all = (1 << n) - 1
    clear = 0
    for p in range(n):
        clear = max(clear, cfg.yellow[p] + cfg.all_red[p])
    s.call_bound = cfg.max_cycle + clear
    s.signals = bytearray(cfg.n_groups)
    s.state = _STARTUP_FLASH
    s.phase = -1
    s.next_phase = -1
    s.phase_start = now_ms
    s.state_start = now_ms
    s.latched = 0  # phase bitmask of calls waiting for service
    s.ped_latched = 0  # phase bitmask of pedestrian calls waiting for a walk
    s._latch_t = [now_ms] * n
    s._last_call = now_ms  # last call on the green phase (passage timer)
    s._ped = 0  # ped groups of the green phase: 0 done or none, 1 walk, 2 clearance
    s._walk_t = now_ms  # when the walk (or the ped clearance) began
    s.hold = False
    s.switch_to = -1
    s.omit = 0  # phases the gateway asked to skip
    s.pre_cmd = 0  # phases preempted by command
    s.pre = 0  # phases preempted now (inputs and commands)
    s.term = 0  # why the last green ended (GAP_OUT ...)
    s.fault_reason = None
    s._enter(now_ms)


def rings(s, cfg, now_ms):
    """RingSequencer.__init__ (rings.py says what each attribute is)."""
    rings = cfg.rings
    s.ring = [0] * (_RING_W * len(rings))
    n = cfg.n_phases
    at = bytearray(2 * n)  # phase p's ring at [p], its barrier group (side) at [n + p]
    for r in range(len(rings)):
        for g in range(len(rings[r])):
            for p in rings[r][g]:
                at[p] = r
                at[n + p] = g
    s._at = at
    s.side = 0
    s._cross = False  # a barrier crossing is under way
    sequencer(s, cfg, now_ms)


def monitor(m, cfg, now_ms, signals):
    """Monitor.__init__ (monitor.py says what each attribute is)."""
    m.cfg = cfg
    n = cfg.n_groups
    m._n = n
    if isinstance(signals, str):
        signals = signals.encode()
    # the heads as they are now: unknown history, so each colour (red too) only just began
    m._last = bytearray(n)
    for i in range(n):
        m._last[i] = signals[i] if i < len(signals) else _F
    m._since = [now_ms] * n  # when the group's current colour began (G and g count as one)
    m._red_at = [now_ms] * n  # red onset: y -> r, f -> r, o -> r
    y = [0] * n
    for g in range(n):
        y[g] = max(_MIN_YELLOW, cfg.g_yellow[g])
    m._min_yellow = y
    m.fault_code = 0
    m.fault_detail = ""
    # quiet = start-up or flash: until the first green, dark heads are allowed
    m._quiet = True
    for c in m._last:
        if c == _G or c == _g:
            m._quiet = False


def detectors(d, n, debounce_ms, window_ms, diag, fail_none):
    """Detectors.__init__ (detectors.py says what each attribute is)."""
    if type(n) is not int or not 0 <= n <= 30:
        raise ValueError(f"n must be 0..30 detectors: {n!r}")
    if type(debounce_ms) is not int or not 0 <= debounce_ms <= 60000:
        raise ValueError(f"debounce_ms must be 0..60000: {debounce_ms!r}")
    # <= 600 s keeps occupied_ms * 1000 a small int on 32-bit boards.
    if type(window_ms) is not int or not _BUCKETS <= window_ms <= 600000:
        raise ValueError(f"window_ms must be {_BUCKETS}..600000: {window_ms!r}")
    d.n = n
    d.debounce_ms = debounce_ms
    d.window_ms = window_ms
    d._mask = (1 << n) - 1
    d.presence = 0  # debounced
    d._cand = 0  # raw level seen last, waiting to be stable
    # Per-detector numbers live in arrays, not lists: no boxed ints, and half the bytes or
    # less on a 64-bit build. Ticks are < 2^30, counts wrap at 2^16.
    d._cand_t = array("i", bytes(4 * n))  # when each detector's raw level last changed
    d.counts = array("H", bytes(2 * n))
    d._bucket_ms = window_ms // _BUCKETS
    # Occupied ms per full bucket, per detector: at most one bucket (<= 60000 ms), so 16 bits.
    # It is the biggest per-detector allocation; a list would take 4-8 bytes an item.
    d._ring = array("H", bytes(2 * n * (_BUCKETS - 1)))
    d._ring_sum = array("i", bytes(4 * n))  # at most 9 full buckets of 60000 ms
    d._cur = array("i", bytes(4 * n))  # occupied ms in the current bucket
    d._cur_ms = 0  # ms elapsed in the current bucket
    d._full = 0  # full buckets in the ring (grows to _BUCKETS - 1 after start)
    d._slot = 0  # ring slot the next full bucket goes into
    d._t = None  # time of the last sample
    d.failed = 0
    d.reported = 0  # the failures the controller has reported (controller.step)
    d.fail_none = fail_none
    d.diag = None
    d.why = bytearray(0)  # per detector: why it fails (diagnostics.NAMES), with diag
    if diag:
        from .diagnostics import Diagnostics

        d.diag = Diagnostics(n, diag)
        d.why = d.diag.why
