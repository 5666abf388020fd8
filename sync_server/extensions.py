"""Long-running parts started with the server beside sync (interop outbox, audit checkpoints...).

Each entry is ``(start, stop)``: ``start(services)`` returns a handle passed to ``stop`` at
shutdown. Modules register here so that ``services.py`` never has to change for them.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable

Start = Callable[[Any], Awaitable[Any]]
Stop = Callable[[Any], Awaitable[None]]

from .interop import service as _interop  # noqa: E402

EXTENSIONS: list[tuple[str, Start, Stop]] = [
    ("interop", _interop.start, _interop.stop),
]


def _register_builtin() -> None:
    from .audit import service as audit_service

    EXTENSIONS.append(("audit", audit_service.start, audit_service.stop))


_register_builtin()
