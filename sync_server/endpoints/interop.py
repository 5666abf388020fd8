"""FHIR read API and interop status (issue 6). Routes are listed in ``ROUTES``; app.py mounts them."""
from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
