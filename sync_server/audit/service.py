"""The audit trail's running part: a checkpoint at every batch commit and on a timer, and retention.

Registered in ``extensions.EXTENSIONS``; ``services.py`` starts and stops it with the server.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from ..events import BATCH_COMMITTED
from ..settings import Settings
from .log import ensure_tree
from .retention import prune
from .tree import issue_checkpoint

log = logging.getLogger("clinphoto.audit")

PRUNE_EVERY_SECONDS = 3600.0


def log_origin(settings: Settings) -> str:
    """The log's name in checkpoints: the setting, else ``<public host[:port]>/clinphoto-audit``."""
    return settings.audit_origin or urlsplit(settings.resolved_public_url).netloc + "/clinphoto-audit"


async def start(services: Any) -> asyncio.Task[None]:
    settings: Settings = services.settings
    origin = log_origin(settings)

    async def on_commit(batch_id: str) -> None:
        await issue_checkpoint(services.store, services.keys, origin, reason=f"batch {batch_id}")

    services.events.subscribe(BATCH_COMMITTED, on_commit)
    await ensure_tree(services.store)
    await issue_checkpoint(services.store, services.keys, origin, reason="start")

    async def loop() -> None:
        last_prune = 0.0
        while True:
            try:
                if time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
                    last_prune = time.monotonic()
                    await prune(services.store, services.keys, origin, settings.audit_retention_days)
                await issue_checkpoint(services.store, services.keys, origin, reason="interval")
            except Exception:
                log.exception("audit checkpoint or retention failed; retrying at the next interval")
            await asyncio.sleep(settings.audit_checkpoint_seconds)

    return asyncio.get_running_loop().create_task(loop())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
