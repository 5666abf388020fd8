"""The power-cut filesystem itself: what is fsynced survives a cut, nothing else does."""
from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterator

import pytest

from sync_server.storage.files import fsync_dir, write_durably
from tests.powerloss.lazyfs import LazyFS


@pytest.fixture
def fs(tmp_path: Path) -> Iterator[LazyFS]:
    with LazyFS(tmp_path / "backing", tmp_path / "mnt") as lazy:
        yield lazy


def _write(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def test_a_write_never_fsynced_is_gone_after_a_cut(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "a", b"durable", sync=True)
    fsync_dir(root)
    with open(root / "a", "ab") as f:
        f.write(b" and more")
    assert (root / "a").read_bytes() == b"durable and more"  # the page cache has it...
    fs.cut()
    assert (root / "a").read_bytes() == b"durable"  # ...the disk did not


def test_an_fsynced_file_in_an_fsynced_directory_survives_a_cut(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "kept", b"x" * 100_000, sync=True)
    fsync_dir(root)
    fs.cut()
    assert (root / "kept").read_bytes() == b"x" * 100_000


def test_a_created_file_without_a_directory_fsync_is_gone_after_a_cut(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "orphan", b"data", sync=True)
    fs.cut()
    assert not (root / "orphan").exists()


def test_a_name_made_durable_without_its_data_comes_back_empty(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "named", b"data", sync=False)
    fsync_dir(root)
    fs.cut()
    assert (root / "named").read_bytes() == b""


def test_a_rename_without_a_directory_fsync_is_undone_by_a_cut(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "old", b"payload", sync=True)
    fsync_dir(root)
    os.rename(root / "old", root / "new")
    fs.cut()
    assert (root / "old").read_bytes() == b"payload"
    assert not (root / "new").exists()


def test_an_unlink_without_a_directory_fsync_is_undone_by_a_cut(fs: LazyFS):
    root = fs.mountpoint
    _write(root / "f", b"payload", sync=True)
    fsync_dir(root)
    (root / "f").unlink()
    fs.cut()
    assert (root / "f").read_bytes() == b"payload"


def test_write_durably_survives_a_cut_in_new_nested_directories(fs: LazyFS):
    target = fs.mountpoint / "objects" / "ab" / "cd" / "photo.original"
    write_durably(target, b"sealed bytes")
    fs.cut()
    assert target.read_bytes() == b"sealed bytes"
    assert [p.name for p in target.parent.iterdir()] == ["photo.original"]


def test_chosen_operations_fail_with_the_chosen_error_until_healed(fs: LazyFS):
    root = fs.mountpoint
    fs.fail("write", errno.ENOSPC, "objects")
    (root / "objects").mkdir()
    with pytest.raises(OSError) as full:
        _write(root / "objects" / "x", b"data", sync=False)
    assert full.value.errno == errno.ENOSPC
    _write(root / "elsewhere", b"data", sync=False)  # other paths still work
    fs.heal()
    fs.fail("fsync", errno.EIO)
    with pytest.raises(OSError) as failing:
        _write(root / "objects" / "y", b"data", sync=True)
    assert failing.value.errno == errno.EIO
    fs.heal()
    _write(root / "objects" / "z", b"data", sync=True)
