"""The gateway's on-disk outbox: telemetry, events and decisions wait here until the broker
acknowledges them.

One SQLite file in WAL mode. A row is written (and synced) before its message is published and is
deleted only when the broker's PUBACK for it arrives, so a broker outage, a `kill -9` or a power
cut loses nothing: the next run finds the unacknowledged rows and replays them in order.

`synchronous=FULL`: in WAL mode NORMAL survives a crash of the process but may lose the last
commits on a power cut, and a power cut in the cabinet is one of the things this file is for.
The cost is one fsync per commit; telemetry comes about once a second, events more rarely.

Every gateway start opens a new session (a counter kept in the same file, as Sparkplug's bdSeq);
each stream (one per topic: telemetry, events, decisions) numbers its messages 1, 2, 3... within
the session, so a consumer sees gaps.

The same file keeps a few small numbers across restarts beside the session counter (`note`,
`noted`): the timing plan the controller last accepted and the controller boot it belongs to
(gateway/plan_in_force.py), so a restarted gateway goes on saying the plan in force.

Bound: at most `max_rows` rows. When full, the oldest telemetry row is dropped to make room (for
new telemetry, a new event or a new decision) and counted in `thinned`. Events and decisions are
records (what the controller did, what was asked of it and its answer) and are never dropped:
with no telemetry left to thin, `put` of one raises `OutboxFull` and counts it in `refused`; the
caller raises the alarm. Decisions are their own stream (their own `seq`) but fall on the events'
side of this policy.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TELEMETRY = "telemetry"
EVENTS = "events"
DECISIONS = "decisions"
STREAMS = (TELEMETRY, EVENTS, DECISIONS)
_STREAMS = STREAMS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    ts REAL NOT NULL,
    session INTEGER NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_stream ON outbox (stream, id);
"""


class OutboxFull(RuntimeError):
    """The outbox holds only events and decisions and has no room for another: the caller raises
    the alarm."""


@dataclass(frozen=True)
class Row:
    """One queued message: `payload` already carries its `session` and `seq`."""

    id: int
    stream: str
    topic: str
    payload: dict
    ts: float  # wall-clock seconds (Unix time) when it was queued
    session: int
    seq: int


class Outbox:
    """A bounded, durable FIFO of messages waiting for the broker's acknowledgement."""

    def __init__(self, path: str | Path, *, max_rows: int = 100_000, clock=time.time):
        if not isinstance(max_rows, int) or max_rows < 1:
            raise ValueError(f"max_rows must be a positive whole number, not {max_rows!r}")
        self.path = str(path)
        self.max_rows = max_rows
        self._clock = clock
        self._lock = threading.Lock()  # paho's thread may ask for depth while the loop writes
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                row = self._db.execute("SELECT value FROM meta WHERE key='session'").fetchone()
                self.session = (row[0] if row else 0) + 1
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('session', ?)",
                    (self.session,),
                )
        except sqlite3.Error as e:
            raise OSError(f"cannot open the outbox {self.path!r}: {e}") from e
        self._seq = dict.fromkeys(_STREAMS, 0)
        self.thinned = 0
        self.refused = 0

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def note(self, **values: int | None) -> None:
        """Keep small integers across restarts, all at once (None forgets one)."""
        if "session" in values:
            raise ValueError("'session' is the outbox's own counter")
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for key, value in values.items():
                if value is None:
                    self._db.execute("DELETE FROM meta WHERE key = ?", (key,))
                else:
                    self._db.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, int(value))
                    )

    def noted(self, key: str) -> int | None:
        """What `note` kept under `key` (in this run or an earlier one), or None."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def put(self, stream: str, payload: dict, *, topic: str) -> int:
        """Queue `payload` (plus its session and seq) for `topic`; returns the row id.

        Raises OutboxFull when only events and decisions fill the outbox (none is dropped)."""
        if stream not in _STREAMS:
            raise ValueError(f"stream must be one of {_STREAMS}, not {stream!r}")
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if self._count() >= self.max_rows and not self._thin():
                self.refused += 1
                raise OutboxFull(
                    f"outbox {self.path!r} is full with {self.max_rows} unsent events and "
                    f"decisions; the {stream} message was not queued"
                )
            self._seq[stream] += 1
            seq = self._seq[stream]
            body = {**payload, "session": self.session, "seq": seq}
            cur = self._db.execute(
                "INSERT INTO outbox (stream, topic, payload, ts, session, seq) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (stream, topic, json.dumps(body, separators=(",", ":")), self._clock(),
                 self.session, seq),
            )  # fmt: skip
            return cur.lastrowid

    def _count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def _thin(self) -> bool:
        """Drop the oldest telemetry row; False when there is none."""
        cur = self._db.execute(
            "DELETE FROM outbox WHERE id = "
            "(SELECT id FROM outbox WHERE stream = ? ORDER BY id LIMIT 1)",
            (TELEMETRY,),
        )
        if cur.rowcount:
            self.thinned += 1
        return bool(cur.rowcount)

    def pending(self, limit: int = 100, after: int = 0) -> list[Row]:
        """Unacknowledged rows with id > `after`, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, stream, topic, payload, ts, session, seq FROM outbox "
                "WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [Row(i, s, t, json.loads(p), ts, se, sq) for i, s, t, p, ts, se, sq in rows]

    def ack(self, *row_ids: int) -> int:
        """The broker has these rows: delete them. Returns how many were still queued."""
        if not row_ids:
            return 0
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])
            return cur.rowcount

    def depth(self, stream: str | None = None) -> int:
        """How many rows wait (in one stream, or in all)."""
        with self._lock:
            if stream is None:
                return self._count()
            q = "SELECT COUNT(*) FROM outbox WHERE stream = ?"
            return self._db.execute(q, (stream,)).fetchone()[0]

    def oldest_age_s(self, now: float | None = None) -> float:
        """Seconds the oldest unsent row has waited (0.0 when none waits)."""
        with self._lock:
            oldest = self._db.execute("SELECT MIN(ts) FROM outbox").fetchone()[0]
        if oldest is None:
            return 0.0
        return max(0.0, (self._clock() if now is None else now) - oldest)
