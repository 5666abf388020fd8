"""People, passkeys, sessions and administration (issue 4). ``ROUTES`` is mounted by app.py."""
from __future__ import annotations

from starlette.routing import Route

ROUTES: list[Route] = []
