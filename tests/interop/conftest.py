from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import hl7
import hl7.mllp
import pytest

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


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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


def send_mllp(port: int, *messages: str) -> list[hl7.Message]:
    """Send messages over MLLP with the hl7 library's standard client; returns the ACKs."""
    async def run() -> list[hl7.Message]:
        reader, writer = await hl7.mllp.open_hl7_connection("127.0.0.1", port, encoding="utf-8")
        acks = []
        try:
            for message in messages:
                writer.writemessage(hl7.parse(message))
                await writer.drain()
                acks.append(await asyncio.wait_for(reader.readmessage(), 10))
        finally:
            writer.close()
        return acks
    return asyncio.run(run())


def ack_codes(acks: list[hl7.Message]) -> list[str]:
    return [str(a.segment("MSA")[1]) for a in acks]
