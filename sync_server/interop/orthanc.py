"""Orthanc REST client for the one thing DICOMweb cannot do: remove copies filed under a merged-away identity.

Orthanc files an instance under its Patient ID (its resource ids hash PatientID, Study, Series and
SOP Instance UIDs), so an instance sent again with the same UIDs but the surviving patient's ID is a
second copy, and the old one stays findable by the old ID. DICOMweb (PS3.18) has no delete, so
after the outbox has stored the survivor's copy it asks Orthanc's REST API (``/tools/find``,
``DELETE /instances/{id}``) for every instance with that SOP Instance UID filed under another
Patient ID, and deletes it. Idempotent: run again, it finds nothing left to delete.
"""
from __future__ import annotations

import httpx

from .stow import Delivery


async def withdraw_others(client: httpx.AsyncClient, base_url: str, sop_instance_uid: str, keep_patient_id: str,
                          token: str = "") -> Delivery:
    """Delete the copies of this instance filed under any Patient ID but ``keep_patient_id``."""
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def find(query: dict[str, str]) -> list[str]:
        response = await client.post(base + "/tools/find", json={"Level": "Instance", "Query": query},
                                     headers=headers)
        response.raise_for_status()
        return [str(i) for i in response.json()]

    try:
        every = await find({"SOPInstanceUID": sop_instance_uid})
        kept = set(await find({"SOPInstanceUID": sop_instance_uid, "PatientID": keep_patient_id}))
        if not kept:  # never delete the last copy: the survivor's must be there first
            return Delivery(False, True, None, "Orthanc does not hold the survivor's copy yet")
        for orthanc_id in every:
            if orthanc_id in kept:
                continue
            response = await client.delete(f"{base}/instances/{orthanc_id}", headers=headers)
            if response.status_code not in (200, 404):
                response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        retry = status in (408, 425, 429) or status >= 500
        return Delivery(False, retry, status, f"Orthanc answered HTTP {status} while removing the old copy")
    except (httpx.HTTPError, ValueError) as exc:
        return Delivery(False, True, None, f"Orthanc unreachable while removing the old copy ({type(exc).__name__})")
    return Delivery(True, False, 200, f"stored; copies under other Patient IDs removed: {len(every) - len(kept)}")


async def remove(client: httpx.AsyncClient, base_url: str, sop_instance_uid: str, token: str = "") -> Delivery:
    """Delete every copy of this instance, so that the same UIDs can be stored again with new demographics."""
    base = base_url.rstrip("/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = await client.post(base + "/tools/find", headers=headers,
                                     json={"Level": "Instance", "Query": {"SOPInstanceUID": sop_instance_uid}})
        response.raise_for_status()
        for orthanc_id in [str(i) for i in response.json()]:
            deleted = await client.delete(f"{base}/instances/{orthanc_id}", headers=headers)
            if deleted.status_code not in (200, 404):
                deleted.raise_for_status()
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        retry = status in (408, 425, 429) or status >= 500
        return Delivery(False, retry, status, f"Orthanc answered HTTP {status} while replacing the old copy")
    except (httpx.HTTPError, ValueError) as exc:
        return Delivery(False, True, None, f"Orthanc unreachable while replacing the old copy ({type(exc).__name__})")
    return Delivery(True, False, 200, "old copy removed")
