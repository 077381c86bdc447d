"""firmware.storage in a real directory (CPython, MicroPython) and on LittleFS with power cuts."""

import gc
import json
import os
import sys

from mpcompat import raises, read_bytes, rmtree, tmpdir, write_bytes

from firmware import storage

OLD = {"v": 1, "id": "old", "startup_flash": 5000}
NEW = {"v": 1, "id": "new", "startup_flash": 6000}
NEWER = {"v": 1, "id": "newer", "startup_flash": 7000}


def _file(body, version=1, length=None):
    """A config file as `save` would write it, with a header we can get wrong on purpose."""
    import hashlib
    from binascii import hexlify

    digest = hexlify(hashlib.sha256(body).digest())
    n = len(body) if length is None else length
    return b"GWCFG %d %d %s\n" % (version, n, digest) + body


def test_round_trip_and_last_good_kept():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        assert storage.load(d) == (OLD, "config.json")
        storage.save(d, NEW)
        assert storage.load(d) == (NEW, "config.json")
        assert sorted(os.listdir(d)) == ["config.json", "config.lkg"]
        assert read_bytes(d + "/config.json").startswith(b"GWCFG 1 ")
        os.remove(d + "/config.json")
        assert storage.load(d) == (OLD, "config.lkg")
    finally:
        rmtree(d)


def test_dirpath_with_trailing_slash():
    d = tmpdir("storage")
    try:
        storage.save(d + "/", OLD)
        assert storage.load(d + "/") == (OLD, "config.json")
        assert storage.load(d) == (OLD, "config.json")
    finally:
        rmtree(d)


def test_corrupted_byte_falls_back_to_last_good():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        storage.save(d, NEW)
        raw = bytearray(read_bytes(d + "/config.json"))
        i = raw.index(b"6000")
        raw[i] = ord("7")  # still valid JSON: only the checksum can catch it
        write_bytes(d + "/config.json", raw)
        assert storage.load(d) == (OLD, "config.lkg")
    finally:
        rmtree(d)


def test_corrupted_header_falls_back_to_last_good():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        storage.save(d, NEW)
        raw = bytearray(read_bytes(d + "/config.json"))
        raw[10] ^= 0x01  # inside the length or digest field
        write_bytes(d + "/config.json", raw)
        assert storage.load(d) == (OLD, "config.lkg")
    finally:
        rmtree(d)


def test_truncated_or_padded_current_refused():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        raw = read_bytes(d + "/config.json")
        for bad in (raw[:-3], raw + b" ", raw[:5], b""):
            write_bytes(d + "/config.json", bad)
            e = raises(storage.StorageError, storage.load, d)
            assert "config.json" in e.problems[0], e.problems
    finally:
        rmtree(d)


def test_truncated_tmp_left_behind_is_ignored():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        storage.save(d, NEW)
        whole = _file(json.dumps(NEWER).encode())
        write_bytes(d + "/config.tmp", whole[: len(whole) // 2])  # a save cut short
        assert storage.load(d) == (NEW, "config.json")
        storage.save(d, NEWER)  # the next save starts the tmp file afresh
        assert storage.load(d) == (NEWER, "config.json")
        assert "config.tmp" not in os.listdir(d)
    finally:
        rmtree(d)


def test_wrong_format_version_refused():
    d = tmpdir("storage")
    try:
        write_bytes(d + "/config.json", _file(json.dumps(NEW).encode(), version=2))
        e = raises(storage.StorageError, storage.load, d)
        assert "format version 2" in str(e), str(e)
        storage.save(d, OLD)  # an unreadable current file is dropped, not kept as lkg
        assert "config.lkg" not in os.listdir(d)
        assert storage.load(d) == (OLD, "config.json")
    finally:
        rmtree(d)


def test_valid_checksum_but_not_an_object_refused():
    d = tmpdir("storage")
    try:
        write_bytes(d + "/config.json", _file(b"[1, 2]"))
        write_bytes(d + "/config.lkg", _file(b"{nope"))
        e = raises(storage.StorageError, storage.load, d)
        assert "not a JSON object" in e.problems[0], e.problems
        assert "not JSON" in e.problems[1], e.problems
    finally:
        rmtree(d)


def test_neither_usable_is_a_clear_error():
    d = tmpdir("storage")
    try:
        e = raises(storage.StorageError, storage.load, d)
        assert e.problems == ["config.json: missing", "config.lkg: missing"], e.problems
        assert repr(d) in str(e), str(e)
        storage.save(d, OLD)
        storage.save(d, NEW)
        for name in ("config.json", "config.lkg"):
            raw = bytearray(read_bytes(d + "/" + name))
            raw[-2] ^= 0x20
            write_bytes(d + "/" + name, raw)
        e = raises(storage.StorageError, storage.load, d)
        assert e.problems == [
            "config.json: checksum mismatch",
            "config.lkg: checksum mismatch",
        ], e.problems
    finally:
        rmtree(d)


def test_save_over_broken_current_keeps_older_last_good():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        storage.save(d, NEW)
        write_bytes(d + "/config.json", b"GWCFG 1 9999 00\n{}")
        storage.save(d, NEWER)
        assert storage.load(d) == (NEWER, "config.json")
        os.remove(d + "/config.json")
        assert storage.load(d) == (OLD, "config.lkg")  # the broken file never became lkg
    finally:
        rmtree(d)


def test_save_refuses_bad_values_without_touching_files():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        before = read_bytes(d + "/config.json")
        raises(TypeError, storage.save, d, [1, 2])
        raises(TypeError, storage.save, d, {"x": object()})
        raises(storage.StorageError, storage.save, d, {"x": "a" * storage.MAX_BYTES})
        assert read_bytes(d + "/config.json") == before
        assert "config.lkg" not in os.listdir(d)
    finally:
        rmtree(d)


class _PowerCutBlocks:
    """RAM block device (MicroPython's extended interface) whose power fails after `budget` writes.

    Program and erase each count as one write; erase really wipes the block to 0xff, as flash
    does. The write the power fails in is torn (its first half lands) when `torn` is set. After
    that every write raises OSError, like a board with no power.
    """

    def __init__(self, n_blocks, block_size=512):
        self.block_size = block_size
        self.n_blocks = n_blocks
        self.data = bytearray(b"\xff" * (n_blocks * block_size))
        self.budget = None
        self.writes = 0
        self.torn = False

    def _power_on(self):
        return self.budget is None or self.writes < self.budget

    def readblocks(self, block, buf, offset=0):
        start = block * self.block_size + offset
        for i in range(len(buf)):  # no allocation: finalisers may read with the heap locked
            buf[i] = self.data[start + i]

    def writeblocks(self, block, buf, offset=None):
        start = block * self.block_size + (offset or 0)
        if not self._power_on():
            if self.torn and self.writes == self.budget:
                half = len(buf) // 2
                self.data[start : start + half] = buf[:half]
                self.writes += 1  # tear only the first write after the cut
            raise OSError(5)  # EIO: power is gone
        self.writes += 1
        self.data[start : start + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return self.n_blocks
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            if not self._power_on():
                raise OSError(5)
            self.writes += 1
            start = arg * self.block_size
            self.data[start : start + self.block_size] = b"\xff" * self.block_size
        return 0


def _mount(dev, where):
    os.mount(os.VfsLfs2(dev), where)


def _umount(where):
    try:
        os.umount(where)
    except OSError:  # the cut may leave the mount half-closed; the next mount starts clean
        pass


def _cut_every_write(torn):
    """Cut a save of BIG_NEWER over BIG_NEW at each write; return {(id, source): times seen}."""
    where = "/gw-power-cut"
    dev = _PowerCutBlocks(64)
    dev.torn = torn
    os.VfsLfs2.mkfs(dev)
    _mount(dev, where)
    storage.save(where, OLD)
    storage.save(where, BIG_NEW)
    _umount(where)
    before = bytes(dev.data)

    seen = {}
    for budget in range(400):
        dev.data[:] = before
        dev.writes = 0
        dev.budget = budget
        _mount(dev, where)
        completed = False
        try:
            storage.save(where, BIG_NEWER)
            completed = True
        except OSError:
            pass
        _umount(where)
        # files the cut left open are finalised now, while the power is still off, so their
        # stale writes cannot reach the remounted filesystem (their EIO tracebacks are expected)
        gc.collect()
        dev.budget = None
        _mount(dev, where)
        try:
            config, source = storage.load(where)
            what = "cut at write %d (torn=%r): %r from %s" % (budget, torn, config["id"], source)
            assert config in (BIG_NEW, BIG_NEWER), what
            assert config == BIG_NEWER or not completed, what
            key = (config["id"], source)
            seen[key] = seen.get(key, 0) + 1
            storage.save(where, OLD)  # the controller can always save again after a cut
            assert storage.load(where) == (OLD, "config.json")
        finally:
            _umount(where)
        if completed:
            return seen
    raise AssertionError("save never finished within 400 writes")


# big enough to need data blocks of their own, not just LittleFS's inline metadata
BIG_NEW = {"v": 1, "id": "new", "pad": "n" * 1500}
BIG_NEWER = {"v": 1, "id": "newer", "pad": "w" * 1500}


def test_power_cut_at_every_write_leaves_old_or_new():
    """MicroPython only: LittleFS on a RAM block device, power cut before each write of a save.

    CPython has no LittleFS (`os.VfsLfs2`), so there it is skipped with unittest.SkipTest.
    """
    if sys.implementation.name != "micropython":
        import unittest

        raise unittest.SkipTest("needs MicroPython's os.VfsLfs2; runs in test_on_micropython")
    for torn in (False, True):
        seen = _cut_every_write(torn)
        # every stage was cut: before the renames, between them (only the lkg is left), done
        assert seen.get(("new", "config.json")), seen
        assert seen.get(("new", "config.lkg")), seen
        assert seen.get(("newer", "config.json")) == 1, seen


KEYS = {"v": 1, "site": "demo", "operators": {"alice": "11" * 32}, "link": "22" * 32}


def test_keys_are_a_store_of_their_own_with_no_last_good_copy():
    d = tmpdir("storage")
    try:
        storage.save(d, OLD)
        storage.save(d, KEYS, "keys")
        assert storage.load(d, "keys") == (KEYS, "keys.json")
        assert storage.load(d) == (OLD, "config.json")  # the config is untouched
        newer = {"v": 1, "site": "demo", "operators": {}, "link": "33" * 32}
        storage.save(d, newer, "keys")  # alice's key withdrawn
        assert sorted(os.listdir(d)) == ["config.json", "keys.json"]
        body = read_bytes(d + "/keys.json")
        write_bytes(d + "/keys.json", body[:-3])  # damaged: no older keys come back
        e = raises(storage.StorageError, storage.load, d, "keys")
        assert len(e.problems) == 1 and e.problems[0].startswith("keys.json: length")
    finally:
        rmtree(d)


def test_boot_reads_the_keys_for_the_controller_or_says_why_not():
    from firmware import boot

    d = tmpdir("storage")
    try:
        assert boot.load_keys(d) == (None, None)  # no file: no keys, nothing to report
        storage.save(d, KEYS, "keys")
        keys, problem = boot.load_keys(d)
        assert problem is None
        assert keys == (b"demo", {b"alice": b"\x11" * 32}, b"\x22" * 32)
        storage.save(
            d, {"v": 1, "site": "demo", "operators": {"alice": "zz"}, "link": "22"}, "keys"
        )
        keys, problem = boot.load_keys(d)
        assert keys is None and problem.startswith("keys.json: ")
        write_bytes(d + "/keys.json", b"GWCFG 1 2 00\n{}")
        keys, problem = boot.load_keys(d)
        assert keys is None and "checksum" in problem
    finally:
        rmtree(d)
    assert 0 <= boot.boot_id() < 1 << 30
