from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response

from .common import json, services


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
    checks["storage"] = {"ok": writable}
    if writable:
        stat = os.statvfs(objects)
        checks["storage"]["free_bytes"] = stat.f_bavail * stat.f_frsize
    ok = all(bool(c["ok"]) for c in checks.values())
    return json({"status": "ok" if ok else "degraded", "checks": checks, "version": s.version},
                status_code=200 if ok else 503)
