"""Today's patients for a phone (issue 11, point 5): the patients with a stay today in the department of
the person using the phone (else the phone's own department), as the hospital's ADT feed reports it (``patient_visit``): identifier, name, birth date, sex. The
phone keeps the list sealed under its unlock key and shows the name and birth date to confirm an
identifier, offline too; an identifier not in the list is marked unverified. A phone without a
department gets an empty list. Every answer is audited (``patient.today``) with the department and the
number of patients (the list itself is the index's, already audited as it changed)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..audit.log import AuditEvent
from ..clock import utc_now
from ..errors import ApiError
from ..interop import patients
from ..types import is_uuid
from .common import audit_answer, client_address, device, json, services


async def device_today(request: Request) -> Response:
    """Today's patients of the department of the person using the phone (``person_id``, one of the phone's
    people), else of the phone's own department: name, birth date, sex; never cached."""
    who = await device(request)
    s = services(request)
    person_id = request.query_params.get("person_id")
    department = None
    if person_id is not None:
        if not is_uuid(person_id):
            raise ApiError("invalid_id")
        row = await s.store.fetch_one(
            "SELECT p.department FROM device_person dp JOIN person p ON p.id = dp.person_id WHERE dp.device_id = :d "
            "AND dp.person_id = :p AND dp.removed_at IS NULL AND p.revoked_at IS NULL",
            {"d": who.device_id, "p": person_id})
        if row is None:
            raise ApiError("person_not_found").audited_as(AuditEvent(
                action="patient.today", actor=who.actor, device_id=who.device_id, object=f"person:{person_id}",
                address=client_address(request)))
        department = row["department"]
    if department is None:
        department = await s.store.fetch_val("SELECT department FROM device WHERE id = :id", {"id": who.device_id})
    day = utc_now().date().isoformat()
    rows = await patients.today(s.store, department, day) if department else []
    await audit_answer(request, "patient.today", object=f"device:{who.device_id}",
                       detail={"department": department, "count": len(rows),
                               **({"person": person_id} if person_id else {})})
    return json({"department": department, "date": day,
                 "patients": [{"id": r["id"], "family": r["family"], "given": r["given"],
                               "birth_date": r["birth_date"], "sex": r["sex"]} for r in rows]},
                headers={"Cache-Control": "no-store, private"})
