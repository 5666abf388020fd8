"""Middleware for people's sessions (issue 4); app.py installs ``MIDDLEWARE`` after the security headers."""
from __future__ import annotations

from starlette.middleware import Middleware

MIDDLEWARE: list[Middleware] = []
