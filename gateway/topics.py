"""MQTT topic names under greenwave/<site>/<intersection>/ (see docs/architecture.md)."""

from __future__ import annotations

_FORBIDDEN = set("+#/ ")


class Topics:
    def __init__(self, site: str, intersection: str):
        for field, value in (("site", site), ("intersection", intersection)):
            if not value or _FORBIDDEN & set(value):
                raise ValueError(f"{field} {value!r} cannot be an MQTT topic level")
        self.site = site
        self.intersection = intersection
        self.base = f"greenwave/{site}/{intersection}"

    def __getattr__(self, name: str) -> str:
        if name in (
            "availability",
            "state",
            "telemetry",
            "events",
            "decision",
            "plan",
            "health",
            "history",
            "outflow",
        ):
            return f"{self.base}/{name}"
        raise AttributeError(name)

    def cmd(self, name: str) -> str:
        return f"{self.base}/cmd/{name}"

    def reply(self, name: str) -> str:
        """Where answers to `cmd/<name>` go without an MQTT 5 response topic."""
        return f"{self.base}/reply/{name}"
