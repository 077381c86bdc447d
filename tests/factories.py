"""Canonical intersections for unit tests, HIL tests and benchmarks.

The factories live in edge.factories, inside the package, because `greenwave config example`
prints them at run time; this module re-exports them for tests.
"""

from edge.factories import corridor, cross, nema8, tee

__all__ = ["corridor", "cross", "nema8", "tee"]
