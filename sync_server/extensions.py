"""Long-running parts started with the server beside sync (interop outbox, audit checkpoints...).

Each entry is ``(name, start, stop)``: ``start(services)`` returns a handle (``services.handles[name]``)
passed to ``stop`` at shutdown. The list is written out here, in start order; importing a module
never adds to it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

if TYPE_CHECKING:
    from .services import Services

Start = Callable[["Services"], Awaitable[object]]  # the handle: each extension's own runtime
Stop = Callable[[Any], Awaitable[None]]  # given back that handle, whatever its type

from .audit import service as _audit  # noqa: E402
from .auth import runtime as _people  # noqa: E402
from .interop import service as _interop  # noqa: E402

EXTENSIONS: list[tuple[str, Start, Stop]] = [
    ("interop", _interop.start, _interop.stop),
    ("audit", _audit.start, _audit.stop),
    ("people", _people.start, _people.stop),
]
