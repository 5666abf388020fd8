"""Today's patients for a phone (issue 11, point 5): the patients with a stay in the phone's department
today, as the hospital's ADT feed reports it (``patient_visit``): identifier, name, birth date, sex. The
phone keeps the list sealed under its unlock key and shows the name and birth date to confirm an
identifier, offline too; an identifier not in the list is marked unverified. A phone without a
department gets an empty list. Every answer is audited (``patient.today``) with the department and the
number of patients (the list itself is the index's, already audited as it changed)."""
from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..clock import utc_now
from ..interop import patients
from .common import audit_answer, device, json, services


async def device_today(request: Request) -> Response:
    """Today's patients of the calling phone's department (name, birth date, sex), never cached."""
    who = await device(request)
    s = services(request)
    department = await s.store.fetch_val("SELECT department FROM device WHERE id = :id", {"id": who.device_id})
    day = utc_now().date().isoformat()
    rows = await patients.today(s.store, department, day) if department else []
    await audit_answer(request, "patient.today", object=f"device:{who.device_id}",
                       detail={"department": department, "count": len(rows)})
    return json({"department": department, "date": day,
                 "patients": [{"id": r["id"], "family": r["family"], "given": r["given"],
                               "birth_date": r["birth_date"], "sex": r["sex"]} for r in rows]},
                headers={"Cache-Control": "no-store, private"})


ROUTES: list[BaseRoute] = [Route("/api/v1/devices/me/today", device_today, methods=["GET"])]
