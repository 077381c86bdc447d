# Runs on MicroPython (started by benchmarks/firmware_tick.py): the control tick's cost.
"""Time N control ticks of the compiled firmware on the interpreter: Controller.receive + step
with heartbeats from a gateway and detector calls moving round, as the app's tasks run them.
Prints one line: `tick_us mean <us> p50 <us> p99 <us> max <us> ticks <n> config <id>`."""

import gc
import sys
import time
from array import array

from configs import four  # on MICROPYPATH: tests/firmware (benchmarks/firmware_tick.py)

from firmware import config_data  # noqa: F401 (loaded before the validator, as at start-up)
from firmware.config import load

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
CFG = four()  # the firmware tests' four-phase config (tests/firmware/configs.py)


def main():
    from firmware import protocol as P
    from firmware import protocol_gateway as G
    from firmware.controller import Controller

    ctl = Controller(load(CFG), 0)
    hb = [G.encode(P.T_HEARTBEAT, k, P.pack_heartbeat(k * 1000)) for k in range(N // 100 + 2)]
    rx = bytearray(64)
    took = array("i", bytes(4 * N))
    gc.collect()
    for k in range(N):
        t = k * 10
        n = 0
        if t % 1000 == 500:
            f = hb[t // 1000]
            n = len(f)
            rx[0:n] = f
        levels = 1 << ((t // 2000) % 4)
        t0 = time.ticks_us()
        ctl.receive(t, rx, n)
        ctl.step(t, levels)
        ctl.out_n = 0
        took[k] = time.ticks_diff(time.ticks_us(), t0)
    took = sorted(took)
    mean = sum(took) / N
    print(
        "tick_us mean {:.1f} p50 {} p99 {} max {} ticks {} config {}".format(
            mean, took[N // 2], took[N * 99 // 100], took[-1], N, CFG["id"]
        )
    )


main()
