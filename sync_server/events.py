"""In-process events between parts of the server (filing, decoding, commits → interop, audit).

A subscriber's failure is logged and never breaks the publisher: a photo is filed whether or
not, say, the PACS outbox managed to note it (the outbox recovers from the database at start).
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger("clinphoto.events")

Handler = Callable[..., Awaitable[None]]

PHOTO_FILED = "photo.filed"        # photo_id
PHOTO_VERIFIED = "photo.verified"  # photo_id (decoded, renditions made)
BATCH_COMMITTED = "batch.committed"  # batch_id
INGEST_UPLOADS = "ingest.uploads"  # count: uploads streaming now (the decoder waits for none)


class Events:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = collections.defaultdict(list)

    def subscribe(self, name: str, handler: Handler) -> None:
        self._handlers[name].append(handler)

    async def publish(self, name: str, **payload: Any) -> None:
        for handler in list(self._handlers[name]):
            try:
                await handler(**payload)
            except Exception:
                log.exception("a %s subscriber failed", name)


async def wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; True when it was set.

    Not ``asyncio.wait_for``: on Python 3.11 it wraps the wait in a second task, and a
    cancellation that lands as the wait ends can leave the caller waiting on that task forever
    (a background loop that never stops, a shutdown that hangs). ``asyncio.timeout`` cancels the
    caller's own await, with nothing in between.
    """
    try:
        async with asyncio.timeout(max(seconds, 0.0)):
            await event.wait()
        return True
    except TimeoutError:
        return False


async def stop_task(task: "asyncio.Task[Any] | None") -> None:
    """Cancel a background loop and wait until it has stopped (its cancellation is not an error)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
