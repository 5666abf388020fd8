from __future__ import annotations

import os

import logging

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent, record
from ..cluster import INSTANCE_ID
from .common import json, services

log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """Status of the database and of hospital storage (no authentication, no patient data)."""
    s = services(request)
    checks: dict[str, dict[str, object]] = {}
    try:
        await s.store.fetch_val("SELECT 1")
        checks["database"] = {"ok": True, "backend": "sqlite" if s.store.is_sqlite else "postgresql"}
    except Exception:
        checks["database"] = {"ok": False}
    objects = s.settings.objects_dir
    writable = objects.is_dir() and os.access(objects, os.W_OK)
    fault = s.sync.storage_fault  # the last photo write failed on the disk (full or failing)
    checks["storage"] = {"ok": writable and fault is None}
    if fault is not None:
        checks["storage"]["error"] = fault
    if writable:
        stat = os.statvfs(objects)
        free = stat.f_bavail * stat.f_frsize
        checks["storage"]["free_bytes"] = free
        if free < s.settings.storage_low_space_bytes:
            # still working, but not for long: the administrator frees space before uploads fail
            checks["storage"]["low_space"] = True
            log.warning("hospital storage is low: %d bytes free, below CLINPHOTO_STORAGE_LOW_SPACE_BYTES=%d",
                        free, s.settings.storage_low_space_bytes)
            if not s.sync.low_space_alerted:  # one audit entry per episode, for the security/admin review
                s.sync.low_space_alerted = True
                try:
                    await record(s.store, AuditEvent(action="storage.low_space", actor="server", detail={
                        "free_bytes": free, "threshold_bytes": s.settings.storage_low_space_bytes}))
                except Exception:
                    log.exception("could not audit the low-space warning")
        else:
            s.sync.low_space_alerted = False
    waiting, oldest = s.decoder.backlog()
    # photos filed (durable, receipted) and not yet fully decoded: informative, never a failure
    checks["decode"] = {"ok": True, "backlog": waiting, "oldest_seconds": round(oldest, 1)}
    # several server processes on one database (cluster.py): the one that does the once-only work
    checks["cluster"] = {"ok": True, "leader": s.leader.is_leader, "instance": INSTANCE_ID}
    ok = all(bool(c["ok"]) for c in checks.values())
    low = bool(checks["storage"].get("low_space"))  # degraded but serving: 200, so nothing fails over
    return json({"status": "ok" if ok and not low else "degraded", "checks": checks, "version": s.version},
                status_code=200 if ok else 503)
