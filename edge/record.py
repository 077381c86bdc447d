"""The run record: JSON Lines, a header per intersection, then one row per change of its heads.

{"type": "header", "intersection": "cross", "groups": [...], "conflicts": [[0, 2], ...],
 "min_green": [...], "yellow": [...], "all_red": [...]}          (seconds)
{"t": 12.345, "intersection": "cross", "signals": "GrrGrrrr"}    (controller clock, seconds)
"""

from __future__ import annotations

import json
import os

SIGNAL_CHARS = frozenset("Ggyrfo")


class RecordError(ValueError):
    """A run record that cannot be read; the message names the file and line."""


class RecordWriter:
    """Writes a run record to a path (opened and closed here) or to an open text file.

    Each line is flushed at once so a crashed run still leaves a checkable record.
    """

    def __init__(self, path_or_file):
        if isinstance(path_or_file, (str, os.PathLike)):
            self._file = open(path_or_file, "w", encoding="utf-8")
            self._owned = True
        else:
            self._file = path_or_file
            self._owned = False
        self._groups: dict[str, int] = {}
        self._last: dict[str, str] = {}

    def header(self, ix) -> None:
        """Write the header of Intersection `ix` (must come before its changes)."""
        head = ix.record_header()
        self._groups[head["intersection"]] = len(head["groups"])
        self._last.pop(head["intersection"], None)
        self._write({**head, "type": "header"})

    def change(self, t_s: float, intersection_id: str, signals: str) -> bool:
        """Write `signals` of `intersection_id` at `t_s` s if they changed; True if written."""
        if intersection_id not in self._groups:
            raise ValueError(f"no header written for intersection {intersection_id!r}")
        n = self._groups[intersection_id]
        if not isinstance(signals, str) or len(signals) != n or not set(signals) <= SIGNAL_CHARS:
            raise ValueError(
                f"signals for {intersection_id!r} must be {n} of the characters G g y r f o, "
                f"got {signals!r}"
            )
        if self._last.get(intersection_id) == signals:
            return False
        self._last[intersection_id] = signals
        self._write({"t": round(t_s, 3), "intersection": intersection_id, "signals": signals})
        return True

    def _write(self, obj) -> None:
        self._file.write(json.dumps(obj) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file if this writer opened it."""
        if self._owned and not self._file.closed:
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_record(path) -> tuple[dict[str, dict], list[dict]]:
    """Read a run record: (headers by intersection id, change rows in file order).

    Raises RecordError naming the line for bad JSON, unknown line shapes, or a row whose
    intersection has no header above it.
    """
    headers: dict[str, dict] = {}
    rows: list[dict] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{where}: not valid JSON ({e.msg}): {line.strip()!r}") from None
            if not isinstance(obj, dict):
                raise RecordError(f"{where}: expected a JSON object, got {obj!r}")
            ident = obj.get("intersection")
            if not isinstance(ident, str):
                raise RecordError(f"{where}: 'intersection' must be a string, got {ident!r}")
            if obj.get("type") == "header":
                if ident in headers and headers[ident] != obj:
                    raise RecordError(f"{where}: a different second header for {ident!r}")
                headers[ident] = obj
                continue
            if "type" in obj:
                raise RecordError(f"{where}: unknown line type {obj['type']!r}")
            t, signals = obj.get("t"), obj.get("signals")
            if not isinstance(t, (int, float)) or isinstance(t, bool):
                raise RecordError(f"{where}: 't' must be a number of seconds, got {t!r}")
            if not isinstance(signals, str):
                raise RecordError(f"{where}: 'signals' must be a string, got {signals!r}")
            if ident not in headers:
                raise RecordError(f"{where}: intersection {ident!r} has no header above this line")
            rows.append(obj)
    return headers, rows
