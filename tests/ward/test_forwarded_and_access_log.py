"""X-Forwarded-* believed from trusted proxies only; one access log line per request, no patient data."""
from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid
from typing import Any

import httpx
import pytest

from sync_server.listener.forwarded import TrustedProxies
from sync_server.settings import parse_networks
from tests.support.client import SyncClient
from tests.support.server import ServerProcess
from tests.ward.conftest import log_lines, until

PATIENT = "IPP-4711-0042"


def _through(proxies: str, client: str, headers: dict[str, str]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scope)

    scope = {"type": "http", "client": (client, 5000), "scheme": "http",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(TrustedProxies(app, parse_networks(proxies))(scope, None, None))  # type: ignore[arg-type]
    return seen


FORWARDED = {"Host": "10.0.0.2:8000", "X-Forwarded-For": "203.0.113.50, 198.51.100.7, 10.0.0.9",
             "X-Forwarded-Proto": "https", "X-Forwarded-Host": "photo.hospital.local"}


def test_a_trusted_proxy_gives_the_nearest_untrusted_client_its_scheme_and_host():
    seen = _through("10.0.0.0/24", "10.0.0.5", FORWARDED)
    assert seen["client"] == ("198.51.100.7", 0)  # 203.0.113.50 was written by the client itself: not believed
    assert seen["scheme"] == "https"
    assert dict(seen["headers"])[b"host"] == b"photo.hospital.local"
    assert not any(name.startswith(b"x-forwarded") for name, _ in seen["headers"])


def test_forwarded_headers_from_anyone_else_are_dropped():
    seen = _through("10.0.0.0/24", "192.0.2.66", FORWARDED)
    assert seen["client"] == ("192.0.2.66", 5000) and seen["scheme"] == "http"
    assert dict(seen["headers"])[b"host"] == b"10.0.0.2:8000"
    assert not any(name.startswith(b"x-forwarded") for name, _ in seen["headers"])


def test_without_proxies_configured_nobody_is_believed():
    seen = _through("", "127.0.0.1", FORWARDED)
    assert seen["client"] == ("127.0.0.1", 5000) and seen["scheme"] == "http"


def _audited_addresses(server: ServerProcess, action_like: str) -> list[str]:
    with sqlite3.connect(server.data_dir / "clinphoto.db") as db:
        return [row[0] for row in db.execute(
            "SELECT address FROM audit_entry WHERE action LIKE ? ORDER BY seq", (action_like,))]


def _json_lines(server: ServerProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log_lines(server) if line.startswith("{")]


@pytest.mark.parametrize("allowed, client", [("127.0.0.1", "198.51.100.7"), ("10.9.9.9", "127.0.0.1")])
def test_behind_a_proxy_the_server_listens_plain_http_and_believes_only_the_allowed_one(tmp_path, allowed, client):
    server = ServerProcess(tmp_path / "data", CLINPHOTO_PUBLIC_URL="https://photo.hospital.local",
                           CLINPHOTO_FORWARDED_ALLOW_IPS=allowed, CLINPHOTO_ACCESS_LOG="json")
    server.start()  # plain HTTP on the given port: the proxy terminates TLS
    try:
        headers = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
        assert httpx.get(server.url + "/api/v1/devices/me", headers=headers).status_code == 401
        line = until(lambda: [l for l in _json_lines(server) if l["route"] == "/api/v1/devices/me"], what="log")[0]
        addresses = until(lambda: _audited_addresses(server, "%"), what="audit entry")
    finally:
        server.stop()
    assert line["client"] == client and line["scheme"] == ("https" if client != "127.0.0.1" else "http")
    assert addresses[-1] == client
    assert "Behind the hospital's TLS proxy" in server.log.read_text()


@pytest.mark.parametrize("format", ["text", "json"])
def test_one_access_line_per_request_with_route_template_and_device_never_the_path(tmp_path, format):
    server = ServerProcess(tmp_path / "data", CLINPHOTO_ACCESS_LOG=format)
    server.start()
    try:
        with httpx.Client(base_url=server.url) as http:
            client = SyncClient(http)
            assert client.enroll(server.enrollment_code()).status_code == 201
            batch = str(uuid.uuid4())
            response = http.get(f"/api/v1/batches/{batch}", params={"patient_id": PATIENT}, headers=client.auth)
            assert response.status_code == 404
            until(lambda: any("/api/v1/batches/{batch_id}" in l for l in log_lines(server)), what="access line")
    finally:
        server.stop()
    text = server.log.read_text()
    assert batch not in text and PATIENT not in text and "patient_id" not in text
    lines = [l for l in log_lines(server) if "/api/v1/batches/{batch_id}" in l]
    assert len(lines) == 1
    who = f"device:{client.device_id}"
    if format == "json":
        entry = json.loads(lines[0])
        assert {k: entry[k] for k in ("method", "route", "status", "who", "client", "scheme")} == {
            "method": "GET", "route": "/api/v1/batches/{batch_id}", "status": 404, "who": who,
            "client": "127.0.0.1", "scheme": "http"}
        assert isinstance(entry["duration_ms"], float) and entry["time"].endswith("Z")
    else:
        assert re.fullmatch(r"\S+Z 127\.0\.0\.1 GET /api/v1/batches/\{batch_id\} 404 \d+\.\dms " + re.escape(who),
                            lines[0])
    assert "uvicorn.access" not in text and '"GET /' not in text  # uvicorn's own access log is off


def test_the_access_log_can_be_turned_off(tmp_path):
    server = ServerProcess(tmp_path / "data", CLINPHOTO_ACCESS_LOG="off")
    server.start()
    try:
        assert httpx.get(server.url + "/api/v1/keys").status_code == 200
    finally:
        server.stop()
    assert "/api/v1/keys" not in server.log.read_text()
