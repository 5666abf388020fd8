from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from sync_server.interop.patients import import_csv
from sync_server.settings import Settings
from tests.interop.orthanc import Orthanc, dicomweb_plugin, orthanc_binary

PATIENTS_CSV = "id,family,given,birth_date,sex\nIPP-0042,Dupont,Zoé,1980-01-02,F\nIPP-0077,Martin,Paul,1975-05-06,M\n"
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[Orthanc]:
    if orthanc_binary() is None or dicomweb_plugin() is None:
        pytest.fail("Orthanc and its DICOMweb plugin are needed (Debian: orthanc orthanc-dicomweb; .ci/run installs them)")
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
