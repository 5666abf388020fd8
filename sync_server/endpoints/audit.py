"""Audit API for security officers (issue 5). Routes are listed in ``ROUTES``; app.py mounts them."""
from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
