"""FHIR push client: one transaction Bundle per request to the EMR's FHIR base."""
from __future__ import annotations

import json
from typing import Any

import httpx

from .stow import Delivery


async def post_transaction(client: httpx.AsyncClient, base_url: str, bundle: dict[str, Any],
                           token: str = "") -> Delivery:
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = await client.post(base_url.rstrip("/"), content=json.dumps(bundle).encode(), headers=headers)
    except httpx.HTTPError as exc:
        return Delivery(False, True, None, f"EMR unreachable ({type(exc).__name__})")
    if 200 <= response.status_code < 300:
        return Delivery(True, False, response.status_code, "stored")
    retry = response.status_code in (408, 425, 429) or response.status_code >= 500
    return Delivery(False, retry, response.status_code, f"EMR answered HTTP {response.status_code}")
