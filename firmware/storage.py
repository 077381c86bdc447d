"""Config on flash: one checked file, replaced atomically, with the last known good copy kept.

Files in the config directory (the filesystem is injected as a path, so tests can use any
directory or a RAM-backed LittleFS):

  config.json   current config
  config.lkg    the config before it (last known good)
  config.tmp    a save in progress; never read by `load`

Each file is a header line `GWCFG <format> <length> <sha256 hex>\\n` followed by `length` bytes of
JSON. `save` writes and reads back `config.tmp`, moves a good `config.json` to `config.lkg`, then
renames `config.tmp` over `config.json`. On LittleFS every rename is atomic, so a power cut at
any write leaves the old or the new config readable. `load` never returns a file whose header,
length or checksum is wrong. Renames rely on replacing the destination (LittleFS, POSIX); FAT
lacks both that and power-cut safety, so store config on LittleFS.

The controller's keys (operator keys, the link key, the site id) live in `keys.json` beside it,
written the same way (`name="keys"`) but with no last-known-good copy: a key withdrawn by a new
file must not come back because that file was damaged.
"""

import hashlib
import json

try:
    import os
except ImportError:  # older MicroPython ports
    import uos as os  # pyright: ignore[reportMissingImports]

from binascii import hexlify

try:
    from micropython import const
except ImportError:  # CPython

    def const(__x):  # positional-only, like MicroPython's
        return __x


FORMAT = const(1)  # storage format version in the header, not the config's own "v"
MAX_BYTES = const(16384)  # one config file, header included: bounded before it is read
CURRENT = "config.json"
LAST_GOOD = "config.lkg"
TEMP = "config.tmp"
_MAGIC = b"GWCFG"


class StorageError(Exception):
    """No usable config, or a save failed; `.problems` lists each file and what is wrong."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class _Unusable(Exception):
    """One file failed its checks; the message says why."""


def _path(dirpath, name):
    return dirpath.rstrip("/") + "/" + name


def _names(name):
    """(current, last good, temp) file names of the store `name` ("config" or "keys")."""
    if name == "config":
        return CURRENT, LAST_GOOD, TEMP
    return name + ".json", name + ".lkg", name + ".tmp"


def _exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _digest(body):
    return hexlify(hashlib.sha256(body).digest())


def _read(path):
    """The config dict stored at `path`; raises _Unusable when any check fails."""
    try:
        size = os.stat(path)[6]
    except OSError:
        raise _Unusable("missing") from None
    if size > MAX_BYTES:
        raise _Unusable(f"too large: {size!r} bytes, limit {MAX_BYTES!r}")
    try:
        with open(path, "rb") as f:
            header = f.readline()
            parts = header.rstrip(b"\n").split(b" ")
            if not header.endswith(b"\n") or len(parts) != 4 or parts[0] != _MAGIC:
                raise _Unusable(f"bad header {header[:80]!r}")
            try:
                version = int(parts[1])
                length = int(parts[2])
            except ValueError:
                raise _Unusable(f"bad header {header[:80]!r}") from None
            if version != FORMAT:
                raise _Unusable(f"format version {version!r}, expected {FORMAT!r}")
            if length < 0 or length > MAX_BYTES:
                raise _Unusable(f"bad length {length!r} in header")
            body = f.read(length + 1)  # one byte more shows trailing garbage
    except OSError as e:
        raise _Unusable(f"unreadable: {e!r}") from None
    if len(body) != length:
        raise _Unusable(f"length {len(body)!r}, header says {length!r}")
    if _digest(body) != parts[3]:
        raise _Unusable("checksum mismatch")
    try:
        config = json.loads(body)
    except ValueError:
        raise _Unusable("checksum good but not JSON") from None
    if not isinstance(config, dict):
        raise _Unusable(f"not a JSON object: {type(config).__name__!r}")
    return config


def load(dirpath, store="config"):
    """(config dict, file name it came from): `config.json` if it checks out, else `config.lkg`
    (for `store="keys"`: `keys.json` only).

    Raises StorageError naming both files and what is wrong with each when neither is usable,
    so the caller can stay in flash.
    """
    problems = []
    current, last_good, _ = _names(store)
    for name in (current, last_good) if store == "config" else (current,):
        try:
            return _read(_path(dirpath, name)), name
        except _Unusable as e:
            problems.append(f"{name}: {e}")
    raise StorageError(
        "no usable {} in {!r}: {}".format(store, dirpath, "; ".join(problems)), problems
    )


def save(dirpath, config, store="config"):
    """Store `config` (a dict) as the current config; the previous good one becomes `config.lkg`
    (for `store="keys"`: `keys.json`, replaced without keeping the old one).

    Raises TypeError for a non-dict or a value JSON cannot hold, StorageError when the file is too
    large or does not read back as written; the current config is untouched in those cases.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__!r}")
    try:
        body = json.dumps(config).encode()
        json.loads(body)  # MicroPython writes repr() for what JSON cannot hold; refuse it here
    except ValueError:
        raise TypeError("config holds a value JSON cannot store") from None
    if len(body) > MAX_BYTES - 100:  # room for the header line
        raise StorageError(f"config too large: {len(body)!r} bytes")
    header = b"%s %d %d %s\n" % (_MAGIC, FORMAT, len(body), _digest(body))
    current, last_good, temp = _names(store)
    tmp = _path(dirpath, temp)
    with open(tmp, "wb") as f:
        f.write(header)
        f.write(body)
        f.flush()
    # read back: a file that fails its check must never become the current config
    try:
        _read(tmp)
    except _Unusable as e:
        os.remove(tmp)
        raise StorageError(f"{temp} did not read back: {e}", [str(e)]) from None
    current = _path(dirpath, current)
    if _exists(current) and store == "config":
        try:
            _read(current)
        except _Unusable:
            os.remove(current)  # broken: keep the older last-known-good instead
        else:
            os.rename(current, _path(dirpath, last_good))
    os.rename(tmp, current)
