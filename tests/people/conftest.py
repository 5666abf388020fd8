"""People in tests: software passkeys, registered through the real endpoints, each with their own session."""
from __future__ import annotations

from typing import Any, Callable

import pytest
from starlette.testclient import TestClient

from sync_server.audit.log import open_entry
from sync_server.auth import people
from tests.conftest import both_backends
from tests.people.authenticator import SoftAuthenticator

ORIGIN = "http://127.0.0.1:8000"  # the TestClient's base URL, the default public URL


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Every test here that touches the database runs on SQLite and on a real PostgreSQL."""
    return both_backends(request)


class Person:
    """One signed-in person: their passkey, session cookie and CSRF token; requests carry them explicitly."""

    def __init__(self, http: TestClient, authn: SoftAuthenticator, body: dict[str, Any], cookie: str) -> None:
        self.http = http
        self.authn = authn
        self.id = body["person"]["id"]
        self.roles = body["person"]["roles"]
        self.csrf = body["csrf_token"]
        self.cookie = cookie

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Cookie": f"clinphoto_session={self.cookie}", "Origin": ORIGIN, "X-CSRF-Token": self.csrf, **extra}

    def get(self, path: str, **kw: Any) -> Any:
        return self.http.get(path, headers=self.headers(**kw.pop("headers", {})), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.http.post(path, headers=self.headers(**kw.pop("headers", {})), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.http.delete(path, headers=self.headers(**kw.pop("headers", {})), **kw)


def _cookie_of(http: TestClient, response: Any) -> str:
    cookie = response.cookies.get("clinphoto_session")
    http.cookies.clear()  # every Person sends its own cookie; the shared jar must hold none
    return cookie


def register(http: TestClient, link: str, authn: SoftAuthenticator | None = None, **forge: Any) -> Any:
    """Open a registration link with a software passkey; returns the finish response."""
    authn = authn or SoftAuthenticator()
    begin = http.post("/api/v1/auth/register/begin", json={"token": link.rsplit("/", 1)[-1]}, headers={"Origin": ORIGIN})
    assert begin.status_code == 200, begin.text
    body = begin.json()
    credential = authn.create(body["options"], **forge)
    finish = http.post("/api/v1/auth/register/finish", headers={"Origin": ORIGIN},
                       json={"challenge_id": body["challenge_id"], "credential": credential, "label": "test passkey"})
    finish.authn = authn  # type: ignore[attr-defined]
    return finish


def signin(http: TestClient, authn: SoftAuthenticator, **forge: Any) -> Any:
    begin = http.post("/api/v1/auth/signin/begin", json={}, headers={"Origin": ORIGIN})
    assert begin.status_code == 200, begin.text
    body = begin.json()
    assert body["options"]["userVerification"] == "required"
    credential = authn.get(body["options"], **forge)
    response = http.post("/api/v1/auth/signin/finish", headers={"Origin": ORIGIN},
                         json={"challenge_id": body["challenge_id"], "credential": credential})
    response.sent = {"challenge_id": body["challenge_id"], "credential": credential}  # type: ignore[attr-defined]
    return response


def as_person(http: TestClient, response: Any) -> Person:
    assert response.status_code in (200, 201), response.text
    return Person(http, response.authn, response.json(), _cookie_of(http, response))  # type: ignore[attr-defined]


@pytest.fixture
def admin(http: TestClient, services: Any, call: Callable[..., Any]) -> Person:
    link, _ = call(people.first_admin_link, services.store, services.settings)
    return as_person(http, register(http, link))


@pytest.fixture
def person(http: TestClient, admin: Person) -> Callable[..., Person]:
    """Invite a person with these roles through the admin API and register their passkey."""
    def make(*roles: str, name: str = "Dr Test") -> Person:
        invited = admin.post("/api/v1/admin/people", json={"name": name, "roles": list(roles)})
        assert invited.status_code == 201, invited.text
        return as_person(http, register(http, invited.json()["registration_url"]))
    return make


@pytest.fixture
def audit(services: Any, call: Callable[..., Any]) -> Callable[..., list[dict[str, Any]]]:
    """Audit entries with this action (newest last), details parsed."""
    def entries(action: str) -> list[dict[str, Any]]:
        rows = call(services.store.fetch_all, "SELECT * FROM audit_entry WHERE action = :a ORDER BY seq", {"a": action})
        return [open_entry(r, services.store.fields) for r in rows]  # patients stored sealed, read in clear
    return entries
