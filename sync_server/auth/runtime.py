"""What people's sign-in needs while the server runs: the session signer (keys generated at first
start), the sign-in throttle, the allowed origins. Started with the server as the ``people``
extension (``extensions.py``); endpoints reach it through ``runtime(services)``."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .people import rp_id, web_origins
from .sessions import Sessions, load_keys
from .throttle import SigninThrottle

if TYPE_CHECKING:
    from ..services import Services


@dataclasses.dataclass
class PeopleRuntime:
    sessions: Sessions
    signin_throttle: SigninThrottle  # failed passkey ceremonies, per account and per client address
    origins: list[str]
    rp_id: str


def runtime(services: Services) -> PeopleRuntime:
    return services.handles["people"]


async def start(services: Services) -> PeopleRuntime:
    settings = services.settings
    return PeopleRuntime(sessions=Sessions(settings, load_keys(settings.resolved_keys_dir)),
                         signin_throttle=SigninThrottle(services.store, settings.signin_failures_per_account,
                                                        settings.signin_failures_per_address),
                         origins=web_origins(settings), rp_id=rp_id(settings))


async def stop(handle: PeopleRuntime) -> None:
    return None
