"""The one way tests wait: poll a condition until a deadline, then fail saying what never happened."""
from __future__ import annotations

import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition", every: float = 0.05) -> Any:
    """The first truthy value of ``predicate()``; AssertionError naming ``what`` if none comes within ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def decoder_idle(call: Callable[..., Any], services: Any, timeout: float = 60.0) -> None:
    """Wait for the decode checker to finish its queue; fail (never hang) if it has not within ``timeout`` s."""
    import asyncio

    try:
        call(asyncio.wait_for, services.decoder.wait_idle(), timeout)
    except TimeoutError:
        raise AssertionError(f"the decode checker was still busy after {timeout:g} s") from None
