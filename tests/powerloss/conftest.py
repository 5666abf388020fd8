import shutil
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The power-cut filesystem needs FUSE (Debian: fuse3); without it these tests cannot run at all.
    if Path("/dev/fuse").exists() and shutil.which("fusermount3"):
        return
    skip = pytest.mark.skip(reason="needs /dev/fuse and fusermount3 (Debian package fuse3)")
    for item in items:
        if "powerloss" in str(item.fspath):
            item.add_marker(skip)
