"""Type aliases and small value types shared across the server."""
from __future__ import annotations

import dataclasses
import re
from typing import Any, Mapping

JSON = Mapping[str, Any]

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and UUID_RE.match(value) is not None


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling. Devices today; people with passkeys and roles slot in with kind="user"."""

    kind: str  # "device" | "user" | "cli" | "system"
    id: str
    device_id: str | None = None
    roles: frozenset[str] = frozenset()

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"
