"""In-process events between parts of the server (filing, decoding, commits → interop, audit).

A subscriber's failure is logged and never breaks the publisher: a photo is filed whether or
not, say, the PACS outbox managed to note it (the outbox recovers from the database at start).
"""
from __future__ import annotations

import collections
import logging
from typing import Any, Awaitable, Callable

log = logging.getLogger("clinphoto.events")

Handler = Callable[..., Awaitable[None]]

PHOTO_FILED = "photo.filed"        # photo_id
PHOTO_VERIFIED = "photo.verified"  # photo_id (decoded, renditions made)
BATCH_COMMITTED = "batch.committed"  # batch_id


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
