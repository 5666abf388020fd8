"""Long-running parts started with the server beside sync (interop outbox, audit checkpoints...).

Each entry is ``(start, stop)``: ``start(services)`` returns a handle passed to ``stop`` at
shutdown. Modules register here so that ``services.py`` never has to change for them.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

Start = Callable[[Any], Awaitable[Any]]
Stop = Callable[[Any], Awaitable[None]]

EXTENSIONS: list[tuple[str, Start, Stop]] = []
