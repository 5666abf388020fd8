"""Durable files: write to a temp file, fsync, rename atomically, fsync the directory.

A file under ``objects/`` therefore exists whole or not at all, whatever the moment of a crash;
temp files (``*.tmp``) are never taken as stored and are swept at start.
"""
from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from ..cluster import temp_name, writer_of
from ..errors import ApiError

# what a full or failing disk answers; anything else is a bug, not the disk
_FULL = {errno.ENOSPC, errno.EDQUOT}
_FAILING = {errno.EIO, errno.EROFS}
STORAGE_ERRORS = ("storage_full", "storage_failing")


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a full disk (ENOSPC, EDQUOT) or a failing one (EIO, EROFS) into the client's error."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise ApiError("storage_full") from exc
        if exc.errno in _FAILING:
            raise ApiError("storage_failing") from exc
        raise


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def write_durably(path: Path, data: bytes) -> None:
    created = _make_dirs(path.parent)
    tmp = path.with_name(temp_name(path.name))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    _replace(tmp, path, created)


def rename_durably(tmp: Path, path: Path) -> None:
    """Move ``tmp`` (written and fsynced) to ``path`` atomically, and make the move durable."""
    _replace(tmp, path, _make_dirs(path.parent))


def _replace(tmp: Path, path: Path, created: list[Path]) -> None:
    # Directories created for the file are made durable in their parents too, after the file's own
    # directory: a filesystem with a journal has committed them by then, so those fsyncs are cheap.
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    for directory in created:
        fsync_dir(directory.parent)


def make_dir_durably(directory: Path, mode: int = 0o700) -> None:
    """Create ``directory`` (and missing parents) and make its name durable.

    A folder created at first start is only an entry in its parent until the parent is fsynced: a
    power cut before that takes the folder and everything filed in it. The parent is fsynced even
    when the folder existed (it may have been created by a run cut short), which costs one fsync.
    """
    created = _make_dirs(directory, mode)
    for made in created:
        fsync_dir(made.parent)
    if not created:
        fsync_dir(directory.parent)


def _make_dirs(directory: Path, mode: int = 0o700) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones created, innermost first."""
    if directory.is_dir():
        return []
    created = _make_dirs(directory.parent, mode)
    try:
        directory.mkdir(mode)
    except FileExistsError:
        return created
    return [directory, *created]


def sweep_temp_files(root: Path, live: set[str]) -> int:
    """Remove temp files left by a crash mid-write; they were never recorded as stored. Only those of
    processes that are gone: ``live`` names the server processes running on this volume (cluster.py)."""
    removed = 0
    if root.exists():
        for tmp in root.rglob(".*.tmp"):
            if writer_of(tmp) not in live:
                tmp.unlink(missing_ok=True)
                removed += 1
    return removed
