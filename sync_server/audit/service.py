"""The audit trail's running part: a checkpoint at every batch commit and on a timer, retention, alerts.

Registered in ``extensions.EXTENSIONS``; ``services.py`` starts and stops it with the server. Its
handle (``services.handles["audit"]``) gives endpoints the alert scanner, to wake it.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from crypto.keystore import write_private_file

from ..db import Db
from ..events import BATCH_COMMITTED
from ..settings import Settings
from .alerts import Rules
from .log import ensure_tree
from .repeats import RepeatTally
from .retention import prune
from .scanner import AlertScanner
from .tree import issue_checkpoint

if TYPE_CHECKING:
    from ..services import Services

log = logging.getLogger("clinphoto.audit")

PRUNE_EVERY_SECONDS = 3600.0
REPEAT_WINDOW_SECONDS = 60.0  # repeated tus HEADs of one upload: one entry with their count per minute


ORIGIN_FILE = "audit-origin"  # in the data folder: the log's name, fixed at the first start


def _default_origin(settings: Settings) -> str:
    return urlsplit(settings.resolved_public_url).netloc + "/clinphoto-audit"


def log_origin(settings: Settings) -> str:
    """The log's name in checkpoints: the setting, else the install's (``install_origin``)."""
    if settings.audit_origin:
        return settings.audit_origin
    try:
        return (settings.data_dir / ORIGIN_FILE).read_text("utf-8").strip() or _default_origin(settings)
    except FileNotFoundError:
        return _default_origin(settings)


async def install_origin(store: Db, settings: Settings) -> str:
    """The log's name, the same for the server and every command, whatever their port settings.

    The ``audit_origin`` setting if given; else the name kept in the data folder; else the name in the
    log's own checkpoints (an install from before the name was kept); else, on a first start,
    ``<public host[:port]>/clinphoto-audit``. Kept in the data folder, so that a command run without
    the server's port setting signs, exports and verifies under the log's real name.
    """
    path = settings.data_dir / ORIGIN_FILE
    origin = settings.audit_origin
    if not origin and path.exists():
        origin = path.read_text("utf-8").strip()
    if not origin:
        note = await store.fetch_val("SELECT note FROM audit_checkpoint ORDER BY id ASC LIMIT 1")
        origin = note.split("\n", 1)[0] if note else _default_origin(settings)
    if not path.exists() or path.read_text("utf-8").strip() != origin:
        write_private_file(path, origin.encode("utf-8") + b"\n")
    return origin


@dataclasses.dataclass
class AuditRuntime:
    alerts: AlertScanner
    tasks: list[asyncio.Task[None]]
    repeats: RepeatTally  # repeated tus HEADs: one entry with a count (audit/repeats.py)
    verifying: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)  # one full recomputation at a time


def runtime(services: Services) -> AuditRuntime:
    return services.handles["audit"]


async def start(services: Services) -> AuditRuntime:
    settings: Settings = services.settings
    origin = await install_origin(services.store, settings)

    async def on_commit(batch_id: str) -> None:
        await issue_checkpoint(services.store, services.keys, origin, reason=f"batch {batch_id}")

    services.events.subscribe(BATCH_COMMITTED, on_commit)
    await ensure_tree(services.store)
    leader = services.leader
    alerts = AlertScanner(services.store, Rules.from_settings(settings))

    async def elected() -> None:  # once per install, by the process that leads (cluster.py)
        await issue_checkpoint(services.store, services.keys, origin, reason="start")
        await alerts.scan_or_report()  # what was appended while no server scanned (the CLI writes too)

    leader.on_elected(elected)

    async def loop() -> None:
        last_prune = 0.0
        while True:
            try:
                if leader.is_leader:  # the leading process checkpoints and prunes
                    if time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
                        last_prune = time.monotonic()
                        await prune(services.store, services.keys, origin, settings.audit_retention_days)
                    await issue_checkpoint(services.store, services.keys, origin, reason="interval")
            except Exception:
                log.exception("audit checkpoint or retention failed; retrying at the next interval")
            await asyncio.sleep(settings.audit_checkpoint_seconds)

    repeats = RepeatTally(services.store, REPEAT_WINDOW_SECONDS)

    async def flush_repeats() -> None:
        while True:
            await asyncio.sleep(REPEAT_WINDOW_SECONDS / 12)
            try:
                await repeats.flush()
            except Exception:
                log.exception("writing repeated-request counts failed; retrying")

    run = asyncio.get_running_loop().create_task
    scan = alerts.run(settings.audit_alert_scan_seconds, lambda: leader.is_leader)
    return AuditRuntime(alerts, [run(loop()), run(scan), run(flush_repeats())],
                        repeats)


async def stop(handle: AuditRuntime) -> None:
    for task in handle.tasks:
        task.cancel()
    for task in handle.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await handle.repeats.flush(everything=True)  # the counts of the last window are not lost
