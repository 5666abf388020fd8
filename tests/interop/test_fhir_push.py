"""Photos pushed to an EMR's FHIR endpoint as transaction Bundles through the outbox, retried while it is down.

The EMR here is a minimal FHIR endpoint in the test (no FHIR server is packaged for this machine):
it records each request and answers like a FHIR server; the bundles it receives are validated with
fhir.resources.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest
from fhir.resources.bundle import Bundle as BundleR5
from fhir.resources.R4B.bundle import Bundle

from tests.interop.conftest import ack_codes, adt, send_mllp, sync
from tests.support.patients import rows as opened_rows
from tests.support.waiting import wait_for
from tests.support.server import free_port

MLLP_PORT = free_port()
SUBJECT = "Patient?identifier=urn:clinphoto:patient-id|{}"


class Emr:
    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.up = True
        emr = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not emr.up:
                    self.send_response(503)
                    self.end_headers()
                    return
                emr.received.append({"auth": self.headers.get("Authorization"), "type": self.headers["Content-Type"],
                                     "bundle": json.loads(body)})
                reply = json.dumps({"resourceType": "Bundle", "type": "transaction-response",
                                    "entry": [{"response": {"status": "201 Created"}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/fhir"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def emr() -> Iterator[Emr]:
    server = Emr()
    yield server
    server.server.shutdown()


@pytest.fixture
def fhir_r5() -> bool:
    return False


@pytest.fixture
def interop_settings(emr: Emr, fhir_r5: bool) -> dict[str, Any]:
    return {"fhir_push_url": emr.url, "fhir_push_token": "emr-token", "outbox_retry_seconds": 1,
            "outbox_retry_max_seconds": 1, "fhir_r5": fhir_r5, "hl7_mllp_port": MLLP_PORT}


def _sent(call: Any, services: Any) -> int:
    return call(services.store.fetch_val,
                "SELECT COUNT(*) FROM interop_outbox WHERE target = 'fhir' AND state = 'sent'")


def test_photos_are_pushed_as_transaction_bundles_and_retried_until_the_emr_is_back(emr, index, device, batch_of,
                                                                                   call, services):
    emr.up = False
    batch = batch_of(2)
    sync(device, batch)
    wait_for(lambda: call(services.store.fetch_val,
                          "SELECT COUNT(*) FROM interop_outbox WHERE target = 'fhir' AND attempts >= 1") == 2,
             what="failed pushes while the EMR is down")
    emr.up = True
    wait_for(lambda: call(services.store.fetch_val,
                          "SELECT COUNT(*) FROM interop_outbox WHERE target = 'fhir' AND state = 'sent'") == 2,
             what="pushes after the EMR is back")
    assert len(emr.received) == 2
    for request in emr.received:
        assert request["auth"] == "Bearer emr-token" and request["type"] == "application/fhir+json"
        bundle = Bundle.model_validate(request["bundle"])
        entry = bundle.entry[0]
        assert bundle.type == "transaction" and entry.request.method == "PUT"
        assert entry.request.url == f"Media/{entry.resource.id}"
        assert entry.resource.subject.reference == "Patient?identifier=urn:clinphoto:patient-id|IPP-0042"
    assert sorted(r["bundle"]["entry"][0]["resource"]["id"] for r in emr.received) == \
        sorted(p.photo_id for p in batch.photos)
    failures = opened_rows(call, services.store,
                    "SELECT patient_id FROM audit_entry WHERE action = 'interop.fhir.store' AND outcome = '8'")
    assert failures and {f["patient_id"] for f in failures} == {"IPP-0042"}


def test_after_an_a40_merge_the_emr_receives_the_same_resources_with_the_new_subject(emr, index, device, batch_of,
                                                                                    call, services):
    batch = batch_of(2)
    sync(device, batch)
    wait_for(lambda: _sent(call, services) == 2, what="first pushes")
    assert ack_codes(send_mllp(MLLP_PORT, adt("A40", "IPP-0077^^^HOSP^PI", name="Martin^Paul",
                                              mrg="IPP-0042^^^HOSP^PI"))) == ["AA"]
    wait_for(lambda: len(emr.received) == 4 and _sent(call, services) == 2, what="pushes under the survivor")
    first, again = emr.received[:2], emr.received[2:]
    ids = sorted(p.photo_id for p in batch.photos)
    for pushed, patient in ((first, "IPP-0042"), (again, "IPP-0077")):
        bundles = [Bundle.model_validate(r["bundle"]) for r in pushed]
        assert sorted(b.entry[0].resource.id for b in bundles) == ids  # PUT Media/<id>: replaced, not duplicated
        assert {b.entry[0].request.url for b in bundles} == {f"Media/{i}" for i in ids}
        assert {b.entry[0].resource.subject.reference for b in bundles} == {SUBJECT.format(patient)}


@pytest.mark.parametrize("fhir_r5", [True])
def test_with_r5_on_each_photo_is_pushed_as_a_document_reference(emr, index, device, batch_of, call, services,
                                                                 fhir_r5):
    batch = batch_of(1)
    sync(device, batch)
    wait_for(lambda: _sent(call, services) == 1, what="R5 push")
    bundle = BundleR5.model_validate(emr.received[0]["bundle"])
    entry = bundle.entry[0]
    assert bundle.type == "transaction" and entry.request.method == "PUT"
    assert entry.request.url == f"DocumentReference/{batch.photos[0].photo_id}"
    assert entry.resource.__resource_type__ == "DocumentReference" and entry.resource.docStatus == "final"
    assert entry.resource.subject.reference == SUBJECT.format("IPP-0042")
    assert entry.resource.content[0].attachment.contentType == "image/jpeg"
    assert isinstance(emr.received[0]["bundle"]["entry"][0]["resource"]["content"][0]["attachment"]["size"], str)
