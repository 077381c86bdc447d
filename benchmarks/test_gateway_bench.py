"""Serial-to-broker latency and sustained throughput of the gateway at 921,600 baud.

Real parts end to end: frames the firmware's own encoder made are written into a pipe, the rig's
`SerialWire` relays them to a pseudo-terminal no faster than the line rate (10 bits a byte), the
gateway reads the slave side with pyserial, puts each message into its on-disk outbox (SQLite,
WAL, synchronous=FULL) and publishes it at QoS 1 to the test broker (Mosquitto in CI), where a
subscriber receives it.

Run: .venv/bin/python -m pytest benchmarks/test_gateway_bench.py --benchmark-only
--benchmark-enable -s   (under the default --benchmark-skip only the correctness test runs).
Latency p50/p99 and throughput as a fraction of the line rate are printed and kept in
`extra_info` of pytest-benchmark's JSON.
"""

import json
import os
import queue
import statistics
import threading
import time
import uuid

import pytest

from edge.factories import cross
from firmware import protocol as P
from gateway.clock import ScaledClock
from gateway.mqtt import Mqtt
from gateway.outbox import Outbox
from gateway.service import Gateway
from hil_tests.rig.serialwire import SerialWire

BAUD = 921_600
LINE_BYTES_PER_S = BAUD / 10


class Bench:
    """A gateway behind a throttled pty, and a subscriber to everything it publishes."""

    def __init__(self, broker, tmp_path):
        self.ix = cross()
        site = f"bench-{uuid.uuid4().hex[:8]}"
        self.base = f"greenwave/{site}/{self.ix.id}"
        self._tx_r, self.tx = os.pipe()  # we write what "the firmware sends" into tx
        self._rx, self._rx_w = os.pipe()  # what the gateway sends the controller; unread
        self.wire = SerialWire(self._rx_w, self._tx_r, baud=BAUD, max_chunk=256).start()
        creds = {"username": "gateway", "password": broker.users["gateway"]} if broker.users else {}
        self.mqtt = Mqtt(broker.url, f"gw-{site}", self.base + "/availability", **creds).connect()
        self.got: queue.SimpleQueue = queue.SimpleQueue()
        self.sub = Mqtt(broker.url, f"sub-{site}", self.base + "/sub-availability", **creds)
        self.sub.subscribe(
            self.base + "/events", lambda t, p: self.got.put((time.perf_counter(), p))
        )
        self.sub.subscribe(
            self.base + "/telemetry", lambda t, p: self.got.put((time.perf_counter(), p))
        )
        self.sub.connect()
        self.gw = Gateway(
            self.ix,
            self.wire.port,
            self.mqtt,
            ScaledClock(time.time_ns(), 1.0),
            site=site,
            baud=BAUD,
            decision_period_s=1e9,
            outbox=Outbox(str(tmp_path / "outbox.db")),
        ).start()
        # steady state: the optimizer's kernels load in a thread at start (about a second with
        # a warm cache), and while they load the serial loop waits on the GIL (p99 15-18 ms)
        assert self.gw._optimizer_ready.wait(120), "the optimizer's kernels did not load"
        self.seq = 0

    def frame(self, mtype, payload):
        self.seq += 1
        return P.encode(mtype, self.seq, payload)

    def event(self, n):
        return self.frame(P.T_EVENT, P.pack_event(P.EV_MODE, n, f"bench {n}"))

    def detectors(self, n):
        rows = [(n % 7, 100, 1)] * len(self.gw.detector_names)
        return self.frame(P.T_DETECTORS, P.pack_detectors(n, rows))

    def send(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.tx, view) :]

    def receive(self, timeout=10.0):
        t, payload = self.got.get(timeout=timeout)
        return t, json.loads(payload)

    def close(self):
        self.gw.stop()
        for m in (self.mqtt, self.sub):
            m.close(offline=False)
        self.wire.close()  # closes the ends it was given (_tx_r, _rx_w)
        for fd in (self.tx, self._rx):
            os.close(fd)


@pytest.fixture
def bench(broker, tmp_path):
    b = Bench(broker, tmp_path)
    yield b
    b.close()


def one_trip(b, n):
    """Seconds from writing one event frame into the wire to its arrival at a subscriber."""
    t0 = time.perf_counter()
    b.send(b.event(n))
    while True:
        t, msg = b.receive()
        if "event" in msg and msg["t"] == n / 1000:
            return t - t0


def stream(b, n_frames):
    """Write n_frames telemetry frames as fast as the line takes them; return
    (seconds from first write to last arrival, bytes on the line, messages received in order)."""
    frames = [b.detectors(i) for i in range(n_frames)]
    data = b"".join(frames)
    writer = threading.Thread(target=b.send, args=(data,), daemon=True)
    t0 = time.perf_counter()
    writer.start()
    seen = []
    last = t0
    while len(seen) < n_frames:
        last, msg = b.receive(timeout=30)
        if "detectors" in msg:
            seen.append(round(msg["t"] * 1000))
    writer.join()
    return last - t0, len(data), seen


def test_every_streamed_frame_arrives_once_in_order(bench):
    elapsed, nbytes, seen = stream(bench, 300)
    assert seen == list(range(300))
    assert one_trip(bench, 10_000) > 0
    assert bench.gw.link.decoder.dropped == 0 and bench.wire.lost_up == 0


def test_bench_serial_to_broker_latency(benchmark, bench):
    one_trip(bench, 1)  # warm: outbox, paho, broker subscription
    samples = []
    counter = iter(range(2, 10**9))

    def trip():
        samples.append(one_trip(bench, next(counter)))

    benchmark.group = "gateway"
    benchmark.pedantic(trip, rounds=300, iterations=1)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[int(0.99 * (len(samples) - 1))]
    benchmark.extra_info.update(p50_ms=p50 * 1e3, p99_ms=p99 * 1e3, baud=BAUD)
    print(
        f"\nserial->broker latency at {BAUD} baud: p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms"
    )


def test_bench_sustained_throughput(benchmark, bench):
    n = 5000
    results = []

    def run():
        results.append(stream(bench, n))

    benchmark.group = "gateway"
    benchmark.pedantic(run, rounds=1, iterations=1)
    elapsed, nbytes, seen = results[0]
    assert sorted(seen) == seen and len(seen) == n
    rate = n / elapsed
    fraction = nbytes / elapsed / LINE_BYTES_PER_S
    benchmark.extra_info.update(
        messages_per_s=rate, bytes=nbytes, seconds=elapsed, fraction_of_line_rate=fraction
    )
    print(
        f"\nsustained at {BAUD} baud: {n} telemetry frames ({nbytes} B) in {elapsed:.2f} s = "
        f"{rate:.0f} messages/s, {fraction:.0%} of the line rate"
    )
