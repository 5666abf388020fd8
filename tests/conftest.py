from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from starlette.testclient import TestClient

from sync_server.app import create_app
from sync_server.auth.devices import create_enrollment_code
from sync_server.settings import Settings
from tests.support.client import SyncClient
from tests.support.photos import make_jpeg, manifest, seal, sequence_form
from tests.support.postgres import PostgresCluster, postgres_bin


@pytest.fixture(autouse=True)
def audit_actions_declared() -> Iterator[None]:
    """Every audit entry a request wrote has an action its route declares (sync_server/routes.py)."""
    from sync_server.declare import undeclared_actions

    undeclared_actions.clear()
    yield
    found = sorted(set(undeclared_actions))
    undeclared_actions.clear()
    assert not found, f"audit actions written by routes that do not declare them (sync_server/routes.py): {found}"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresCluster]:
    if postgres_bin() is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must test PostgreSQL: make test installs it (scripts/test-deps.sh)")
        pytest.skip("PostgreSQL is not installed here")
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def database_url() -> str | None:
    """SQLite by default; modules that must hold on both backends override this with params."""
    return None


@pytest.fixture
def pg_database_url(pg_cluster: PostgresCluster) -> str:
    return pg_cluster.create_database("t" + uuid.uuid4().hex[:12])


def both_backends(request: pytest.FixtureRequest) -> str | None:
    return request.getfixturevalue("pg_database_url") if request.param == "postgresql" else None


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", pwa_dir=tmp_path / "no-pwa", max_pixels=40_000_000,
                    max_blob_bytes=8 * 1024 * 1024, max_json_bytes=256 * 1024, database_url=database_url)


@pytest.fixture
def http(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8000") as client:
        yield client


@pytest.fixture
def services(http: TestClient) -> Any:
    return http.app.state.services  # type: ignore[attr-defined]


@pytest.fixture
def call(http: TestClient) -> Callable[..., Any]:
    """Run an async function on the app's event loop (e.g. to read the database)."""
    return lambda fn, *args, **kwargs: http.portal.call(lambda: fn(*args, **kwargs))  # type: ignore[union-attr]


@pytest.fixture
def new_code(services: Any, call: Callable[..., Any]) -> Callable[..., str]:
    def make(label: str = "test phone", ttl: int = 900) -> str:
        code, _ = call(create_enrollment_code, services.store, label, ttl)
        return code
    return make


@pytest.fixture
def device(http: TestClient, new_code: Callable[..., str]) -> SyncClient:
    client = SyncClient(http)
    assert client.enroll(new_code()).status_code == 201
    return client


class Batch:
    """A ready-made batch of real sealed JPEGs for one sequence."""

    def __init__(self, device: SyncClient, count: int = 2, patient_id: str = "IPP-0042", **kwargs: Any) -> None:
        public, kid = device.seal_key()
        self.sequence_id = str(uuid.uuid4())
        self.photos = [seal(make_jpeg(320, 240, seed=i), public, kid, self.sequence_id) for i in range(count)]
        self.form = sequence_form(self.sequence_id, patient_id)
        self.manifest = manifest(device.device_id or "", [self.form], self.photos, seal_key=(public, kid), **kwargs)
        self.batch_id = self.manifest["batch_id"]


@pytest.fixture
def batch_of(device: SyncClient) -> Callable[..., Batch]:
    return lambda count=2, **kw: Batch(device, count, **kw)
