"""Heap report for the emulated HAL (GW_MEMREPORT=<s>): a debugging aid, loaded only when asked.

Every <s> seconds of controller time it prints `M <s> alloc <b> live <b> free <b> peak <b>`
(live = in use after a collection; peak = the highest live seen) and MicroPython's mem_info,
which adds the largest free block: fragmentation, not just totals; and qstr_info, the interned
names (every module ever loaded, start-up ones too, in pools the GC never frees).
"""

import gc


class MemReport:
    def __init__(self, every_ms):
        self.every_ms = every_ms
        self.next_ms = 0
        self.peak = 0

    def due(self, t_ms):
        """Report if the next report is due at t_ms (ms since start)."""
        if t_ms < self.next_ms:
            return
        self.next_ms = t_ms + self.every_ms
        alloc = gc.mem_alloc()
        gc.collect()
        live = gc.mem_alloc()
        if live > self.peak:
            self.peak = live
        print(
            "M %d alloc %d live %d free %d peak %d"
            % (t_ms // 1000, alloc, live, gc.mem_free(), self.peak)
        )
        import micropython

        micropython.mem_info()
        micropython.qstr_info()  # qstr pools are never freed: every name ever loaded
