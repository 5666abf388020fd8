"""What runs in the decode worker processes, and nothing else.

A worker unpickles its task by importing this module: kept apart from ``decoder.py`` (database,
audit, event loop), a worker starts with Pillow, the at-rest envelope and, at its first JPEG,
simplejpeg and numpy. Workers run at the lowest CPU priority, so the uploads a nurse waits for
come first and the decode catches up whenever the CPU is free.
"""
from __future__ import annotations

import os
import resource
from pathlib import Path

from ..storage.objects import ObjectStore
from .images import ImageDefect, decode_and_render


# What a worker holds before any photo (Python, Pillow, numpy, simplejpeg: ~175 MB of address space,
# ~45 MB resident); the rest of its limit is for pixels, a few buffers of them (decoded, converted, reduced).
WORKER_BASELINE_BYTES = 192 * 1024 * 1024
PIXEL_BUFFERS = 3


def pixel_budget(memory_limit: int) -> int:
    """Bytes of decoded pixels one decode may hold under a worker limit of ``memory_limit``."""
    return max(0, memory_limit - WORKER_BASELINE_BYTES) // PIXEL_BUFFERS


def init_worker(memory_limit: int | None = None) -> None:
    os.nice(19)
    # numpy (loaded with simplejpeg) only carries decoded pixels here: no BLAS thread pool
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if memory_limit:
        # a hard limit of address space: an allocation past it fails (MemoryError, the photo is
        # quarantined) instead of the machine swapping or the kernel killing the server
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


def decode_stored(root: str, key: str, keks: dict[str, bytes], max_pixels: int,
                  budget: int | None = None) -> tuple[str, object]:
    """Decode one stored original; ("ok", renditions) or ("defect", reason)."""
    # the worker reads and opens the stored object itself: no 4 MB copy through a pipe
    data = ObjectStore(Path(root)).get(key, keks)
    try:
        return "ok", decode_and_render(data, max_pixels, budget)
    except ImageDefect as exc:
        return "defect", str(exc)
