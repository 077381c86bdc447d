"""Helpers shared by firmware tests on CPython and MicroPython (no pytest here)."""


def raises(exc_type, fn, *args, **kwargs):
    """Call fn and return the exception it raised; fail if it raised nothing or something else."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("expected %s from %r" % (exc_type.__name__, fn))


def tmpdir(tag):
    """A fresh empty directory under /tmp (MicroPython has no tempfile)."""
    import os
    import time

    stamp = time.time_ns()
    for i in range(100):
        path = "/tmp/gw-%s-%d-%d" % (tag, stamp, i)
        try:
            os.mkdir(path)
        except OSError:
            continue
        return path
    raise OSError("could not create a directory under /tmp")


def rmtree(path):
    """Remove a directory of plain files (what tmpdir() gave)."""
    import os

    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
