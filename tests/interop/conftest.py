from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable, Iterator

import hl7
import pytest
from fhir.resources.operationoutcome import OperationOutcome as OperationOutcomeR5
from fhir.resources.R4B.operationoutcome import OperationOutcome
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from sync_server.interop.patients import import_csv
from sync_server.settings import Settings
from tests.interop.orthanc import Orthanc, dicomweb_plugin, orthanc_binary
from tests.people.conftest import admin, audit, person  # noqa: F401  (people signed in with passkeys)

PATIENTS_CSV = "id,family,given,birth_date,sex\nIPP-0042,Dupont,Zoé,1980-01-02,F\nIPP-0077,Martin,Paul,1975-05-06,M\n"
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    if orthanc_binary() is None or dicomweb_plugin() is None:
        pytest.fail("Orthanc and its DICOMweb plugin are needed (Debian: orthanc orthanc-dicomweb; make test installs them)")
    server = Orthanc(tmp_path / "orthanc")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def interop_settings(tmp_path: Path) -> dict[str, Any]:
    return {"interop_admin_token": "admin-token", "fhir_token": "fhir-token", "outbox_retry_seconds": 1,
            "outbox_retry_max_seconds": 2}


@pytest.fixture
def settings(tmp_path: Path, interop_settings: dict[str, Any], database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", pwa_dir=tmp_path / "no-pwa", max_pixels=40_000_000,
                    max_blob_bytes=8 * 1024 * 1024, max_json_bytes=256 * 1024, database_url=database_url,
                    **interop_settings)


@pytest.fixture
def index(services: Any, call: Callable[..., Any]) -> None:
    call(import_csv, services.store, PATIENTS_CSV)


def sync(device: Any, batch: Any) -> None:
    assert device.propose(batch.manifest).status_code in (200, 201)
    for photo in batch.photos:
        assert device.upload(batch.batch_id, photo.photo_id, photo.sealed).status_code == 204
    assert device.commit(batch.batch_id).status_code == 200


def adt(trigger: str, pid3: str, name: str = "Dupont^Zoé", birth: str = "19800102", sex: str = "F",
        mrg: str | None = None, control: str = "MSG0001") -> str:
    """An HL7 v2.5 ADT message as a hospital's interface engine sends it."""
    structure = {"A40": "ADT_A39", "A29": "ADT_A21"}.get(trigger, "ADT_A01")
    segments = [f"MSH|^~\\&|HIS|HOSP|CLINPHOTO|HOSP|20261127100000||ADT^{trigger}^{structure}|{control}|P|2.5",
                f"EVN|{trigger}|20261127100000",
                f"PID|1||{pid3}||{name}||{birth}|{sex}"]
    if mrg:
        segments.append(f"MRG|{mrg}")
    return "\r".join(segments)


def valid_ack(raw: bytes, encoding: str = "utf-8") -> hl7.Message:
    """An ACK checked by hl7apy against the HL7 v2.5 ACK structure (strict), parsed for the assertions."""
    text = raw.decode(encoding)
    parse_message(text.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT, find_groups=True).validate()
    return hl7.parse(text)


def send_frames(port: int, *frames: bytes, encoding: str = "utf-8") -> list[hl7.Message]:
    """Send MLLP frames (payload bytes) on one connection; returns each validated ACK, in order."""
    async def run() -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies = []
        try:
            for frame in frames:
                writer.write(b"\x0b" + frame + b"\x1c\x0d")
                await writer.drain()
                block = await asyncio.wait_for(reader.readuntil(b"\x1c\x0d"), 10)
                assert block[:1] == b"\x0b"
                replies.append(block[1:-2])
        finally:
            writer.close()
        return replies
    return [valid_ack(r, encoding) for r in asyncio.run(run())]


def send_mllp(port: int, *messages: str) -> list[hl7.Message]:
    """Send messages over MLLP, UTF-8 encoded; returns the ACKs (each validated by hl7apy)."""
    return send_frames(port, *(m.encode("utf-8") for m in messages))


def ack_codes(acks: list[hl7.Message]) -> list[str]:
    return [str(a.segment("MSA")[1]) for a in acks]


def error_code(response: Any) -> str:
    """The stable error code of an answer: from the OperationOutcome on FHIR routes (validated by the
    FHIR models), from ``{"error": {"code"}}`` elsewhere."""
    body = response.json()
    if response.url.path.startswith("/fhir/"):
        assert response.headers["content-type"].startswith("application/fhir+json")
        model = OperationOutcomeR5 if response.url.path.startswith("/fhir/r5") else OperationOutcome
        outcome = model.model_validate(body)
        [issue] = outcome.issue
        [coding] = issue.details.coding
        assert coding.system == "urn:clinphoto:error"
        return str(coding.code)
    return body["error"]["code"]
