"""Starting SUMO: the binary from the `eclipse-sumo` package, libsumo in-process or TraCI.

libsumo runs SUMO inside this process (fast, one simulation at a time); TraCI talks to a `sumo`
child process over a socket and is the fallback when libsumo cannot be imported.
"""

from __future__ import annotations

import os
import shutil
import xml.etree.ElementTree as ET


class SumoError(RuntimeError):
    """SUMO could not be found, started, or it stopped with an error."""


def _homes() -> list[str]:
    # The eclipse-sumo package's first: importing libsumo points SUMO_HOME at its own data
    # folder, which has no binaries.
    homes = []
    try:
        import sumo  # the eclipse-sumo wheel
    except ImportError:
        pass
    else:
        if getattr(sumo, "SUMO_HOME", None):
            homes.append(sumo.SUMO_HOME)
    if os.environ.get("SUMO_HOME"):
        homes.append(os.environ["SUMO_HOME"])
    return homes


def sumo_home() -> str | None:
    """The SUMO installation with binaries and tools (eclipse-sumo's, else SUMO_HOME)."""
    for home in _homes():
        if os.path.isdir(os.path.join(home, "bin")):
            return home
    return None


def sumo_binary(name: str = "sumo") -> str:
    """Path of the `sumo` binary (or another SUMO tool such as `netgenerate`)."""
    for home in _homes():
        path = os.path.join(home, "bin", name)
        if os.path.isfile(path):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise SumoError(f"{name!r} not found: pip install eclipse-sumo (or set SUMO_HOME)")


def start(cmd: list[str], prefer: str = "libsumo"):
    """Start SUMO with `cmd` (binary first) and return the API module (libsumo or traci)."""
    home = sumo_home()
    if home:
        os.environ.setdefault("SUMO_HOME", home)
    api = None
    if prefer == "libsumo":
        try:
            import libsumo as api
        except ImportError:
            api = None
    if api is None:
        try:
            import traci as api
        except ImportError:
            raise SumoError("neither libsumo nor traci is installed: pip install libsumo") from None
    try:
        api.start(cmd)
    except Exception as e:  # libsumo raises its own error types; traci FatalTraCIError
        raise SumoError(f"SUMO did not start ({' '.join(cmd)}): {e}") from e
    return api


def teleports(statistic_output) -> int:
    """Teleports from a SUMO --statistic-output file."""
    root = ET.parse(statistic_output).getroot()
    node = root.find("teleports")
    return int(node.get("total", "0")) if node is not None else 0
