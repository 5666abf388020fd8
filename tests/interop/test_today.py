"""Today's patients for a phone (issue 11, point 5): the stay the ADT feed reports (PV1) puts a patient in a
department; a phone serving that department gets the day's list (name, birth date, sex) to confirm who
is photographed. Transfers move the patient, discharges and cancelled admissions end the stay."""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Callable

import pytest

from sync_server.auth import devices
from sync_server.clock import utc_now
from sync_server.interop.hl7v2 import Hl7Error, parse_adt
from tests.conftest import both_backends
from tests.support.patients import patient_row
from tests.interop.conftest import ack_codes, adt, send_mllp
from tests.people.conftest import audit  # noqa: F401  (fixture)
from tests.support.server import free_port

MLLP_PORT = free_port()
URL = "/api/v1/devices/me/today"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    return both_backends(request)


@pytest.fixture
def interop_settings() -> dict[str, Any]:
    return {"hl7_mllp_port": MLLP_PORT, "interop_admin_token": "admin-token"}


def stay(trigger: str, pid3: str, name: str, birth: str, pv1: str | None, control: str) -> str:
    message = adt(trigger, f"{pid3}^^^HOSP^PI", name=name, birth=birth, control=control)
    return message + (f"\rPV1|1|I|{pv1}" if pv1 is not None else "")


def pv1(point_of_care: str = "", service: str = "", admitted: str = "") -> str:
    """PV1-3 onwards: point of care (PV1-3), ..., hospital service (PV1-10), ..., admit date/time (PV1-44)."""
    fields = [""] * 42  # PV1-3 .. PV1-44
    fields[0], fields[7], fields[41] = point_of_care, service, admitted
    return "|".join(fields)


def _today(device: Any) -> dict[str, Any]:
    response = device.http.get(URL, headers=device.auth)
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    return response.json()


def test_the_stay_in_pv1_is_parsed_and_a_transfer_without_department_is_an_error():
    event = parse_adt(stay("A01", "IPP-1", "Dupont^Zoé", "19800102", pv1("CHIR2^12^1", "PLAST", "202612030815"), "C1"))
    assert (event.visit.department, event.visit.admitted_on, event.visit.ended) == ("PLAST", "2026-12-03", False)
    by_point = parse_adt(stay("A04", "IPP-1", "Dupont^Zoé", "19800102", pv1("CHIR2^12^1"), "C2"))
    assert by_point.visit.department == "CHIR2"  # no hospital service: the point of care
    assert parse_adt(stay("A03", "IPP-1", "Dupont^Zoé", "19800102", pv1(), "C3")).visit.ended is True
    assert parse_adt(stay("A08", "IPP-1", "Dupont^Zoé", "19800102", None, "C4")).visit is None
    with pytest.raises(Hl7Error) as nowhere:
        parse_adt(stay("A02", "IPP-1", "Dupont^Zoé", "19800102", pv1(), "C5"))
    assert (nowhere.value.ack_code, nowhere.value.error_code) == ("AE", 101)
    with pytest.raises(Hl7Error) as bad:
        parse_adt(stay("A01", "IPP-1", "Dupont^Zoé", "19800102", pv1(service="PLAST\x07"), "C6"))
    assert (bad.value.ack_code, bad.value.error_code) == ("AE", 102)


def test_a_phone_gets_the_patients_of_its_department_today(device, services, call: Callable[..., Any], audit):
    acks = send_mllp(MLLP_PORT,
                     stay("A01", "IPP-7001", "Martin^Léa", "19710304", pv1("CHIR2", "PLAST", "20261130"), "M1"),
                     stay("A01", "IPP-7002", "Durand^Paul", "19650708", pv1("CHIR2", "PLAST"), "M2"),
                     stay("A01", "IPP-7003", "Petit^Anne", "19900101", pv1("ORTHO1", "ORTHO"), "M3"),
                     stay("A05", "IPP-7004", "Roux^Marc", "19880202", pv1("", "PLAST", "20991231"), "M4"))
    assert ack_codes(acks) == ["AA"] * 4
    # no department yet: an empty list, said so
    assert _today(device) == {"department": None, "date": utc_now().date().isoformat(), "patients": []}
    assert call(devices.set_department, services.store, "device", device.device_id, "PLAST")
    listed = _today(device)
    assert listed["department"] == "PLAST"
    assert listed["patients"] == [  # name order; the pre-admission of 2099 is not today's
        {"id": "IPP-7002", "family": "Durand", "given": "Paul", "birth_date": "1965-07-08", "sex": "F"},
        {"id": "IPP-7001", "family": "Martin", "given": "Léa", "birth_date": "1971-03-04", "sex": "F"},
    ]
    entry = audit("patient.today")[-1]
    assert entry["device_id"] == device.device_id and entry["detail"] == {"department": "PLAST", "count": 2}
    assert audit("device.department")[-1]["detail"] == {"department": "PLAST"}

    # a transfer moves a patient to the phone's department; a discharge keeps them listed that day only
    assert ack_codes(send_mllp(MLLP_PORT,
                               stay("A02", "IPP-7003", "Petit^Anne", "19900101", pv1("CHIR2", "PLAST"), "M5"),
                               stay("A03", "IPP-7001", "Martin^Léa", "19710304", pv1(), "M6"),
                               stay("A11", "IPP-7002", "Durand^Paul", "19650708", pv1(), "M7"))) == ["AA"] * 3
    assert [p["id"] for p in _today(device)["patients"]] == ["IPP-7002", "IPP-7001", "IPP-7003"]
    yesterday = (utc_now() - timedelta(days=1)).isoformat()
    call(services.store.execute, "UPDATE patient_visit SET ended_at = :t WHERE ended_at IS NOT NULL", {"t": yesterday})
    assert [p["id"] for p in _today(device)["patients"]] == ["IPP-7003"]
    assert audit("patient.visit")[-1]["detail"] == {"trigger": "A11", "department": None, "ended": True}
    # a transfer changes the stay, never the identity the index holds
    names = patient_row(call, services, "IPP-7003")
    assert names is not None and (names["family"], names["given"]) == ("Petit", "Anne")


def test_a_revoked_or_unknown_phone_gets_nothing(device, http, services, call: Callable[..., Any]):
    assert http.get(URL).status_code == 401
    assert call(devices.set_department, services.store, "device", "no-such-device", "PLAST") is False
    call(devices.revoke, services.store, device.device_id)
    assert device.http.get(URL, headers=device.auth).status_code == 401


def test_the_list_follows_the_department_of_the_person_using_the_phone(device, services, call: Callable[..., Any],
                                                                       audit):
    assert ack_codes(send_mllp(MLLP_PORT,
                               stay("A01", "IPP-7101", "Blanc^Eve", "19700101", pv1("", "PLAST"), "P1"),
                               stay("A01", "IPP-7102", "Noir^Leo", "19600101", pv1("", "ORTHO"), "P2"))) == ["AA", "AA"]
    surgeon, stranger = str(uuid.uuid4()), str(uuid.uuid4())
    for person in (surgeon, stranger):
        call(services.store.execute,
             "INSERT INTO person (id, name, roles, user_handle, created_at, created_by) "
             "VALUES (:id, 'Dr X', 'surgeon', :h, '2026-12-01T00:00:00Z', 'test')", {"id": person, "h": person})
    call(services.store.execute, "INSERT INTO device_person (device_id, person_id, credential_id, added_at) "
         "VALUES (:d, :p, 'cred', '2026-12-01T00:00:00Z')", {"d": device.device_id, "p": surgeon})
    call(devices.set_department, services.store, "device", device.device_id, "PLAST")
    assert call(devices.set_department, services.store, "person", surgeon, "ORTHO")

    def ids(person: str | None = None) -> list[str]:
        response = device.http.get(URL, params={"person_id": person} if person else None, headers=device.auth)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["patients"]]

    assert ids() == ["IPP-7101"]  # the phone's department
    assert ids(surgeon) == ["IPP-7102"]  # the person's own department comes first
    assert audit("patient.today")[-1]["detail"] == {"department": "ORTHO", "count": 1, "person": surgeon}
    # someone never added to this phone gets nothing, and it is audited
    refused = device.http.get(URL, params={"person_id": stranger}, headers=device.auth)
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "person_not_found")
    assert audit("patient.today")[-1]["outcome"] != "0"
    bad = device.http.get(URL, params={"person_id": "not-a-uuid"}, headers=device.auth)
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_id")
