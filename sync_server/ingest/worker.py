"""What runs in the decode worker processes, and nothing else.

A worker unpickles its task by importing this module: kept apart from ``decoder.py`` (database,
audit, event loop), a worker starts with Pillow, the at-rest envelope and, at its first JPEG,
simplejpeg and numpy. Workers run at the lowest CPU priority, so the uploads a nurse waits for
come first and the decode catches up whenever the CPU is free.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..storage.objects import ObjectStore
from .images import ImageDefect, decode_and_render


def init_worker() -> None:
    os.nice(19)
    # numpy (loaded with simplejpeg) only carries decoded pixels here: no BLAS thread pool
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def decode_stored(root: str, key: str, keks: dict[str, bytes], max_pixels: int) -> tuple[str, object]:
    """Decode one stored original; ("ok", renditions) or ("defect", reason)."""
    # the worker reads and opens the stored object itself: no 4 MB copy through a pipe
    data = ObjectStore(Path(root)).get(key, keks)
    try:
        return "ok", decode_and_render(data, max_pixels)
    except ImageDefect as exc:
        return "defect", str(exc)
