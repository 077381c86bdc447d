# Boilerplate only: emergency buffer, then the app; any crash leaves the heads flashing.
import micropython

_alloc = getattr(micropython, "alloc_emergency_exception_buf", None)  # not on the Unix port
if _alloc is not None:
    _alloc(200)

from firmware import app  # noqa: E402

app.run()
